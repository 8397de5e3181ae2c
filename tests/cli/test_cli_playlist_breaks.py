"""``playlist create`` against servers that misbehave at the worst moment (issue 19's breaks 6,
12 and 14, each of which failed before its fix), run for real against the threaded emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path

from groove_async.testing import FaultPlan, ScriptedResponse

from .conftest import ThreadedEmulator, catalog_ids, read_jsonl, run_cli, write_ids
from .test_cli_playlist import catalog_of, journal_lines, start, successes, wait_for

NO_RESULT = ScriptedResponse(
    404, {"Error": {"ErrorCode": "COLLECTION_NO_RESULT", "Description": "No result"}}
)


def playlist_journaled(journal: Path) -> bool:
    return any(line.get("kind") == "playlist" for line in journal_lines(journal))


def test_6_a_refused_read_back_after_a_lost_answer_is_not_a_refusal_of_the_edit(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(250)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Lagging", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    emulator.set_faults(FaultPlan(latency=0.2))  # room to script the first chunk's edit
    process = start(args)
    wait_for(lambda: playlist_journaled(journal), process, "the playlist was not journaled")

    def script() -> None:
        emulator.server.script(ScriptedResponse(500, apply=True))  # applied, its answer lost
        emulator.server.script_reads("playlist_tracks", NO_RESULT)  # a lagging replica, once

    emulator.call(script)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    results = read_jsonl(output)
    assert [r["outcome"] for r in results] == ["SUCCEEDED"] * 250
    assert successes(journal) == 250
    (playlist,) = emulator.playlists()
    assert catalog_of(playlist.entries) == ids
    assert [r["id"] for r in results] == [entry for entry, _ in playlist.entries]
    assert emulator.call(lambda: emulator.server.pending_scripts) == 0


def test_12_an_outage_ends_promptly_with_its_cause_not_as_a_conflict(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(120))
    output = tmp_path / "out.jsonl"
    emulator.set_faults(FaultPlan(p_503=1.0))  # every write 503; reads answer
    started = time.monotonic()

    done = run_cli(
        "playlist", "create", "Down", str(source), "--base-url", emulator.url,
        "--output", str(output), timeout=30,
    )  # fmt: skip

    assert time.monotonic() - started < 20  # not the policy's 60 s timeout
    assert done.returncode == 1, done.stderr
    last = done.stderr.splitlines()[-1]
    assert "could not be created" in last and "HTTP 503" in last and "gave up after" in last
    assert "someone else" not in last and "kept changing" not in last
    assert {r["outcome"] for r in read_jsonl(output)} == {"NOT_SENT"}
    assert emulator.playlists() == []


def test_14_kill_9_between_create_and_journal_then_resume_leaves_one_playlist(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(150)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Crash", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    # The create is committed on arrival and its answer held a minute: kill -9 meanwhile.
    emulator.call(lambda: emulator.server.script(ScriptedResponse(200, apply=True, delay=60)))
    process = start(args)
    wait_for(lambda: emulator.call(lambda: emulator.server.pending_scripts) == 0, process, "POST")
    process.kill()
    process.communicate(timeout=10)
    (orphan,) = emulator.playlists()
    assert orphan.name.startswith("Crash [groove-async ") and not playlist_journaled(journal)

    done = run_cli(*args)

    assert done.returncode == 0, done.stderr
    (playlist,) = emulator.playlists()  # the same playlist, taken over and named
    assert (playlist.id, playlist.name) == (orphan.id, "Crash")
    assert catalog_of(playlist.entries) == ids
    assert [r["outcome"] for r in read_jsonl(output)] == ["SUCCEEDED"] * 150


def test_1_a_resume_takes_no_more_than_one_chunk_in_flight_for_its_own(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(300)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "pl.journal", tmp_path / "out.jsonl"
    args = ["playlist", "create", "Twice", str(source), "--base-url", emulator.url]
    args += ["--journal", str(journal), "--output", str(output)]
    assert run_cli(*args).returncode == 0
    # The journal two chunks behind the playlist: no run of this journal could leave that (each
    # chunk's results are on disk before the next is sent), so the entries are someone else's.
    kept = [line for line in journal.read_text().splitlines() if json.loads(line).get("p", 0) < 100]
    journal.write_text("\n".join(kept) + "\n")
    emulator.call(emulator.server.clear_requests)

    done = run_cli(*args)

    assert done.returncode == 1, done.stderr
    assert "someone else edited it; nothing was sent" in done.stderr.splitlines()[-1]
    assert [r for r in emulator.requests if r.method == "POST"] == []
