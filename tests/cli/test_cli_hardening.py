"""Hostile-review breaks of ``add`` / ``delete``: special outputs, failed writes, overlapping
paths, huge lines, and journals resumed under another token.

Every output target here is made in ``tmp_path`` (a FIFO, a pty, symlinks to devices): nothing
outside it can be replaced, even by a CLI that wrongly renames over its ``--output``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import tracemalloc
import tty
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from groove_async.cli import main
from groove_async.cli.inputs import _MAX_LINE, _FileSource, _Inputs, _LongLine, _scan, _Splitter
from groove_async.testing import FaultPlan

from .conftest import (
    ROOT,
    TOKEN,
    ThreadedEmulator,
    catalog_ids,
    cli_command,
    cli_env,
    read_jsonl,
    run_cli,
    write_ids,
)

OTHER_USER = "other-user-token"


def journal_lines(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *records = (json.loads(line) for line in path.read_bytes().splitlines())
    return header, records


# -- 13: --output into a pipe, a device, a symlink -------------------------------------------


def test_output_into_a_fifo_is_written_directly(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    ids = catalog_ids(150)
    source = write_ids(tmp_path / "ids.txt", ids)
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    copy = "import shutil, sys; shutil.copyfileobj(open(sys.argv[1], 'rb'), sys.stdout.buffer)"
    reader = subprocess.Popen(  # noqa: S603 -- our own interpreter
        [sys.executable, "-c", copy, str(fifo)], stdout=subprocess.PIPE
    )
    try:
        done = run_cli("add", str(source), "--base-url", emulator.url, "--output", str(fifo))

        assert done.returncode == 0, done.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
        received, _ = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.communicate()

    assert [json.loads(line)["input_id"] for line in received.splitlines()] == ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "results.fifo"]


def test_output_into_a_character_device_is_written_directly(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(120)
    source = write_ids(tmp_path / "ids.txt", ids)
    master, slave = os.openpty()  # the slave end is a character device: /dev/pts/N
    tty.setraw(slave)  # no "\n" -> "\r\n"
    device = os.ttyname(slave)
    received = bytearray()

    def read() -> None:
        while received.count(b"\n") < len(ids):
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # every slave closed
                return
            if not data:
                return
            received.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = run_cli("add", str(source), "--base-url", emulator.url, "--output", device)
        if done.returncode == 0:
            reader.join(timeout=30)
        assert stat.S_ISCHR(os.stat(device).st_mode)
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)

    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["input_id"] for line in bytes(received).splitlines()] == ids


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(120)
    source = write_ids(tmp_path / "ids.txt", ids)
    store = tmp_path / "store"
    store.mkdir()
    target = store / "results.jsonl"
    target.write_text("an earlier run\n", encoding="utf-8")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)

    done = run_cli("add", str(source), "--base-url", emulator.url, "--output", str(link))

    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert [r["input_id"] for r in read_jsonl(target)] == ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "latest.jsonl", "store"]
    assert [p.name for p in store.iterdir()] == ["results.jsonl"]  # no .part left behind


def test_output_into_a_directory_is_refused_before_any_request(
    emulator: ThreadedEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GROOVE_TOKEN", TOKEN)
    source = write_ids(tmp_path / "ids.txt", catalog_ids(3))
    target = tmp_path / "results"
    target.mkdir()

    status = main(["add", str(source), "--base-url", emulator.url, "--output", str(target)])

    assert status == 2
    assert capsys.readouterr().err == (
        f"groove-async add: error: cannot write {target}: it is a directory\n"
    )
    assert emulator.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "results"]


# -- 14: a failed output write ---------------------------------------------------------------


def test_a_full_output_device_stops_the_import_and_the_journal_holds_what_was_sent(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(2_000)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal = tmp_path / "import.journal"
    full = tmp_path / "out.jsonl"
    full.symlink_to("/dev/full")  # every write fails with ENOSPC
    emulator.set_faults(FaultPlan(latency=0.01))
    args = ["add", str(source), "--base-url", emulator.url, "--journal", str(journal)]
    args += ["--batch-size", "20", "--concurrency", "2"]

    done = run_cli(*args, "--output", str(full), "--quiet")

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"groove-async add: error: cannot write the output {full}, the import was stopped: "
        "No space left on device"
    ]
    assert full.is_symlink() and stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "import.journal", "out.jsonl"]
    # The import stopped early, and what was sent is exactly what the journal holds: the
    # batches in flight at the failure were answered and journaled, not dropped.
    _, records = journal_lines(journal)
    positions = [r["p"] for r in records]
    assert len(positions) == len(set(positions))
    assert {r["outcome"] for r in records} == {"SUCCEEDED"}
    sent = emulator.sent_ids()
    assert len(sent) < len(ids) // 2
    assert sorted(sent) == sorted(r["input_id"] for r in records)

    emulator.set_faults(FaultPlan())
    output = tmp_path / "results.jsonl"
    again = run_cli(*args, "--output", str(output), "--quiet")

    assert again.returncode == 0, again.stderr
    assert [r["input_id"] for r in read_jsonl(output)] == ids
    assert sorted(emulator.sent_ids()) == sorted(ids)  # each ID sent once, across both runs
    assert set(emulator.collection()) == set(ids)


def test_an_output_write_error_keeps_the_earlier_file(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(400))
    output = tmp_path / "out.jsonl"
    earlier = b'{"an": "earlier, good result"}\n'
    output.write_bytes(earlier)
    limit = 16 * 1024  # no file may grow past 16 KiB: the output's writes fail with EFBIG
    wrapper = (
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    args = ["add", str(source), "--base-url", emulator.url, "--output", str(output), "--quiet"]

    done = subprocess.run(  # noqa: S603 -- our own interpreter and package
        [sys.executable, "-c", wrapper, *cli_command(*args)[1:]],
        capture_output=True,
        text=True,
        env=cli_env(PYTHONDONTWRITEBYTECODE="1"),
        timeout=60,
        check=False,
        cwd=ROOT,
    )

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"groove-async add: error: cannot write the output {output}, the import was stopped: "
        "File too large"
    ]
    assert output.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "out.jsonl"]


def close_stdout_after_one_line(args: list[str], errors: Path) -> tuple[str, int]:
    """Run the CLI with ``args``, read one line of its stdout and close it (``| head -1``)."""
    with errors.open("w") as stderr:
        process = subprocess.Popen(  # noqa: S603 -- our own interpreter and package
            cli_command(*args),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=cli_env(),
            cwd=ROOT,
        )
        assert process.stdout is not None
        first = process.stdout.readline()  # like `| head -1`
        process.stdout.close()
        return first.decode(), process.wait(timeout=60)


@pytest.mark.parametrize("quiet", [True, False])
def test_output_to_a_stdout_pipe_closed_early_stops_quietly(
    emulator: ThreadedEmulator, tmp_path: Path, quiet: bool
) -> None:
    # Issue 19: `| head` printed a "Broken pipe" error and a full summary.
    ids = catalog_ids(4_000)  # ~500 KB of output: far more than a pipe holds
    source = write_ids(tmp_path / "ids.txt", ids)
    errors = tmp_path / "stderr.txt"
    args = ["add", str(source), "--base-url", emulator.url, "--output", "-"]

    first, returncode = close_stdout_after_one_line(
        [*args, *(["--quiet"] if quiet else [])], errors
    )

    assert json.loads(first)["input_id"] == ids[0]
    assert returncode == 1
    text = errors.read_text()
    assert "Broken pipe" not in text and "Traceback" not in text and "Exception" not in text
    assert "groove-async add" not in text  # no error line, no summary: only progress lines
    assert len(emulator.sent_ids()) < len(ids)


def test_an_export_to_a_closed_pipe_says_nothing_of_it(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(3_000)  # ~135 KB of IDs: more than a pipe holds
    source = write_ids(tmp_path / "ids.txt", ids)
    assert run_cli("add", str(source), "--base-url", emulator.url, "-q").returncode == 0
    errors = tmp_path / "stderr.txt"

    first, returncode = close_stdout_after_one_line(
        ["export", "--base-url", emulator.url, "-q"], errors
    )

    assert first.strip() == ids[0]
    assert returncode == 1
    assert errors.read_text() == ""  # no "cannot write stdout: Broken pipe"


# -- 15: overlapping paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{tmp}/ids.txt", "--output", "{tmp}/out.jsonl", "--journal", "{tmp}/out.jsonl.part"],
            "--journal and the temporary output file are the same file",
        ),
        (
            [
                "{tmp}/ids.txt",
                "--output",
                "{tmp}/out.jsonl",
                "--journal",
                "{tmp}/x/../out.jsonl.part",
            ],
            "--journal and the temporary output file are the same file",
        ),
        (
            ["{tmp}/ids.txt", "--output", "{tmp}/link", "--journal", "{tmp}/store/real.part"],
            "--journal and the temporary output file are the same file",
        ),
        (
            ["{tmp}/out.jsonl.part", "--output", "{tmp}/out.jsonl"],
            "the input and the temporary output file are the same file",
        ),
    ],
)
def test_a_journal_or_input_overlapping_the_output_is_refused(
    emulator: ThreadedEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("GROOVE_TOKEN", TOKEN)
    write_ids(tmp_path / "ids.txt", catalog_ids(5))
    if args[0] == "{tmp}/out.jsonl.part":  # the input is a leftover .part
        write_ids(tmp_path / "out.jsonl.part", catalog_ids(5))
    (tmp_path / "x").mkdir()
    (tmp_path / "store").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "store" / "real")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    argv = ["add", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    status = main([*argv, "--base-url", emulator.url, "--quiet"])

    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert emulator.requests == []
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert list((tmp_path / "store").iterdir()) == []


# -- 16: a huge line -------------------------------------------------------------------------


def write_with_a_huge_line(path: Path, ids: list[str], size: int, at: int) -> None:
    """``ids`` one per line, with a ``size``-byte line (no newline in it) before ``ids[at]``."""
    block = b"music." + b"A" * ((1 << 20) - 6)
    with path.open("wb") as file:
        file.write("".join(f"{i}\n" for i in ids[:at]).encode())
        for _ in range(size >> 20):
            file.write(block)
            block = b"A" * (1 << 20)
        file.write(b"\n" + "".join(f"{i}\n" for i in ids[at:]).encode())


async def test_a_huge_line_is_read_in_bounded_memory_and_reported(tmp_path: Path) -> None:
    ids = catalog_ids(50)
    path = tmp_path / "ids.txt"
    write_with_a_huge_line(path, ids, 32 << 20, at=2)  # a 32 MiB line 3
    source = _FileSource(str(path))
    tracemalloc.start()
    try:
        items = [item async for item in _Inputs(source)]
        count, _ = _scan(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()

    assert peak < 2 << 20, f"peak {peak:,} bytes"
    assert count == len(items) == len(ids) + 1
    huge = items[2]
    assert (huge.position, huge.line) == (2, 3)
    assert huge.track_id == "music." + "A" * 58 + "..." and len(huge.track_id) <= 80
    assert huge.problem == f"the line is {32 << 20:,} bytes long (at most 65,536)"
    assert [(i.track_id, i.problem) for i in items if i is not huge] == [(i, None) for i in ids]
    assert [i.line for i in items[3:]] == list(range(4, len(ids) + 2))


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 16, 1 << 20])
def test_the_splitter_cuts_long_lines_whatever_the_chunks(chunk: int) -> None:
    most = _MAX_LINE
    long = b"\xef\xbb\xbf  " + "é".encode() * (most // 2 + 1)  # a BOM, spaces, 2-byte chars
    limit = b"x" * most  # the longest line kept whole
    data = long + b"\nmusic.a\n" + limit + b"\n\n" + b"y" * (most + 1)  # the last: no \n
    splitter = _Splitter()
    lines = [
        line
        for start in range(0, len(data), chunk)
        for line in splitter.feed(data[start : start + chunk])
    ]
    lines += splitter.feed(b"")

    assert lines[1:] == ["music.a", "x" * most, "", "y" * 64 + "..."]
    assert lines[0] == "é" * 64 + "..."
    assert isinstance(lines[0], _LongLine) and lines[0].length == len(long)
    assert isinstance(lines[4], _LongLine) and lines[4].length == most + 1


def test_a_huge_line_gets_an_invalid_input_result_with_an_excerpt(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(20)
    source = tmp_path / "ids.txt"
    write_with_a_huge_line(source, ids, 2 << 20, at=1)  # a 2 MiB line 2
    output = tmp_path / "out.jsonl"

    done = run_cli("add", str(source), "--base-url", emulator.url, "--output", str(output))

    assert done.returncode == 1, done.stderr
    results = read_jsonl(output)
    assert output.stat().st_size < 8 * 1024  # the line is not copied into the output
    assert [r["outcome"] for r in results] == ["SUCCEEDED"] + ["REJECTED"] + ["SUCCEEDED"] * 19
    huge = results[1]
    assert len(huge["input_id"]) <= 80 and huge["input_id"].startswith("music.AAAA")
    assert huge["error"] == {
        "code": "INVALID_INPUT",
        "description": f"Not a valid track ID: the line is {2 << 20:,} bytes long (at most 65,536)",
        "message": f"line 2 of {source}",
    }
    assert sorted(emulator.sent_ids()) == sorted(ids)


# -- 17: a journal resumed under another token -----------------------------------------------


def import_args(emulator: ThreadedEmulator, tmp_path: Path, ids: list[str]) -> list[str]:
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "import.journal", tmp_path / "out.jsonl"
    args = ["add", str(source), "--base-url", emulator.url, "--journal", str(journal)]
    return [*args, "--output", str(output)]


def test_a_journal_resumed_under_another_users_token_sends_again(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    emulator.add_token(OTHER_USER)  # a user of its own
    ids = catalog_ids(150)
    args = import_args(emulator, tmp_path, ids)
    assert run_cli(*args, "--quiet").returncode == 0

    done = run_cli(*args, "--quiet", token=OTHER_USER)

    assert done.returncode == 0, done.stderr
    journal = tmp_path / "import.journal"
    assert done.stderr.splitlines() == [
        f"groove-async add: warning: the journal {journal} was written under another token: "
        "its 150 finished IDs are sent again (if it is your own token, refreshed, pass "
        "--same-user to skip them)."
    ]
    assert Counter(emulator.sent_ids("token#2")) == Counter(ids)
    collection = emulator.collection(OTHER_USER)
    assert set(collection) == set(ids)
    results = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in results] == [collection[i] for i in ids]
    # Both runs' results are in the journal; the latest of each position wins on resume.
    _, records = journal_lines(journal)
    assert Counter(r["p"] for r in records) == Counter(dict.fromkeys(range(150), 2))


def test_same_user_trusts_a_journal_written_under_another_token(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    emulator.add_token("refreshed", same_user_as=TOKEN)
    ids = catalog_ids(150)
    args = import_args(emulator, tmp_path, ids)
    assert run_cli(*args, "--quiet").returncode == 0
    first = read_jsonl(tmp_path / "out.jsonl")

    same_token = run_cli(*args)
    refreshed = run_cli(*args, "--same-user", token="refreshed")

    for done in (same_token, refreshed):
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr
        assert "Resuming from" in done.stderr and "150 IDs finished earlier" in done.stderr
    assert read_jsonl(tmp_path / "out.jsonl") == first
    assert Counter(emulator.sent_ids()) == Counter(ids)  # the first run's, nothing again


def test_the_journal_stores_no_token(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    args = import_args(emulator, tmp_path, catalog_ids(10))

    assert run_cli(*args, "--quiet").returncode == 0

    text = (tmp_path / "import.journal").read_text(encoding="utf-8")
    digest = hashlib.sha256(TOKEN.encode()).digest()
    for leak in (TOKEN, digest.hex(), digest.hex().upper(), TOKEN.encode().hex()):
        assert leak not in text
    header, _ = journal_lines(tmp_path / "import.journal")
    assert header["version"] == 2
    fingerprint = header["token"]
    assert isinstance(fingerprint, dict)
    assert fingerprint["kdf"] == "pbkdf2-sha256" and fingerprint["iterations"] >= 100_000
    assert len(fingerprint["salt"]) == 32 and len(fingerprint["hash"]) == 64


def test_a_version_1_journal_is_resumed_as_written_under_an_unknown_token(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(120)
    args = import_args(emulator, tmp_path, ids)
    source, journal = Path(args[1]), tmp_path / "import.journal"
    header = {
        "journal": "groove-async",
        "version": 1,
        "action": "add",
        "base_url": emulator.url,
        "input_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "input": str(source),
    }
    records = [
        {"p": p, "input_id": i, "id": f"music.X{p}", "outcome": "SUCCEEDED", "error": None}
        for p, i in enumerate(ids[:100])
    ]
    journal.write_text("".join(json.dumps(line) + "\n" for line in [header, *records]))

    done = run_cli(*args, "--quiet")

    assert done.returncode == 0, done.stderr
    assert "written under an unrecorded token: its 100 finished IDs are sent again" in done.stderr
    assert Counter(emulator.sent_ids()) == Counter(ids)
    assert set(emulator.collection()) == set(ids)
    again = run_cli(*args, "--quiet", "--same-user")  # the v1 journal, trusted
    assert again.returncode == 0 and again.stderr == ""
    assert Counter(emulator.sent_ids()) == Counter(ids)
