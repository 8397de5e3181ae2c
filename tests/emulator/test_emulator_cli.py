"""``groove-async serve`` / ``python -m groove_async serve``, and the README's example."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from groove_async.cli import main
from groove_async.testing import catalog_track_id
from tests.emulator.conftest import ADD

ROOT = Path(__file__).resolve().parents[2]


async def read_line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout=30)).decode().rstrip("\n")


@pytest.mark.parametrize(
    "extra", [[], ["--token", "cli-a", "--token", "cli-b", "--seed", "3", "--hyphen-codes"]]
)
async def test_serve_in_a_subprocess(extra: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groove_async",
        "serve",
        "--port",
        "0",
        "--latency",
        "0.001",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url_line = await read_line(process.stdout)
        prefix = "Groove emulator listening on "
        assert url_line.startswith(prefix), url_line
        url = url_line.removeprefix(prefix)
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
        tokens = [t for t in extra if t.startswith("cli-")] or ["demo-token"]
        for token in tokens:
            assert await read_line(process.stdout) == f"Token: {token}"

        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url + ADD,
                json={"TrackIds": [catalog_track_id(1), "music.nope"]},
                headers={"Authorization": f"Bearer {tokens[-1]}"},
            ) as response,
        ):
            assert response.status == 200
            body = await response.json()
        code = body["Error"]["ErrorCode"]
        assert code == ("COLLECTION-SOME-OPERATIONS-FAILED" if extra else code.replace("-", "_"))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        returncode = await asyncio.wait_for(process.wait(), timeout=10)
    assert returncode == 0


async def test_serve_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groove_async",
        "serve",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert (await read_line(process.stdout)).startswith("Groove emulator listening on http://")
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=10) == 0


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--latency", "-1"]) == 2
    assert "latency" in capsys.readouterr().err
    assert main(["serve", "--token", "has space", "--port", "0"]) == 2
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "many"])
    assert info.value.code == 2


def test_the_readme_example_runs() -> None:
    done = subprocess.run(  # noqa: S603 -- our own interpreter and example
        [sys.executable, "-W", "error", str(ROOT / "examples" / "emulator_example.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "imported 250 tracks" in done.stdout


def test_the_readme_shows_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- emulator:start -->")[1].split("<!-- emulator:end -->")[0]
    example = (ROOT / "examples" / "emulator_example.py").read_text()
    assert example.strip() in section
