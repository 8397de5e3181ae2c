"""Fixtures of the command-line tests: the real CLI in a subprocess, the emulator in this process.

The emulator runs on an event loop of its own in a background thread, so that the tests can
drive the CLI with plain blocking ``subprocess`` calls (and kill it with SIGKILL) while the
server keeps its request log, which proves what was sent and how often.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from groove_async.testing import (
    FakeGrooveServer,
    FaultPlan,
    RequestRecord,
    StoredPlaylist,
    catalog_track_id,
)

T = TypeVar("T")

TOKEN = "cli-token"
ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "music.0f8fad5b-d9cb-469f-a165-70867728950e"  # a random v4 GUID: not in the catalog
INVALID = "not-an-id"


class ThreadedEmulator:
    """A :class:`FakeGrooveServer` served by an event loop in a daemon thread."""

    def __init__(self, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        kwargs.setdefault("tokens", [TOKEN])
        kwargs.setdefault("log_limit", None)
        self.server = self.call(lambda: FakeGrooveServer(**kwargs))
        self._run(self.server.start())
        self.url: str = self.server.url

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop (e.g. a client on ``server.transport()``)."""
        return self._run(coro)

    def playlists(self, token: str = TOKEN) -> list[StoredPlaylist]:
        return self.call(lambda: self.server.playlists(token))

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's loop (the server is not thread-safe)."""

        async def run() -> T:
            return function()

        return self._run(run())

    @property
    def requests(self) -> list[RequestRecord]:
        return self.call(lambda: self.server.requests)

    def sent_ids(self, token_label: str | None = None) -> list[str]:
        """Every ID of every POST the server answered, in arrival order."""
        return [
            track_id
            for record in self.requests
            if record.method == "POST" and (token_label is None or record.token == token_label)
            for track_id in record.ids
        ]

    def collection(self, token: str = TOKEN) -> dict[str, str]:
        return self.call(lambda: self.server.collection(token))

    def set_faults(self, plan: FaultPlan) -> None:
        def assign() -> None:
            self.server.faults = plan

        self.call(assign)

    def add_token(self, token: str, same_user_as: str | None = None) -> None:
        """Accept ``token``: another token of ``same_user_as``'s user, or a new user's."""
        self.call(lambda: self.server.add_token(token, same_user_as=same_user_as))

    def close(self) -> None:
        self._run(self.server.stop())
        self._run(_cancel_the_rest())  # e.g. handlers still sleeping for a killed client
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _cancel_the_rest() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    """A started emulator accepting ``cli-token``, keeping its whole request log."""
    server = ThreadedEmulator()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL on a port bound but never listened on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@attrs.frozen
class Done:
    """A finished CLI run."""

    returncode: int
    stdout: str
    stderr: str


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "groove_async", *args]


def cli_env(token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GROOVE_TOKEN"}
    env["PYTHONWARNINGS"] = "error"
    if token is not None:
        env["GROOVE_TOKEN"] = token
    env.update(extra)
    return env


def run_cli(
    *args: str,
    stdin: str | None = None,
    token: str | None = TOKEN,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path = ROOT,
) -> Done:
    """Run ``python -m groove_async ARGS`` to the end (in ``cwd``)."""
    done = subprocess.run(  # noqa: S603 -- our own interpreter and package
        cli_command(*args),
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else cli_env(token),
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def start_cli(
    args: Sequence[str], token: str | None = TOKEN, cwd: Path = ROOT
) -> subprocess.Popen[str]:
    """Start ``python -m groove_async ARGS`` in the background, its stdout and stderr piped."""
    return subprocess.Popen(  # noqa: S603 -- our own interpreter and package
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(token),
        cwd=cwd,
    )


def wait_for(
    condition: Callable[[], bool],
    process: subprocess.Popen[str],
    what: str,
    timeout: float = 30,
) -> None:
    """Wait until ``condition()`` holds while ``process`` runs (fail if it ends, or at
    ``timeout``, saying ``what`` did not happen)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def journal_lines(path: Path) -> list[dict[str, Any]]:
    """A journal's whole lines so far, its header first (a line being written is left out)."""
    if not path.exists():
        return []
    whole = path.read_bytes().rpartition(b"\n")[0]
    return [json.loads(line) for line in whole.split(b"\n") if line]


def write_ids(path: Path, ids: Sequence[str], header: str = "") -> Path:
    path.write_text(header + "".join(f"{track_id}\n" for track_id in ids), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def catalog_ids(count: int, start: int = 0) -> list[str]:
    return [catalog_track_id(n) for n in range(start, start + count)]
