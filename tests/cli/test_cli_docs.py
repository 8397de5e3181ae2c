"""The README's command-line section documents what the parser offers, and its samples are
what the commands print (numbers, times and ports aside)."""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from groove_async.cli.demo import _demo_library
from groove_async.cli.parser import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SUCCEEDED,
    EXIT_OK,
    EXIT_USAGE,
    _build_parser,
)
from groove_async.testing import FaultPlan, catalog_track_id

from .conftest import (
    ROOT,
    TOKEN,
    UNKNOWN,
    ThreadedEmulator,
    cli_command,
    cli_env,
    journal_lines,
    read_jsonl,
    run_cli,
    start_cli,
    wait_for,
    write_ids,
)
from .test_cli_terminal import run_on_a_terminal


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Command line\n")
    end = readme.index("\n## Development\n")
    assert start < end
    return readme[start:end]


def subcommand(name: str) -> argparse.ArgumentParser:
    """The parser of ``name``: a command (``add``) or a command's action (``playlist create``)."""
    chosen = _build_parser()
    for word in name.split():
        action = next(a for a in chosen._actions if isinstance(a, argparse._SubParsersAction))
        chosen = action.choices[word]
    return chosen


@pytest.mark.parametrize("name", ["add", "delete", "playlist create", "export", "demo", "serve"])
def test_every_option_is_documented(name: str) -> None:
    text = section()
    for action in subcommand(name)._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in text or f"[{flag}" in text, f"{name} {flag}"


def test_exit_statuses_are_documented() -> None:
    text = section()
    for status in (EXIT_OK, EXIT_NOT_ALL_SUCCEEDED, EXIT_USAGE, EXIT_INTERRUPTED):
        assert f"| {status} |" in text
    assert "groove-async demo" in text and "groove-async serve" in text
    assert "### `playlist create`" in text and "### `export`" in text


# -- the samples ---------------------------------------------------------------------------------


def sample(marker: str) -> list[str]:
    """The lines of the section's ``text`` block that holds ``marker``."""
    blocks = re.findall(r"```text\n(.*?)\n```", section(), re.DOTALL)
    found = [block.split("\n") for block in blocks if marker in block]
    assert len(found) == 1, marker
    return found[0]


def numbers_masked(line: str) -> str:
    """A line with every number (counts, times, rates, addresses) as N, and spaces collapsed."""
    return " ".join(re.sub(r"\d[\d,.]*", "N", line).split())


def printed(*texts: str) -> set[str]:
    return {numbers_masked(line) for text in texts for line in text.splitlines()}


def assert_sample_printed(lines: list[str], *texts: str) -> None:
    """Every line of a sample, but the commands and the elisions, was printed."""
    shown = printed(*texts)
    for line in lines:
        if not line.startswith("$ ") and line != "...":
            assert numbers_masked(line) in shown, line


