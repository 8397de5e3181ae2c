"""A new user's first hour: the rough edges met trying the command line cold.

Each edge through the real executable: one-line usage errors for every bad argument of every
command, the command line's own words (flags, not Python arguments), progress that does not read
100% on a run that did not finish, the causes of failure in the summary, SIGTERM's own words,
``--version``, help texts, ``serve``'s faults, an empty input, a fully resumed run.
"""

from __future__ import annotations

import io
import json
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import attrs
import pytest

import groove_async
from groove_async.testing import FaultPlan, ScriptedResponse, catalog_track_id

from .conftest import (
    ROOT,
    TOKEN,
    Done,
    ThreadedEmulator,
    catalog_ids,
    cli_command,
    cli_env,
    read_jsonl,
    run_cli,
    write_ids,
)
from .test_cli_resume import start_slow_import
from .test_cli_terminal import run_on_a_terminal

PYTHON_WORDS = ("base_url", "allow_insecure_http", "=True", "max_concurrency", "p_4", "p_5")
"""The library's argument names, which mean nothing on the command line."""


def assert_one_usage_line(done: Done, command: str, flag: str) -> str:
    """Exit status 2, no traceback, one ``groove-async COMMAND: error:`` line naming ``flag``."""
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout == "", "nothing was started"
    errors = [line for line in lines if "error:" in line]
    assert errors == [lines[-1]], done.stderr
    assert lines[-1].startswith(f"groove-async {command}: error: "), done.stderr
    assert flag in lines[-1], done.stderr
    assert not [word for word in PYTHON_WORDS if word in lines[-1]], done.stderr
    return lines[-1]


# -- 1: every bad argument of every command is one line and exit status 2 -------------------

SERVE_BAD = [
    (["--port", "70000"], "--port"),
    (["--port", "-1"], "--port"),
    (["--latency", "inf"], "--latency"),
    (["--latency", "nan"], "--latency"),
    (["--latency", "-1"], "--latency"),
    (["--latency", "1e300"], "--latency"),
    (["--capacity", "-1"], "--capacity"),
    (["--token", "has space"], "--token"),
]


@pytest.mark.parametrize(("args", "flag"), SERVE_BAD, ids=[" ".join(a) for a, _ in SERVE_BAD])
def test_bad_serve_arguments_are_one_line(args: list[str], flag: str) -> None:
    port = ["--port", "0"] if "--port" not in args else []
    done = run_cli("serve", *port, *args, timeout=20)

    assert_one_usage_line(done, "serve", flag)


def test_serve_on_a_port_in_use_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = run_cli("serve", "--port", str(port), timeout=20)

    line = assert_one_usage_line(done, "serve", "cannot listen")
    assert str(port) in line


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--latency", "inf"], "--latency"),
        (["--latency", "1e300"], "--latency"),  # an hour is the most: this one never answers
        (["--size", "0"], "--size"),
    ],
    ids=["latency inf", "latency 1e300", "size 0"],
)
def test_bad_demo_arguments_are_one_line(args: list[str], flag: str) -> None:
    done = run_cli("demo", "--size", "50", *args, timeout=20)

    assert_one_usage_line(done, "demo", flag)


IMPORT_BAD = [
    ("add", ["--base-url", "ftp://example.com"], "--base-url"),
    ("add", ["--base-url", "http://[::1"], "--base-url"),
    ("add", ["--base-url", "https://example.com:99999"], "--base-url"),
    ("add", ["--base-url", ""], "--base-url"),
    ("delete", ["--base-url", "http://example.com"], "--allow-insecure-http"),
    ("add", ["--output", ""], "--output"),
    ("delete", ["--journal", ""], "--journal"),
    ("add", ["--token-env", ""], "--token-env"),
    ("add", ["--concurrency", "0"], "--concurrency"),
]


@pytest.mark.parametrize(
    ("command", "args", "flag"), IMPORT_BAD, ids=[f"{c} {' '.join(a)}" for c, a, _ in IMPORT_BAD]
)
def test_bad_add_and_delete_arguments_are_one_line(
    command: str, args: list[str], flag: str, refused_url: str, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(3))
    done = run_cli(command, str(source), "--base-url", refused_url, *args, timeout=30)

    assert_one_usage_line(done, command, flag)


def test_an_empty_file_name_is_one_line(refused_url: str) -> None:
    done = run_cli("add", "", "--base-url", refused_url, timeout=30)

    assert_one_usage_line(done, "add", "FILE")


# -- 2: the command line's words, and its flag for plain http ---------------------------------


