"""Crash and interrupt: ``kill -9`` or Ctrl-C midway, then the same command resumes.

The emulator runs in this process and the CLI in a subprocess, so killing the CLI leaves the
server and its request log intact: the log proves what was sent, and how often, across runs.
Each run uses its own token (same user), so the log tells the runs apart.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from groove_async.cli import main
from groove_async.testing import FaultPlan

from .conftest import (
    INVALID,
    TOKEN,
    ThreadedEmulator,
    catalog_ids,
    journal_lines,
    read_jsonl,
    run_cli,
    start_cli,
    wait_for,
    write_ids,
)

SIZE = 1_200
BATCH = 20
CONCURRENCY = 2


def journal_records(path: Path) -> list[dict[str, object]]:
    """The journal's records; every line must be whole JSON (the header first)."""
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the journal ends with a whole line"
    header, *records = (json.loads(line) for line in lines[:-1])
    assert header["journal"] == "groove-async" and header["action"] == "add"
    return records


def start_slow_import(
    emulator: ThreadedEmulator, tmp_path: Path, token: str
) -> tuple[subprocess.Popen[str], list[str], list[str], Path, Path]:
    """Start an import that takes a few seconds, and wait until it is well under way."""
    ids = catalog_ids(SIZE)
    inputs = [*ids[:500], INVALID, *ids[500:]]
    source = write_ids(tmp_path / "ids.txt", inputs)
    journal, output = tmp_path / "import.journal", tmp_path / "out.jsonl"
    emulator.set_faults(FaultPlan(latency=0.03))
    args = ["add", str(source), "--base-url", emulator.url, "--journal", str(journal)]
    args += ["--output", str(output), "--batch-size", str(BATCH)]
    args += ["--concurrency", str(CONCURRENCY)]
    process = start_cli(args, token)
    wait_for(lambda: len(journal_lines(journal)) > 300, process, "the import did not get going")
    return process, ids, inputs, journal, output


