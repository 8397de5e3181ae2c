"""``groove-async export`` run for real against the threaded emulator, and the round trips:
export from one account, then ``add`` (or ``playlist create``) into another, gives the same
tracks in the same order."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from groove_async import GrooveClient
from groove_async.cli.export_files import _file_names, _safe_stem
from groove_async.testing import FaultPlan

from .conftest import (
    TOKEN,
    ThreadedEmulator,
    catalog_ids,
    read_jsonl,
    run_cli,
    start_cli,
    wait_for,
    write_ids,
)

OTHER = "other-user"


def shuffled(ids: list[str]) -> list[str]:
    mixed = list(ids)
    random.Random(5).shuffle(mixed)
    return mixed


def fill(emulator: ThreadedEmulator, tmp_path: Path, ids: list[str], *extra: str) -> None:
    """Add ``ids`` to the library of ``TOKEN`` through the CLI, in batches of 10."""
    source = write_ids(tmp_path / "fill.txt", ids)
    done = run_cli("add", str(source), "--base-url", emulator.url, "--batch-size", "10", *extra)
    assert done.returncode == 0, done.stderr


def make_playlist(emulator: ThreadedEmulator, name: str, ids: list[str]) -> None:
    """A playlist of ``TOKEN``'s, made with the library (setup, not what is tested here)."""

    async def create() -> None:
        async with GrooveClient(TOKEN, transport=emulator.server.transport()) as groove:
            made = await groove.create_playlist(name, ids)
            assert made.tracks.ok

    emulator.run(create())


