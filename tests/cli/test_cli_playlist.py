"""``groove-async playlist create NAME FILE`` run for real against the threaded emulator.

Each track exactly once and in input order: through a normal run, a run killed (``kill -9``)
while the service held a committed chunk's answer, a journal that lags what the playlist holds,
someone else's edit, Ctrl-C, and a ``serve`` that commits edits and then loses their answers.
The emulator's state (``server.playlists``) and request log are the proof.
"""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest

from groove_async.testing import FaultPlan, ScriptedResponse, catalog_track_id

from .conftest import (
    INVALID,
    TOKEN,
    UNKNOWN,
    ThreadedEmulator,
    catalog_ids,
    journal_lines,
    read_jsonl,
    run_cli,
    wait_for,
    write_ids,
)
from .conftest import start_cli as start


def catalog_of(playlist_entries: tuple[tuple[str, str], ...]) -> list[str]:
    return [catalog for _, catalog in playlist_entries]


def successes(path: Path) -> int:
    return sum(1 for line in journal_lines(path) if line.get("outcome") == "SUCCEEDED")


def test_each_track_once_in_input_order_with_results_in_input_order(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(250)
    lines = ["# my road trip", *ids[:120], "music.has space", UNKNOWN, ids[5], "", *ids[120:]]
    source = tmp_path / "trip.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"

    done = run_cli(
        "playlist", "create", "Road trip", str(source), "--base-url", emulator.url,
        "--output", str(output), "--published",
    )  # fmt: skip

    assert done.returncode == 1, done.stderr  # an invalid line and an unknown ID
    (playlist,) = emulator.playlists()
    accepted = [*ids[:120], ids[5], *ids[120:]]  # the repeat is kept: a playlist may repeat
    assert playlist.name == "Road trip" and playlist.is_published
    assert catalog_of(playlist.entries) == accepted
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == [line for line in lines[1:] if line]
    entry_ids = iter(entry for entry, _ in playlist.entries)
    for result in results:
        if result["input_id"] == "music.has space":
            assert result["error"]["code"] == "INVALID_INPUT"
            assert result["error"]["message"] == f"line 122 of {source}"
        elif result["input_id"] == UNKNOWN:
            assert (result["outcome"], result["error"]["code"]) == (
                "REJECTED",
                "COLLECTION_INVALID_ID",
            )
        else:
            assert result == {**result, "outcome": "SUCCEEDED", "id": next(entry_ids)}
    # Chunks of 100 valid IDs, one after another, after one create (and its rename).
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert [r.path.rpartition("/")[2] for r in posts] == ["create"] + ["update"] * 4
    assert [r.id_count for r in posts] == [0, 0, 100, 100, 52]
    assert "INVALID_INPUT 1" in done.stdout and "COLLECTION_INVALID_ID 1" in done.stdout
    assert f"playlist {playlist.id} 'Road trip': 3 chunks sent" in done.stdout
    assert f"Created the playlist 'Road trip': {playlist.id}" in done.stderr


def test_a_csv_on_stdin_all_valid_exits_0(emulator: ThreadedEmulator) -> None:
    ids = catalog_ids(30)
    csv = "name,id\n" + "".join(f"Track {n},{track_id.lower()}\n" for n, track_id in enumerate(ids))

    done = run_cli(
        "playlist", "create", "From CSV", "-", "--base-url", emulator.url, "--quiet", stdin=csv
    )

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    (playlist,) = emulator.playlists()
    assert catalog_of(playlist.entries) == ids  # lower-case GUIDs in, the service's form out
    assert not playlist.is_published


@pytest.mark.parametrize(
    ("text", "status"), [("# nothing\n", 0), (f"{INVALID}\nmusic.x y\n", 1)], ids=["empty", "bad"]
)
def test_an_input_without_a_valid_id_makes_no_playlist(
    text: str, status: int, emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "ids.txt"
    source.write_text(text)

    done = run_cli("playlist", "create", "Nothing", str(source), "--base-url", emulator.url)

    assert done.returncode == status, done.stderr
    assert emulator.playlists() == [] and emulator.requests == []
    if status == 0:
        assert "no IDs in" in done.stderr and "nothing was sent" in done.stderr


def test_the_file_may_follow_options(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(3))
    base = ["playlist", "create", "Mixed", "--base-url", emulator.url, "-q"]

    after = run_cli(*base, str(source))
    twice = run_cli(*base, str(source), str(source))
    empty = run_cli(*base, "")

    assert after.returncode == 0, after.stderr
    assert [len(p.entries) for p in emulator.playlists()] == [3]
    assert twice.returncode == 2 and "unrecognized arguments: " in twice.stderr
    assert empty.returncode == 2 and "a file name cannot be empty" in empty.stderr


def test_a_refused_token_is_exit_status_2_and_makes_no_playlist(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(150))
    output = tmp_path / "out.jsonl"
    args = ["playlist", "create", "Nope", str(source), "--base-url", emulator.url]

    done = run_cli(*args, "--output", str(output), token="not-a-known-token")

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith(
        "groove-async playlist create: error: authentication failed: "
    )
    assert {r["outcome"] for r in read_jsonl(output)} == {"NOT_SENT"}
    assert emulator.playlists() == []


def test_a_refused_chunk_is_rejected_with_its_code_and_stops(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(1_150)  # 1,000 entries at most: the 11th chunk is refused
    source = write_ids(tmp_path / "ids.txt", ids)
    output = tmp_path / "out.jsonl"
    args = ["playlist", "create", "Full", str(source), "--base-url", emulator.url]

    done = run_cli(*args, "--output", str(output))

    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "groove-async playlist create: error: stopped: adding to the playlist music.playlist."
    )
    assert "COLLECTION_PLAYLIST_FULL" in done.stderr.splitlines()[-1]
    results = read_jsonl(output)
    assert [r["outcome"] for r in results] == ["SUCCEEDED"] * 1000 + ["REJECTED"] * 100 + [
        "NOT_SENT"
    ] * 50
    assert {r["error"]["code"] for r in results[1000:1100]} == {"COLLECTION_PLAYLIST_FULL"}
    (playlist,) = emulator.playlists()
    assert catalog_of(playlist.entries) == ids[:1000]


def test_a_bad_name_is_one_usage_line(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(3))
    for name in ("", "x" * 257):
        done = run_cli("playlist", "create", name, str(source), "--base-url", emulator.url)

        assert done.returncode == 2
        assert done.stderr.splitlines()[-1].startswith(
            "groove-async playlist create: error: argument NAME: a playlist name is 1 to 256"
        )
    assert emulator.requests == []


def test_kill_9_while_a_chunk_is_committed_but_unanswered_then_resume(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    emulator.add_token("second-run", same_user_as=TOKEN)
    ids = catalog_ids(450)
    inputs = [*ids[:150], INVALID, *ids[150:]]
    source = write_ids(tmp_path / "ids.txt", inputs)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Crash", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    emulator.set_faults(FaultPlan(latency=0.1))
    process = start(args)
    wait_for(lambda: successes(journal) >= 100, process, "the first chunk was not journaled")
    # The next chunk is committed on arrival and its answer held a minute: then kill -9.
    emulator.call(lambda: emulator.server.script(ScriptedResponse(200, apply=True, delay=60)))
    wait_for(lambda: emulator.call(lambda: emulator.server.pending_scripts) == 0, process, "POST")
    process.kill()
    process.communicate(timeout=10)
    (playlist,) = emulator.playlists()
    recorded = successes(journal)
    assert len(playlist.entries) == recorded + 100  # a chunk the journal knows nothing of

    emulator.set_faults(FaultPlan())
    done = run_cli(*args, "--same-user", token="second-run")

    assert done.returncode == 1, done.stderr  # the invalid line
    assert "holds 100 tracks the journal had not recorded yet" in done.stderr
    (playlist,) = emulator.playlists()  # the same playlist, no other
    assert catalog_of(playlist.entries) == ids  # each track once, in order
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == inputs
    assert [r["id"] for r in results if r["id"]] == [entry for entry, _ in playlist.entries]
    second = [r for r in emulator.requests if r.token == "token#2" and r.method == "POST"]
    assert second and all(r.path.endswith("/update") for r in second)
    assert sum(r.id_count for r in second) == len(ids) - recorded - 100


def test_a_journal_lagging_the_playlist_is_completed_without_sending(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(250)
    inputs = [INVALID, *ids[:220], UNKNOWN, *ids[220:]]  # chunks: positions 1-100, 101-200, 201-251
    source = write_ids(tmp_path / "ids.txt", inputs)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Lag", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    first = run_cli(*args)
    assert first.returncode == 1, first.stderr
    before = read_jsonl(output)
    # As if the last chunk's results had not reached the disk when the run died.
    kept = [line for line in journal.read_text().splitlines() if json.loads(line).get("p", 0) < 201]
    journal.write_text("\n".join(kept) + "\n")
    emulator.call(emulator.server.clear_requests)

    done = run_cli(*args)

    assert done.returncode == 1, done.stderr
    assert "holds 50 tracks the journal had not recorded yet" in done.stderr
    assert [r for r in emulator.requests if r.method == "POST"] == []  # nothing sent again
    (playlist,) = emulator.playlists()
    assert catalog_of(playlist.entries) == ids
    after = read_jsonl(output)
    # Everything as the first run said, but the unknown ID: its reason was lost with the chunk.
    unknown = inputs.index(UNKNOWN)
    assert after[:unknown] + after[unknown + 1 :] == before[:unknown] + before[unknown + 1 :]
    assert (after[unknown]["outcome"], after[unknown]["error"]["code"]) == ("REJECTED", "NOT_ADDED")
    positions = sorted(line["p"] for line in journal_lines(journal) if "p" in line)
    assert positions == list(range(len(inputs)))


def add_behind_the_back(url: str, playlist_id: str) -> None:
    """Someone else's edit: a raw update carrying no state token, so it always commits."""
    body = {"Id": playlist_id, "TrackActions": [{"Id": catalog_track_id(9_999), "Action": "Add"}]}
    request = urllib.request.Request(  # noqa: S310 -- a loopback http URL of our own
        url + "/1/content/music/collection/playlists/update",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def test_someone_elses_edit_stops_with_one_line_and_a_resume_sends_nothing(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(500)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Shared", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    # Every edit is carried out a second after it arrives: the import's third chunk goes out a
    # second after its second, while the edit behind its back (sent as soon as the first chunk
    # is journaled) lands before that, whatever the machine's speed. The third chunk is then
    # refused (a stale token) or finds the playlist changed: the conflict is seen every time.
    emulator.set_faults(FaultPlan(p_late=1.0, late_delay=1.0))
    process = start(args)
    wait_for(lambda: successes(journal) >= 100, process, "the first chunk was not journaled")
    (playlist_line,) = [line for line in journal_lines(journal) if line.get("kind")]
    add_behind_the_back(emulator.url, playlist_line["id"])
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith(
        "groove-async playlist create: error: stopped: the playlist "
    )
    assert "was edited by someone else" in errors[0] and "Traceback" not in stderr
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == ids
    added = [r for r in results if r["outcome"] == "SUCCEEDED"]
    assert len(added) >= 100 and results[: len(added)] == added
    assert {r["outcome"] for r in results[len(added) :]} <= {"NOT_SENT", "FAILED"}
    (playlist,) = emulator.playlists()
    ours = [catalog for catalog in catalog_of(playlist.entries) if catalog in set(ids)]
    assert ours == ids[: len(ours)]  # never a track twice, never out of order
    emulator.call(emulator.server.clear_requests)

    emulator.set_faults(FaultPlan())
    again = run_cli(*args)

    assert again.returncode == 1, again.stderr
    assert "someone else edited it; nothing was sent" in again.stderr.splitlines()[-1]
    assert [r for r in emulator.requests if r.method == "POST"] == []


def test_ctrl_c_finishes_the_chunk_in_flight_then_resume_completes(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(500)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Stopped", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    emulator.set_faults(FaultPlan(latency=0.1))
    process = start(args)
    wait_for(lambda: successes(journal) >= 100, process, "the first chunk was not journaled")

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert "Stopping" in stderr and "Traceback" not in stderr
    first = read_jsonl(output)
    assert [r["input_id"] for r in first] == ids
    sent = sum(r["outcome"] == "SUCCEEDED" for r in first)
    assert sent % 100 == 0 and sent == successes(journal) < 500  # whole chunks, all journaled
    assert {r["outcome"] for r in first[sent:]} == {"NOT_SENT"}

    emulator.set_faults(FaultPlan())
    done = run_cli(*args)

    assert done.returncode == 0, done.stderr
    (playlist,) = emulator.playlists()
    assert catalog_of(playlist.entries) == ids


def test_a_journal_of_another_users_playlist_is_refused(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    emulator.add_token("someone-else")
    source = write_ids(tmp_path / "ids.txt", catalog_ids(10))
    args = ["playlist", "create", "Mine", str(source), "--base-url", emulator.url]
    args += ["--journal", str(tmp_path / "pl.journal"), "-q"]
    assert run_cli(*args).returncode == 0

    done = run_cli(*args, token="someone-else")

    assert done.returncode == 2
    line = done.stderr.strip()
    assert line.startswith("groove-async playlist create: error: the journal ") and "\n" not in line
    assert "--same-user" in line
    assert emulator.playlists("someone-else") == []


def test_serve_commits_and_loses_answers_and_each_track_is_still_added_once(
    tmp_path: Path,
) -> None:
    faults = ["lost-500=0.15", "lost-504=0.1", "lost-drop=0.15", "late=0.1"]
    serve = ["serve", "--port", "0", "--seed", "11", "--token", TOKEN, "--late-delay", "0.05"]
    process = start([*serve, *(arg for fault in faults for arg in ("--fault", fault))])
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().removeprefix("Groove emulator listening on ")
        assert url.startswith("http://127.0.0.1:"), process.communicate()
        ids = [*catalog_ids(250), *catalog_ids(20)]  # repeats, in order
        source = write_ids(tmp_path / "ids.txt", ids)

        made = run_cli("playlist", "create", "Lossy", str(source), "--base-url", url, "-q")
        exported = run_cli("export", "--base-url", url, "--playlists", str(tmp_path / "out"))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)

    assert made.returncode == 0, made.stderr
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "Lossy.txt").read_text().splitlines() == ids
