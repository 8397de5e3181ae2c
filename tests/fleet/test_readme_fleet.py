"""The README's fleet example, as written, against a real Redis and the emulator: a worker
from its ``run_worker``, a job through its ``migrate``, and its ``cancel``."""

from __future__ import annotations

import asyncio
import contextlib
import types
from pathlib import Path

import pytest

from groove_async.testing import FakeGrooveServer
from tests.readme_examples import examples

from .conftest import TOKEN, USER, RedisServer, catalog_ids

pytestmark = pytest.mark.timeout(60)


def _fleet_example() -> types.ModuleType:
    (example,) = [e for e in examples() if "groove_async.fleet" in e.code]
    module = types.ModuleType(example.name)
    exec(compile(example.module(), f"README.md:{example.line}", "exec"), module.__dict__)  # noqa: S102
    return module


async def test_the_readme_fleet_example_runs(
    redis_server: RedisServer, token_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _fleet_example()
    ids = catalog_ids(300)
    async with FakeGrooveServer([TOKEN]) as server:
        worker = asyncio.create_task(example.run_worker(redis_server.url, token_dir, server.url))
        try:
            records = await asyncio.wait_for(example.migrate(redis_server.url, USER, ids), 30)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        assert [r["input_id"] for r in records] == ids
        assert {r["outcome"] for r in records} == {"SUCCEEDED"}
        assert len(server.collection(TOKEN)) == 300
    assert "complete: 300/300" in capsys.readouterr().out
    from groove_async.fleet import Fleet

    async with Fleet(redis_server.url) as fleet:
        queued = await fleet.submit(USER, "delete", ["music.x"])
    assert await example.cancel(redis_server.url, queued) == "aborted"