def test_plain_http_names_the_flag_that_allows_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")

    refused = run_cli("add", str(empty), "--base-url", "http://example.invalid")
    allowed = run_cli(
        "add", str(empty), "--base-url", "http://example.invalid", "--allow-insecure-http"
    )

    line = assert_one_usage_line(refused, "add", "--allow-insecure-http")
    assert "unencrypted" in line
    # The flag reaches the client, which is made before any input is read: nothing to send.
    assert allowed.returncode == 0, allowed.stderr


# -- 3: progress and summary of a run that did not finish -------------------------------------


def last_progress_line(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.startswith("add: ")][-1]


def test_a_refused_token_does_not_read_100_percent(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(1_000))

    done = run_cli("add", str(source), "--base-url", emulator.url, token="not-a-known-token")

    assert done.returncode == 2, done.stderr
    assert "authentication failed" in done.stderr
    assert "(100%)" not in done.stderr
    assert "0/1,000 (0%)" in last_progress_line(done.stderr)
    assert "1,000 not sent" in last_progress_line(done.stderr)
    # The NOT_SENT row says why, instead of repeating its own name.
    row = next(line for line in done.stdout.splitlines() if line.startswith("  NOT_SENT"))
    assert re.fullmatch(r"  NOT_SENT\s+1,000  .*authentication.*", row), row
    assert row.count("NOT_SENT") == 1, row
    assert "none processed" in done.stdout.splitlines()[0]


def test_a_refused_token_on_a_terminal_does_not_fill_the_bar(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(1_000))

    status, _, shown = run_on_a_terminal(
        "add", str(source), "--base-url", emulator.url, token="not-a-known-token"
    )

    assert status == 2, shown
    assert "100%|" not in shown and "1000/1000" not in shown
    assert "0/1000" in shown


def test_ctrl_c_progress_stays_where_it_stopped(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    process, _, inputs, _, _ = start_slow_import(emulator, tmp_path, TOKEN)
    emulator.set_faults(FaultPlan(latency=0.3))  # what is in flight now is still in flight

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    last = last_progress_line(stderr)
    found = re.match(r"add: ([\d,]+)/([\d,]+) \((\d+)%\) IDs", last)
    assert found is not None, last
    done, total = (int(found[n].replace(",", "")) for n in (1, 2))
    assert total == len(inputs) and 0 < done < total and int(found[3]) < 100, last
    not_sent = re.search(r"([\d,]+) not sent", last)
    assert not_sent is not None and done + int(not_sent[1].replace(",", "")) == total, last
    row = next(line for line in stdout.splitlines() if line.startswith("  NOT_SENT"))
    assert re.fullmatch(r"  NOT_SENT\s+[\d,]+  the import was stopped", row), row
    assert f"; {done:,} processed in this run in " in stdout.splitlines()[0]


# -- 4: the causes of failure, in the summary --------------------------------------------------


def test_server_down_says_why_in_the_summary(refused_url: str, tmp_path: Path) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(3))

    done = run_cli("add", str(source), "--base-url", refused_url)

    assert done.returncode == 1, done.stderr
    port = refused_url.rsplit(":", 1)[1]
    lines = done.stdout.splitlines()
    assert "  why they failed, most common first:" in lines
    cause = lines[lines.index("  why they failed, most common first:") + 1]
    expected = rf"\s+3  CONNECTION_ERROR: .*Cannot connect to host 127\.0\.0\.1:{port}\b.*"
    assert re.fullmatch(expected, cause), cause
    assert len(cause) <= 200


# -- 5: SIGTERM is not Ctrl-C --------------------------------------------------------------------