def test_the_library_in_the_order_added_to_stdout_or_a_file(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    order = shuffled(catalog_ids(300))
    fill(emulator, tmp_path, order, "--concurrency", "1")
    assert emulator.call(lambda: emulator.server.collection_order(TOKEN)) == order

    to_stdout = run_cli("export", "--base-url", emulator.url)
    to_file = run_cli("export", "--base-url", emulator.url, "--output", str(tmp_path / "lib.txt"))
    as_jsonl = run_cli(
        "export", "--base-url", emulator.url, "--format", "jsonl", "--output", "-", "-q"
    )

    assert (to_stdout.returncode, to_file.returncode, as_jsonl.returncode) == (0, 0, 0)
    assert to_stdout.stdout.splitlines() == order
    assert "groove-async export: 300 tracks to stdout in " in to_stdout.stderr
    assert (tmp_path / "lib.txt").read_text().splitlines() == order
    assert to_file.stdout.startswith(f"groove-async export: 300 tracks to {tmp_path}/lib.txt in ")
    assert "export: 300 tracks and entries read" in to_file.stderr  # the progress, on stderr
    tracks = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    collection = emulator.collection()
    assert [t["catalog_id"] for t in tracks] == order and as_jsonl.stderr == ""
    for track in tracks:
        assert set(track) == {"id", "catalog_id", "name"}
        assert track["id"] == collection[track["catalog_id"]] and track["name"]


def test_a_track_without_a_catalog_id_is_left_out_of_ids_and_kept_in_jsonl(
    tmp_path: Path,
) -> None:
    emulator = ThreadedEmulator(catalog=lambda track_id: True)  # any ID is a track
    try:
        odd = "music.not-a-guid"  # its link names no GUID: no catalog ID can be recovered
        fill(emulator, tmp_path, [odd, *catalog_ids(3)], "--concurrency", "1")

        ids = run_cli("export", "--base-url", emulator.url, "--output", str(tmp_path / "a.txt"))
        jsonl = run_cli("export", "--base-url", emulator.url, "--format", "jsonl", "-q")
    finally:
        emulator.close()

    assert ids.returncode == 1
    assert (tmp_path / "a.txt").read_text().splitlines() == catalog_ids(3)
    assert ids.stderr.splitlines()[-1] == (
        "groove-async export: warning: 1 track left out: no catalog ID in the link "
        "(--format jsonl keeps them, with a null catalog_id)"
    )
    assert jsonl.returncode == 0, jsonl.stderr
    tracks = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [t["catalog_id"] for t in tracks] == [None, *catalog_ids(3)]


def test_playlists_go_to_files_of_safe_unique_names_with_an_index(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(150)
    made = [
        ("Road trip", ids[:120]),
        ("Road trip", [ids[3], ids[3], ids[2]]),  # the same name; repeats
        ("ROAD TRIP", ids[:2]),  # the same file on a case-insensitive system
        ("AC/DC: Best?", ids[5:9]),
        ("CON", ids[:1]),
        ("...", ids[:1]),
        ("index", ids[:1]),
    ]
    for name, tracks in made:
        make_playlist(emulator, name, tracks)
    directory = tmp_path / "lists"

    done = run_cli("export", "--base-url", emulator.url, "--playlists", str(directory))
    jsonl = run_cli(
        "export", "--base-url", emulator.url, "--playlists", str(tmp_path / "j"), "--format",
        "jsonl", "-q",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    # Only the playlists: the library goes nowhere without --output.
    assert (
        done.stdout
        == f"groove-async export: 7 playlists (132 entries) to {directory} in "
        + (done.stdout.rpartition(" in ")[2])
    )
    files = ["Road trip.txt", "Road trip (2).txt", "ROAD TRIP (3).txt", "AC_DC_ Best_.txt"]
    files += ["_CON.txt", "playlist.txt", "index.txt"]
    index = read_jsonl(directory / "index.jsonl")
    stored = list(reversed(emulator.playlists()))  # oldest first
    assert [line["file"] for line in index] == files
    assert sorted(p.name for p in directory.iterdir()) == sorted([*files, "index.jsonl"])
    for line, playlist, (name, tracks) in zip(index, stored, made, strict=True):
        assert line == {
            "file": line["file"],
            "name": name,
            "id": playlist.browse_id,
            "track_count": len(tracks),
            "is_published": False,
        }
        assert (directory / line["file"]).read_text().splitlines() == tracks
    assert jsonl.returncode == 0, jsonl.stderr
    index = read_jsonl(tmp_path / "j" / "index.jsonl")
    assert index[-1]["file"] == "index (2).jsonl"  # never the index itself
    entries = read_jsonl(tmp_path / "j" / "Road trip (2).jsonl")
    assert [e["catalog_id"] for e in entries] == [ids[3], ids[3], ids[2]]
    assert [e["id"] for e in entries] == [entry for entry, _ in stored[1].entries]


def test_export_then_add_with_concurrency_1_copies_the_library_in_order(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    emulator.add_token(OTHER)
    fill(emulator, tmp_path, shuffled(catalog_ids(400)))  # concurrent: in the order committed
    library = tmp_path / "lib.txt"

    exported = run_cli("export", "--base-url", emulator.url, "--output", str(library))
    imported = run_cli(
        "add", str(library), "--base-url", emulator.url, "--concurrency", "1", token=OTHER
    )

    assert exported.returncode == 0 and imported.returncode == 0, imported.stderr
    order = emulator.call(lambda: emulator.server.collection_order(TOKEN))
    assert emulator.call(lambda: emulator.server.collection_order(OTHER)) == order
    assert len(order) == 400


def test_export_playlists_then_playlist_create_copies_each_playlist(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    emulator.add_token(OTHER)
    ids = catalog_ids(300)
    make_playlist(emulator, "Long", [*ids[:250], *ids[:20]])  # 3 chunks, repeats
    make_playlist(emulator, "Long", ids[100:105])
    make_playlist(emulator, "Short/mix", [ids[7], ids[1]])
    directory = tmp_path / "lists"
    assert (
        run_cli("export", "--base-url", emulator.url, "--playlists", str(directory)).returncode == 0
    )

    for line in read_jsonl(directory / "index.jsonl"):  # oldest first: the order to create in
        source = str(directory / line["file"])
        args = ["playlist", "create", line["name"], source, "--base-url", emulator.url, "-q"]
        assert run_cli(*args, token=OTHER).returncode == 0

    def copy_of(token: str) -> list[tuple[str, list[str]]]:
        return [(p.name, [c for _, c in p.entries]) for p in emulator.playlists(token)]

    assert copy_of(OTHER) == copy_of(TOKEN)
    assert [len(tracks) for _, tracks in copy_of(OTHER)] == [2, 5, 270]


def test_a_failed_export_leaves_an_earlier_file_untouched(refused_url: str, tmp_path: Path) -> None:
    library = tmp_path / "lib.txt"
    library.write_text("earlier\n")

    done = run_cli("export", "--base-url", refused_url, "--output", str(library), "-q")

    assert done.returncode == 1
    assert done.stderr.startswith("groove-async export: error: cannot read the library: ")
    assert len(done.stderr.splitlines()) == 1
    assert library.read_text() == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.txt"]  # no .part left


@pytest.mark.parametrize(
    ("make", "args", "says"),
    [
        (lambda p: p.mkdir(), ["--output", "{p}"], "it is a directory"),
        (lambda p: p.write_text(""), ["--playlists", "{p}"], "is not a directory"),
        (lambda p: None, ["--format", "csv"], "argument --format: invalid choice"),
    ],
    ids=["output-directory", "playlists-file", "format"],
)
def test_bad_arguments_are_one_line(
    make: object, args: list[str], says: str, refused_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "x"
    assert callable(make)
    make(path)

    done = run_cli("export", "--base-url", refused_url, *(a.format(p=path) for a in args))

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()[-1:]
    assert line.startswith("groove-async export: error: ") and says in line


def test_a_refused_token_is_exit_status_2(emulator: ThreadedEmulator) -> None:
    done = run_cli("export", "--base-url", emulator.url, token="not-a-known-token")

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith(
        "groove-async export: error: authentication failed: "
    )


def test_sigterm_stops_the_export_and_leaves_no_partial_file(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    fill(emulator, tmp_path, catalog_ids(300))
    emulator.set_faults(FaultPlan(latency=0.2))
    library = tmp_path / "lib.txt"
    process = start_cli(["export", "--base-url", emulator.url, "--output", str(library)])
    reading = lambda: sum(r.method == "GET" for r in emulator.requests) >= 3  # noqa: E731
    wait_for(reading, process, "the export did not start reading the pages")

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)

    assert process.returncode == 143, stderr
    assert stderr.splitlines()[-1] == "groove-async export: stopped by SIGTERM"
    assert not library.exists() and not (tmp_path / "lib.txt.part").exists()


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Road trip", "Road trip"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        ("  tabs\tand\nnewlines  ", "tabs and newlines"),
        (".hidden.", "hidden"),
        ("...", "playlist"),
        ("nul.txt", "_nul.txt"),
        ("Café", "Café"),
        ("é" * 200, "é" * 90),  # 180 bytes of UTF-8
    ],
)
def test_safe_stems(name: str, stem: str) -> None:
    assert _safe_stem(name) == stem


def test_file_names_are_unique_whatever_the_case() -> None:
    names = ["Mix", "mix", "MIX", "Mix (2)", "index"]

    assert _file_names(names, ".jsonl", taken=["lib.jsonl"]) == [
        "Mix.jsonl",
        "mix (2).jsonl",
        "MIX (3).jsonl",
        "Mix (2) (2).jsonl",
        "index (2).jsonl",
    ]


# -- issue 19, break 2: two outputs that collide ---------------------------------------------


@pytest.mark.parametrize(
    ("output", "playlists"),
    [
        ("lists/index.jsonl", "lists"),  # the issue's own command
        ("./lists/../lists/index.jsonl", "lists/"),  # relative spellings of the same path
        ("lists/index.jsonl.part", "lists"),  # the index's temporary file
        ("lists/INDEX.JSONL", "lists"),  # one file where case does not count
        ("to-index", "lists"),  # a symlink to the index
        ("library.txt", "lists"),  # the index is a symlink to the output
    ],
)
def test_an_output_that_collides_with_the_index_is_refused_before_anything_is_written(
    emulator: ThreadedEmulator, tmp_path: Path, output: str, playlists: str
) -> None:
    fill(emulator, tmp_path, catalog_ids(3))
    make_playlist(emulator, "Road trip", catalog_ids(2))
    emulator.server.clear_requests()
    if output == "to-index":
        (tmp_path / "to-index").symlink_to(tmp_path / "lists" / "index.jsonl")
    if output == "library.txt":
        (tmp_path / "lists").mkdir()
        (tmp_path / "library.txt").write_text("earlier\n")
        (tmp_path / "lists" / "index.jsonl").symlink_to(tmp_path / "library.txt")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    done = run_cli(
        "export", "--base-url", emulator.url, "--output", output, "--playlists", playlists,
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("groove-async export: error: --output ") and "index" in line
    assert emulator.requests == []
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_the_playlists_files_keep_clear_of_the_output_inside_their_directory(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(5)
    fill(emulator, tmp_path, ids)
    for name in ("Road trip", "Mix", "Linked"):
        make_playlist(emulator, name, ids[:2])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "Linked.txt").symlink_to(tmp_path / "library.txt")  # a link to --output
    cases = [  # --output, --playlists, the playlist whose file would have been the output
        ("a/Road trip.txt", "a", "Road trip"),
        ("b/Mix.txt.part", "b", "Mix"),  # the .part of Mix.txt
        ("library.txt", "c", "Linked"),
    ]

    for output, lists, name in cases:
        done = run_cli(
            "export", "--base-url", emulator.url, "--output", output, "--playlists", lists,
            cwd=tmp_path,
        )  # fmt: skip

        assert done.returncode == 0, done.stderr
        assert (tmp_path / output).read_text().splitlines() == ids  # the library, kept
        files = {
            line["name"]: line["file"] for line in read_jsonl(tmp_path / lists / "index.jsonl")
        }
        assert files[name] == f"{name} (2).txt"
        assert (tmp_path / lists / files[name]).read_text().splitlines() == ids[:2]
    assert (tmp_path / "c" / "Linked.txt").is_symlink()
