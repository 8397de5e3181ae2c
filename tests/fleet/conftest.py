"""The fleet's real parts: a redis-server per test on a free loopback port in a temporary
directory, workers as real subprocesses (so that ``kill -9`` is real), the emulator over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")
TOKEN = "fleet-token-0123456789abcdef"
USER = "alice"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process; :meth:`restart` stops and starts it on the same port."""

    def __init__(self, directory: Path, *, appendonly: bool) -> None:
        if REDIS_SERVER is None:
            pytest.fail(
                "redis-server is not installed (apt-get install redis-server; .ci/run does)"
            )
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(  # noqa: S603 -- our own redis-server, fixed args
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, appendonly=True)
    yield server
    server.stop()


@pytest.fixture
def token_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "tokens"
    directory.mkdir()
    (directory / USER).write_text(TOKEN + "\n")
    return directory


class Workers:
    """Worker subprocesses (``groove-async worker``), stopped at the end of the test."""

    def __init__(self, redis_url: str, tokens: Path) -> None:
        self.redis_url = redis_url
        self.tokens = tokens
        self.started: list[asyncio.subprocess.Process] = []

    async def start(self, base_url: str, *args: str) -> asyncio.subprocess.Process:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "groove_async",
            "worker",
            "--redis",
            self.redis_url,
            "--tokens",
            str(self.tokens),
            "--base-url",
            base_url,
            "--heartbeat",
            "2",
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        self.started.append(process)
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 20)
        assert b"waiting for jobs" in line, line
        return process

    async def stop_all(self) -> None:
        for process in self.started:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            await process.wait()


@pytest.fixture
async def workers(redis_server: RedisServer, token_dir: Path) -> AsyncIterator[Workers]:
    pool = Workers(redis_server.url, token_dir)
    yield pool
    await pool.stop_all()


def catalog_ids(count: int, start: int = 0) -> list[str]:
    return [f"music.{n:08X}-0100-11DB-89CA-0019B92A3933" for n in range(start, start + count)]


async def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
