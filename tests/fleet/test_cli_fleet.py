"""The fleet's command line as a user runs it (subprocesses): submit prints the ID alone, job
--json, --output, --cancel, jobs, and one clear line for every error, the missing extra
included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groove_async.fleet import Fleet

from .conftest import TOKEN, USER, RedisServer, Workers, catalog_ids

pytestmark = pytest.mark.timeout(60)

_KEYS = {"status", "total", "done", "succeeded", "rejected", "failed", "error"}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- this interpreter, our own command
        [sys.executable, "-m", "groove_async", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _one_error_line(done: subprocess.CompletedProcess[str], command: str) -> str:
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"groove-async {command}: error: ")
    return lines[0]


async def test_submit_job_and_jobs(
    redis_server: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    from groove_async.testing import FakeGrooveServer

    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join([*catalog_ids(250), "not an id"]) + "\n")
    env = {"GROOVE_REDIS_URL": redis_server.url}
    submitted = _cli("submit", "add", str(ids), "--user", USER, env=env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert submitted.stdout == job_id + "\n"
    again = _cli("submit", "add", str(ids), "--user", USER, env=env)
    assert again.stdout.strip() == job_id  # the first job, still queued
    queued = json.loads(_cli("job", job_id, "--json", env=env).stdout)
    assert set(queued) >= _KEYS and queued["status"] == "queued" and queued["total"] == 251
    async with FakeGrooveServer([TOKEN]) as server:
        await workers.start(server.url)
        async with Fleet(redis_server.url) as fleet:
            await fleet.wait(job_id, poll=0.05)
    out = tmp_path / "results.jsonl"
    waited = _cli("job", job_id, "--wait", "--json", "--output", str(out), env=env)
    assert waited.returncode == 1  # one line was not an ID: as add's exit status
    status = json.loads(waited.stdout)
    assert (status["status"], status["done"], status["succeeded"], status["rejected"]) == (
        "complete",
        251,
        250,
        1,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 251
    assert records[-1]["error"]["code"] == "INVALID_INPUT"
    assert records[-1]["error"]["message"] == f"line 251 of {ids}"
    listed = _cli("jobs", env=env)
    assert listed.returncode == 0 and job_id in listed.stdout and "complete" in listed.stdout


def test_cancel_a_queued_job(redis_server: RedisServer, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(catalog_ids(5)) + "\n")
    job_id = _cli("submit", "delete", str(ids), "--user", USER, "--redis", redis_server.url)
    cancelled = _cli(
        "job", job_id.stdout.strip(), "--cancel", "--json", "--redis", redis_server.url
    )
    assert json.loads(cancelled.stdout)["status"] == "aborted"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["job", "nope"], "no job 'nope'"),
        (["submit", "add", "-", "--user", "../etc/passwd"], "not a user name"),
        (["submit", "add", "-", "--user", ".hidden"], "not a user name"),
    ],
)
def test_errors_are_one_line(redis_server: RedisServer, args: list[str], says: str) -> None:
    line = _one_error_line(_cli(*args, "--redis", redis_server.url), args[0])
    assert says in line


def test_unreachable_redis_and_a_malformed_url_are_one_line(tmp_path: Path) -> None:
    port = "1"  # nothing listens there
    line = _one_error_line(_cli("jobs", "--redis", f"redis://127.0.0.1:{port}/0"), "jobs")
    assert "cannot reach Redis" in line
    line = _one_error_line(_cli("job", "x", "--redis", "http://:secret@host"), "job")
    assert "not a Redis URL" in line and "secret" not in line
    line = _one_error_line(_cli("jobs", env={"GROOVE_REDIS_URL": ""}), "jobs")
    assert "GROOVE_REDIS_URL" in line


def test_without_the_extra_the_worker_says_what_to_install(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    (blocked / "saq").mkdir(parents=True)
    (blocked / "saq" / "__init__.py").write_text("raise ImportError('saq is not installed')\n")
    done = _cli(
        "worker",
        "--redis",
        "redis://127.0.0.1:1/0",
        "--tokens",
        str(tmp_path),
        env={"PYTHONPATH": str(blocked)},
    )
    line = _one_error_line(done, "worker")
    assert line.endswith("pip install 'groove-async[fleet]'")


def test_the_client_and_the_command_line_import_neither_saq_nor_redis() -> None:
    code = (
        "import sys, groove_async, groove_async.cli, groove_async.testing\n"
        "from groove_async.cli.parser import _parse\n"
        "_parse(['jobs', '--redis', 'redis://x'])\n"
        "groove_async.GrooveClient, groove_async.testing.FakeGrooveServer\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('saq', 'redis')]\n"
        "assert not bad and 'groove_async.fleet' not in sys.modules, bad\n"
    )
    done = subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
