"""The README's command-line section documents what the parser offers, and its samples are
what the commands print (numbers, times and ports aside)."""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import time
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
from groove_async.testing import FaultPlan

from .conftest import TOKEN, ThreadedEmulator, cli_command, cli_env, read_jsonl, run_cli, write_ids
from .test_cli_terminal import run_on_a_terminal

ROOT = Path(__file__).resolve().parents[2]


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Command line\n")
    end = readme.index("\n## Development\n")
    assert start < end
    return readme[start:end]


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = _build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen: argparse.ArgumentParser = action.choices[name]
    return chosen


@pytest.mark.parametrize("name", ["add", "delete", "demo", "serve"])
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
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and package
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(TOKEN),
        cwd=tmp_path,
    )
    journal, deadline = tmp_path / "lib.journal", time.monotonic() + 30
    while not journal.exists() or journal.read_bytes().count(b"\n") < 500:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
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