def test_kill_9_midway_then_resume(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    emulator.add_token("second-run", same_user_as=TOKEN)
    process, ids, inputs, journal, output = start_slow_import(emulator, tmp_path, TOKEN)

    process.kill()  # SIGKILL: no handler runs, nothing is flushed
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    finished_before = {r["input_id"] for r in journal_records(journal)}
    assert 250 <= len(finished_before) < SIZE
    with journal.open("ab") as file:  # as if the crash had torn a line in the middle
        file.write(b'{"p": 1100, "input_id": "music.000')

    emulator.set_faults(FaultPlan())
    done = run_cli(
        "add",
        str(tmp_path / "ids.txt"),
        "--base-url",
        emulator.url,
        "--journal",
        str(journal),
        "--output",
        str(output),
        "--batch-size",
        str(BATCH),
        "--concurrency",
        str(CONCURRENCY),
        "--same-user",  # another token of the same user: trust the journal
        token="second-run",
    )

    assert done.returncode == 1, done.stderr  # the one invalid line
    assert "Resuming from" in done.stderr and "torn by a crash" in done.stderr
    # Every input answered exactly once, in input order, and complete.
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == inputs
    assert [r["outcome"] for r in results].count("SUCCEEDED") == SIZE
    assert results[500]["error"]["code"] == "INVALID_INPUT"
    collection = emulator.collection()
    assert all(collection[r["input_id"]] == r["id"] for r in results if r["id"])
    # Nothing finished before the crash was sent again, and nothing was skipped. (Read the
    # first run's log only now: a request in flight at the kill may be logged late.)
    sent_first = Counter(emulator.sent_ids("token#1"))
    sent_second = Counter(emulator.sent_ids("token#2"))
    assert not finished_before & set(sent_second)
    assert set(sent_first) | set(sent_second) == set(ids)
    assert max(sent_first.values()) == max(sent_second.values()) == 1
    # Sent twice: only what was in flight (or answered but not yet journaled) at the kill,
    # at most the client's window of 2 x concurrency batches.
    twice = set(sent_first) & set(sent_second)
    assert twice <= set(sent_first) - finished_before
    assert len(twice) <= 2 * CONCURRENCY * BATCH
    # The journal now holds each position once (the torn line is gone).
    positions = [r["p"] for r in journal_records(journal)]
    assert sorted(positions) == list(range(SIZE + 1))


def test_ctrl_c_stops_cleanly_then_resume(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    emulator.add_token("second-run", same_user_as=TOKEN)
    process, ids, inputs, journal, output = start_slow_import(emulator, tmp_path, TOKEN)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)

    assert process.returncode == 130, stderr
    assert "Stopping" in stderr and "interrupted" in stderr
    assert "Traceback" not in stderr
    # The journal is consistent: whole lines, each position once, finished outcomes only.
    records = journal_records(journal)
    positions = [r["p"] for r in records]
    assert len(positions) == len(set(positions))
    assert {r["outcome"] for r in records} <= {"SUCCEEDED", "REJECTED"}
    # The output still has one line per input, in order: what was not sent says so.
    first = read_jsonl(output)
    assert [r["input_id"] for r in first] == inputs
    outcomes = Counter(r["outcome"] for r in first)
    assert outcomes["NOT_SENT"] > 0 and outcomes["FAILED"] == 0
    assert outcomes["SUCCEEDED"] + outcomes["REJECTED"] == len(records)
    # In-flight batches finished: everything sent was answered and journaled.
    sent_first = Counter(emulator.sent_ids("token#1"))
    assert set(sent_first) == {r["input_id"] for r in records} - {INVALID}

    emulator.set_faults(FaultPlan())
    done = run_cli(
        "add",
        str(tmp_path / "ids.txt"),
        "--base-url",
        emulator.url,
        "--journal",
        str(journal),
        "--output",
        str(output),
        "--batch-size",
        str(BATCH),
        "--same-user",  # another token of the same user: trust the journal
        token="second-run",
    )

    assert done.returncode == 1, done.stderr
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == inputs
    assert [r["outcome"] for r in results].count("SUCCEEDED") == SIZE
    # A graceful stop sends nothing twice, across both runs.
    sent = emulator.sent_ids()
    assert sorted(sent) == sorted(ids)
    assert set(emulator.collection()) == set(ids)


def test_journal_for_another_input_is_refused(
    emulator: ThreadedEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GROOVE_TOKEN", TOKEN)
    journal = tmp_path / "import.journal"
    first = write_ids(tmp_path / "first.txt", catalog_ids(5))
    second = write_ids(tmp_path / "second.txt", catalog_ids(5, start=100))
    base = ["--base-url", emulator.url, "--journal", str(journal), "--quiet"]
    assert main(["add", str(first), *base]) == 0
    before = journal.read_bytes()

    assert main(["add", str(second), *base]) == 2
    other_input = capsys.readouterr().err
    assert main(["delete", str(first), *base]) == 2
    other_action = capsys.readouterr().err
    assert main(["add", str(first), *base[:-3], "--journal", str(second)]) == 2
    not_a_journal = capsys.readouterr().err

    assert "different input" in other_input and str(journal) in other_input
    assert "the action 'add', not 'delete'" in other_action
    assert "not a groove-async journal" in not_a_journal
    assert journal.read_bytes() == before
    assert second.read_text() == "".join(f"{i}\n" for i in catalog_ids(5, start=100))
    assert len(emulator.requests) == 1


def test_second_ctrl_c_abandons_the_batches_in_flight(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    process, ids, inputs, journal, output = start_slow_import(emulator, tmp_path, TOKEN)
    emulator.set_faults(FaultPlan(latency=5.0))  # the next POSTs hang...
    time.sleep(0.2)
    started = time.monotonic()

    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)  # ...and are abandoned instead of awaited
    _, stderr = process.communicate(timeout=20)

    assert process.returncode == 130, stderr
    assert time.monotonic() - started < 4
    assert "Abandoning the batches in flight" in stderr and "Traceback" not in stderr
    first = read_jsonl(output)
    assert [r["input_id"] for r in first] == inputs
    abandoned = [r for r in first if r["outcome"] == "FAILED"]
    assert abandoned and {r["error"]["code"] for r in abandoned} == {"ABANDONED"}
    records = journal_records(journal)  # whole lines, the abandoned ones not among them
    assert not {r["input_id"] for r in abandoned} & {r["input_id"] for r in records}

    emulator.set_faults(FaultPlan())
    done = run_cli(
        "add",
        str(tmp_path / "ids.txt"),
        "--base-url",
        emulator.url,
        "--journal",
        str(journal),
        "--output",
        str(output),
        "--quiet",
    )

    assert done.returncode == 1, done.stderr
    assert [r["outcome"] for r in read_jsonl(output)].count("SUCCEEDED") == SIZE
    assert set(emulator.collection()) == set(ids)


def test_a_second_ctrl_c_fails_only_what_was_sent(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    # Issue 19, break 13: at concurrency 8 the summary said 900 FAILED ("may or may not have
    # been applied") where 800 were in flight; the IDs read but never sent are NOT_SENT.
    ids = catalog_ids(20_000)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "import.journal", tmp_path / "out.jsonl"
    emulator.set_faults(FaultPlan(latency=0.1))
    args = ["add", str(source), "--base-url", emulator.url, "--journal", str(journal)]
    args += ["--output", str(output), "--concurrency", "8", "--batch-size", "100"]
    process = start_cli(args)
    wait_for(lambda: len(journal_lines(journal)) > 1_000, process, "the import did not get going")
    emulator.set_faults(FaultPlan(latency=1.5))  # the next POSTs are held, then applied
    hung = time.monotonic()
    time.sleep(0.4)  # every slot now holds a POST the emulator has received

    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    time.sleep(max(0.0, hung + 2.5 - time.monotonic()))  # the held POSTs are applied by now

    assert process.returncode == 130, stderr
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == ids
    by = {
        o: {r["input_id"] for r in results if r["outcome"] == o}
        for o in ("SUCCEEDED", "FAILED", "NOT_SENT")
    }
    held = set(emulator.collection())
    assert {r["error"]["code"] for r in results if r["outcome"] == "FAILED"} == {"ABANDONED"}
    assert 0 < len(by["FAILED"]) <= 800  # at most the 8 POSTs in flight
    assert held == by["SUCCEEDED"] | by["FAILED"]  # every FAILED ID was sent (and applied)
    assert not by["NOT_SENT"] & held
    (row,) = (line.split() for line in stdout.splitlines() if line.strip().startswith("FAILED"))
    assert row[:3] == ["FAILED", f"{len(held) - len(by['SUCCEEDED']):,}", "ABANDONED"]