def test_sigterm_speaks_of_sigterm(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    process, *_ = start_slow_import(emulator, tmp_path, TOKEN)
    emulator.set_faults(FaultPlan(latency=0.3))

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "Ctrl-C" not in stderr and "interrupted" not in stderr
    assert "Stopping on SIGTERM: batches in flight finish, the rest is not sent" in stderr
    assert "groove-async add: stopped by SIGTERM; " in stderr


# -- 6, 7: --version and the help texts ----------------------------------------------------------


def test_version() -> None:
    done = run_cli("--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"groove-async {groove_async.__version__}\n"


@pytest.mark.parametrize("command", [[], ["add"], ["delete"], ["demo"], ["serve"]])
def test_help_texts_print_plain_percent_signs(command: list[str]) -> None:
    done = run_cli(*command, "--help")

    assert done.returncode == 0, done.stderr
    assert "%%" not in done.stdout and "%(" not in done.stdout
    if command == ["demo"]:
        assert "2% unknown IDs and 5% repeats" in " ".join(done.stdout.split())


# -- 10: serve says which IDs it knows, and injects faults --------------------------------------


def test_serve_help_says_which_ids_the_emulator_knows() -> None:
    from groove_async.cli.parser import FAULT_KINDS  # new in this change

    done = run_cli("serve", "--help")

    text = " ".join(done.stdout.split())
    assert "music.XXXXXXXX-0100-11DB-89CA-0019B92A3933" in text
    assert "COLLECTION_INVALID_ID" in text
    for kind in FAULT_KINDS:
        assert kind in text
    assert "--retry-after" in text


def test_every_fault_kind_is_a_knob_of_the_fault_plan() -> None:
    from groove_async.cli.parser import FAULT_KINDS  # new in this change

    knobs = attrs.fields_dict(FaultPlan)
    assert all(knob in knobs for knob in FAULT_KINDS.values())
    assert {knob for knob in knobs if knob.startswith("p_")} >= set(FAULT_KINDS.values())


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--fault", "429=2"], "--fault"),
        (["--fault", "429"], "--fault"),
        (["--fault", "teapot=0.1"], "--fault"),
        (["--fault", "429=0.6", "--fault", "503=0.6"], "--fault"),
        (["--retry-after", "-1"], "--retry-after"),
    ],
    ids=["429=2", "429", "teapot", "sum 1.2", "retry-after -1"],
)
def test_bad_faults_are_one_line(args: list[str], flag: str) -> None:
    done = run_cli("serve", "--port", "0", *args, timeout=20)

    assert_one_usage_line(done, "serve", flag)


def post(url: str, token: str, ids: list[str]) -> tuple[int, str | None]:
    request = urllib.request.Request(  # noqa: S310 -- a loopback http URL of our own
        url + "/1/content/music/collection/add",
        data=json.dumps({"TrackIds": ids}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


def test_serve_injects_the_faults_it_is_given() -> None:
    args = ["--port", "0", "--seed", "5", "--fault", "429=0.5", "--fault", "500=0.5"]
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and package
        cli_command("serve", *args, "--retry-after", "2.5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Groove emulator listening on http://"), process.communicate()
        url = line.removeprefix("Groove emulator listening on ")
        answers = [post(url, "demo-token", [catalog_track_id(n)]) for n in range(30)]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)

    assert process.returncode == 0
    assert {status for status, _ in answers} == {429, 500}
    assert {retry_after for status, retry_after in answers if status == 429} == {"2.5"}


# -- 13, 14: an empty input, a fully resumed run -------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only a comment\n\n   \n"], ids=["empty", "comments"])
@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["", "quiet"])
def test_an_empty_input_says_so(
    text: str, quiet: list[str], refused_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "ids.txt"
    source.write_text(text)

    done = run_cli("add", str(source), "--base-url", refused_url, *quiet)
    from_stdin = run_cli("delete", "--base-url", refused_url, *quiet, stdin=text)

    assert done.returncode == from_stdin.returncode == 0, done.stderr + from_stdin.stderr
    assert f"groove-async add: warning: no IDs in {source} " in done.stderr
    assert "groove-async delete: warning: no IDs in stdin " in from_stdin.stderr
    assert "outcome" not in done.stdout + from_stdin.stdout  # no table of zeros


def test_a_fully_resumed_run_says_nothing_was_sent(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(40))
    args = ["add", str(source), "--base-url", emulator.url, "--journal", str(tmp_path / "j")]
    assert run_cli(*args).returncode == 0
    posts = len(emulator.requests)

    done = run_cli(*args)

    assert done.returncode == 0, done.stderr
    assert len(emulator.requests) == posts
    headline = done.stdout.splitlines()[0]
    assert headline == (
        "groove-async add: 40 IDs, all finished in an earlier run (journal): nothing to send"
    )
    assert "IDs/s" not in done.stdout


def test_the_causes_are_bounded_and_the_rest_counted() -> None:
    from groove_async.cli.progress import (  # new in this change
        MAX_CAUSE_LENGTH,
        MAX_DISTINCT_CAUSES,
        _count_cause,
        _print_summary,
        _Progress,
    )

    causes: Counter[tuple[str, str]] = Counter()
    for n in range(MAX_DISTINCT_CAUSES + 500):  # say, a message naming each input
        _count_cause(causes, "HTTP_500", f"item {n} failed\n{'x' * 500}")
    _count_cause(causes, "HTTP_500", "item 0 failed\n" + "x" * 500)

    assert len(causes) == MAX_DISTINCT_CAUSES + 1
    assert causes[("HTTP_500", "(other messages)")] == 500
    assert all(len(cause) <= MAX_CAUSE_LENGTH and "\n" not in cause for _, cause in causes)
    assert causes[("HTTP_500", ("item 0 failed " + "x" * 500)[:MAX_CAUSE_LENGTH])] == 2

    @attrs.define
    class Tally:
        action: str = "add"
        counts: Counter[str] = attrs.Factory(Counter)
        codes: Counter[tuple[str, str]] = attrs.Factory(Counter)
        causes: Counter[tuple[str, str]] = attrs.Factory(Counter)
        resumed: int = 0

        @property
        def total(self) -> int:
            return sum(self.counts.values())

    tally = Tally(causes=causes)
    tally.counts["FAILED"] = tally.codes[("FAILED", "HTTP_500")] = causes.total()
    out = io.StringIO()
    _print_summary(tally, _Progress("off", "add", None), 1.0, out)

    lines = out.getvalue().splitlines()
    at = lines.index("  why they failed, most common first:")
    assert re.fullmatch(r" +500  HTTP_500: \(other messages\)", lines[at + 1]), lines[at + 1]
    assert re.fullmatch(r" +2  HTTP_500: item 0 failed x+\.\.\.", lines[at + 2]), lines[at + 2]
    assert len(lines[at + 2]) == 24 + len("HTTP_500: ") + MAX_CAUSE_LENGTH
    assert re.fullmatch(r" +and 998 other causes: --output has each input's error", lines[at + 4])


# -- issue 19, "new user": a dead server stops early ------------------------------------------


def test_a_server_that_never_answers_stops_early_and_says_how_to_resume(
    refused_url: str, tmp_path: Path
) -> None:
    ids = catalog_ids(20_000)
    source = write_ids(tmp_path / "ids.txt", ids)
    journal, output = tmp_path / "add.journal", tmp_path / "out.jsonl"
    started = time.monotonic()

    done = run_cli(
        "add", str(source), "--base-url", refused_url, "--journal", str(journal),
        "--output", str(output),
    )  # fmt: skip

    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"groove-async add: error: the server at {refused_url} is unreachable")
    assert "run the same command again to resume" in last and str(journal) in last
    outcomes = Counter(r["outcome"] for r in read_jsonl(output))
    # The batches in flight and those sent as they freed their slots, before the results in
    # input order showed 3 batches failed: a few windows of 8, not the 200 batches of the input.
    in_reach = 4 * 8 * 100
    assert outcomes["FAILED"] <= in_reach
    assert outcomes["NOT_SENT"] >= len(ids) - in_reach
    assert "the server is unreachable" in done.stdout  # the NOT_SENT row's reason
    (requests,) = (line for line in done.stdout.splitlines() if "requests:" in line)
    assert int(requests.split()[1]) <= in_reach // 100, requests
    assert elapsed < 15