def run_masked(line: str) -> str:
    """A line of the demo with its port and timings masked: the rest is reproducible."""
    line = re.sub(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT", line)
    return re.sub(r"in \d+\.\d\d s \([\d,]+ IDs/s\)", "in T s (R IDs/s)", line)


BAR = re.compile(
    r"add: +\d+%\|[\u2588-\u258f ]*\| (\d+)/20000 \[\d\d:\d\d<\d\d:\d\d, [\d.]+ IDs/s\]"
)
COUNTS = re.compile(
    r"  succeeded ([\d,]+) \| rejected ([\d,]+) \| failed 0 \| retries 0 \| throttled 0"
)


def test_the_demo_sample_is_what_the_default_demo_prints() -> None:
    status, stdout, shown = run_on_a_terminal("demo")

    assert status == 0, shown
    during, end = sample("Importing"), sample("Demo OK")
    out = [run_masked(line) for line in stdout.splitlines()]
    assert [run_masked(line) for line in during[:2]] == out[:2]
    assert [run_masked(line) for line in end[2:]] == out[2:]
    # The bar as tqdm draws it in 100 columns, each frame with its counts under it.
    for bar, counts in (during[2:4], end[:2]):
        frame, tally = BAR.fullmatch(bar), COUNTS.fullmatch(counts)
        assert frame is not None and tally is not None and len(bar) <= 100, bar
        assert int(frame[1]) == sum(int(n.replace(",", "")) for n in tally.groups())
    assert end[0].startswith("add: 100%|") and end[1] in shown


def test_the_server_down_sample_is_what_add_prints(refused_url: str, tmp_path: Path) -> None:
    source = write_ids(tmp_path / "library.txt", _demo_library(250, seed=1)[0])

    done = run_cli("add", str(source), "--base-url", refused_url)

    assert done.returncode == 1, done.stderr
    assert_sample_printed(sample("why they failed"), done.stdout)


def test_the_output_sample_is_what_add_writes(refused_url: str, tmp_path: Path) -> None:
    readme = re.search(r"```json\n(.*?)\n```", section(), re.DOTALL)
    assert readme is not None
    succeeded, invalid = (json.loads(line) for line in readme[1].splitlines())
    source = tmp_path / "ids.txt"
    source.write_text(invalid["input_id"] + "\n")

    done = run_cli("add", str(source), "--base-url", refused_url, "--output", "-", "-q")

    (record,) = (json.loads(line) for line in done.stdout.splitlines())
    invalid["error"]["message"] = invalid["error"]["message"].replace("line 1053", "line 1")
    assert record == {**invalid, "error": {**invalid["error"], "message": f"line 1 of {source}"}}
    assert succeeded["outcome"] == "SUCCEEDED" and succeeded["error"] is None


def test_the_ctrl_c_sample_is_what_add_prints(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    write_ids(tmp_path / "library.txt", _demo_library(5_000, seed=7)[0])
    args = ["add", "library.txt", "--journal", "lib.journal", "--output", "lib.jsonl"]
    args += ["--base-url", emulator.url]
    emulator.set_faults(FaultPlan(latency=0.2))
    process = start_cli(args, cwd=tmp_path)
    journal = tmp_path / "lib.journal"
    wait_for(lambda: len(journal_lines(journal)) >= 500, process, "the import did not get going")
    emulator.set_faults(FaultPlan(latency=1.0))  # the rest waits: the stop comes first
    process.send_signal(signal.SIGINT)
    stopped = process.communicate(timeout=30)
    emulator.set_faults(FaultPlan())
    resumed = subprocess.run(  # noqa: S603
        cli_command(*args), capture_output=True, text=True, env=cli_env(TOKEN), cwd=tmp_path
    )
    again = subprocess.run(  # noqa: S603
        cli_command(*args), capture_output=True, text=True, env=cli_env(TOKEN), cwd=tmp_path
    )

    assert (process.returncode, resumed.returncode, again.returncode) == (130, 1, 1)
    assert len(read_jsonl(tmp_path / "lib.jsonl")) == 5_000
    assert_sample_printed(
        sample("Stopping:"), *stopped, resumed.stdout, resumed.stderr, again.stdout, again.stderr
    )


# -- playlist create and export -------------------------------------------------------------


def playlist_ids_masked(text: str) -> str:
    """Playlist IDs (their GUIDs hold letters, which :func:`numbers_masked` keeps) as ID."""
    return re.sub(r"music\.playlist\.[0-9a-f-]{36}", "music.playlist.ID", text)


def trip(tmp_path: Path) -> list[str]:
    """The input of the samples: 250 tracks, an invalid line, an unknown ID, a repeat."""
    ids = [catalog_track_id(n) for n in range(250)]
    lines = ["# a road trip", *ids[:120], "music.has space", UNKNOWN, ids[5], *ids[120:]]
    (tmp_path / "trip.txt").write_text("\n".join(lines) + "\n")
    return ids


def run_in(tmp_path: Path, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- our own interpreter and package
        cli_command(*args), capture_output=True, text=True, env=cli_env(token), cwd=tmp_path
    )


def test_the_playlist_sample_is_what_playlist_create_prints(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    trip(tmp_path)
    args = ["playlist", "create", "Road trip", "trip.txt", "--output", "trip.jsonl"]

    done = run_in(tmp_path, *args, "--base-url", emulator.url)

    assert done.returncode == 1, done.stderr
    lines = [playlist_ids_masked(line) for line in sample("3 chunks sent")]
    assert_sample_printed(lines, playlist_ids_masked(done.stdout + done.stderr))
    assert len(read_jsonl(tmp_path / "trip.jsonl")) == 253


def test_the_playlist_resume_sample_is_what_a_resume_prints(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    trip(tmp_path)
    args = ["playlist", "create", "Road trip", "trip.txt", "--journal", "trip.journal"]
    args += ["--base-url", emulator.url]
    assert run_in(tmp_path, *args).returncode == 1
    journal = tmp_path / "trip.journal"
    # As if killed while the last chunk (positions 201 to 252) was in flight.
    kept = [line for line in journal.read_text().splitlines() if json.loads(line).get("p", 0) < 201]
    journal.write_text("\n".join(kept) + "\n")

    done = run_in(tmp_path, *args)

    assert done.returncode == 1, done.stderr
    assert_sample_printed(sample("had not recorded yet"), done.stdout, done.stderr)


def test_the_export_sample_is_what_export_prints(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = trip(tmp_path)
    assert run_in(tmp_path, "add", "trip.txt", "--base-url", emulator.url, "-q").returncode == 1
    create = ["playlist", "create", "Road trip", "--base-url", emulator.url, "-q"]
    assert run_in(tmp_path, *create, "trip.txt").returncode == 1
    write_ids(tmp_path / "two.txt", ids[:2])
    assert run_in(tmp_path, *create, "two.txt").returncode == 0

    done = run_in(tmp_path, "export", "--output", "library.txt", "--playlists", "lists",
                  "--base-url", emulator.url)  # fmt: skip

    assert done.returncode == 0, done.stderr
    lines = sample("$ cat lists/index.jsonl")
    assert_sample_printed([line for line in lines if not line.startswith("{")], done.stdout)
    shown = [json.loads(line) for line in lines if line.startswith("{")]
    written = read_jsonl(tmp_path / "lists" / "index.jsonl")
    assert [(s["file"], s["name"]) for s in shown] == [(w["file"], w["name"]) for w in written]
    for s, w in zip(shown, written, strict=True):
        assert set(s) == set(w) and w["id"].startswith("music.AQ")
    assert (tmp_path / "library.txt").read_text().splitlines() == ids