def test_a_server_that_answered_is_not_given_up_on(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(40)  # 4 batches: 3 fail to connect, which alone would be unreachable
    source = write_ids(tmp_path / "ids.txt", ids)
    refusal = {"Error": {"ErrorCode": "INVALID_INPUT_PARAMETER", "Description": "Bad request"}}
    emulator.call(lambda: emulator.server.script(ScriptedResponse(400, body=refusal)))
    emulator.set_faults(FaultPlan(p_drop=1.0))  # then every connection drops

    done = run_cli(
        "add", str(source), "--base-url", emulator.url, "--batch-size", "10",
        "--concurrency", "1", "--output", str(tmp_path / "out.jsonl"),
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert "unreachable" not in done.stderr  # it answered once: it is there, so all is sent
    outcomes = Counter(r["outcome"] for r in read_jsonl(tmp_path / "out.jsonl"))
    assert outcomes == {"REJECTED": 10, "FAILED": 30}


def test_dropped_connections_from_the_start_are_unreachable_too(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(2_000))
    emulator.set_faults(FaultPlan(p_drop=1.0))

    done = run_cli("add", str(source), "--base-url", emulator.url, "--batch-size", "10")

    assert done.returncode == 1
    assert f"the server at {emulator.url} is unreachable" in done.stderr.splitlines()[-1]
    assert "run the same command again" in done.stderr.splitlines()[-1]
    assert len(emulator.requests) < 200


def test_the_cause_of_a_failure_is_shown_whole() -> None:
    # Issue 19: the summary cut "...; gave up after 2 attempts: the client's retry b...".
    from groove_async.cli.progress import _causes, _count_cause

    cause = (
        "ClientConnectorDNSError: Cannot connect to host music.xboxlive.com:443 ssl:default "
        "[Name or service not known]; gave up after 2 attempts: the client's retry budget is "
        "exhausted"
    )
    causes: Counter[tuple[str, str]] = Counter()
    _count_cause(causes, "CONNECTION_ERROR", cause)

    (line,) = _causes(causes)[1:]
    assert line.endswith(f"CONNECTION_ERROR: {cause}")
