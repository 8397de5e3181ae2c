"""Workers as real subprocesses over loopback HTTP: ``kill -9`` of the worker running a job,
SIGTERM of it, and Redis restarted mid-job. Nothing is lost, at most the batches in flight are
sent again, and the results equal a one-process import."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import pytest

from groove_async import GrooveClient
from groove_async.fleet import Fleet, JobProgress, _saq
from groove_async.fleet._run import record_of
from groove_async.testing import FakeGrooveServer, FaultPlan

from .conftest import TOKEN, USER, RedisServer, Workers, catalog_ids

pytestmark = pytest.mark.timeout(90)

SIZE = 20_000
CONCURRENCY = 8


async def _running_pid(fleet: Fleet, job_id: str) -> int:
    job = await fleet._queue.job(job_id)
    assert job is not None and job.worker_id is not None
    return int(str(job.worker_id).rpartition(":")[2])


async def _progress_at_least(fleet: Fleet, job_id: str, share: float) -> JobProgress:
    while True:
        progress = await fleet.status(job_id)
        if progress.done >= share * progress.total and progress.status == "active":
            return progress
        await asyncio.sleep(0.02)


async def _check_nothing_lost(
    fleet: Fleet, server: FakeGrooveServer, job_id: str, ids: list[str]
) -> int:
    """Every input final and held by the server, the same records as one client's; returns how
    many IDs were sent more than once."""
    records = [r async for r in fleet.results(job_id)]
    assert [r["input_id"] for r in records] == ids
    assert Counter(r["outcome"] for r in records) == {"SUCCEEDED": len(ids)}
    assert len(server.collection(TOKEN)) == len(ids)
    sent = Counter(i for r in server.requests if r.method == "POST" for i in r.ids)
    async with GrooveClient(TOKEN, base_url=server.url) as client:
        again = await client.add_tracks(ids)
    assert records == [record_of(r) for r in again]
    return sum(sent.values()) - len(ids)


async def test_a_killed_worker_s_job_is_taken_over_resending_only_what_was_in_flight(
    redis_server: RedisServer, workers: Workers
) -> None:
    ids = catalog_ids(SIZE)
    async with FakeGrooveServer([TOKEN], faults=FaultPlan(latency=0.02), log_limit=None) as server:
        await workers.start(server.url, "--concurrency", str(CONCURRENCY))
        await workers.start(server.url, "--concurrency", str(CONCURRENCY))
        async with Fleet(redis_server.url, heartbeat=2) as fleet:
            job_id = await fleet.submit(USER, "add", ids)
            await asyncio.wait_for(_progress_at_least(fleet, job_id, 0.3), 30)
            victim = await _running_pid(fleet, job_id)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            before = (await fleet.status(job_id)).done
            while (await fleet.status(job_id)).done == before:
                await asyncio.sleep(0.05)
            taken_over = time.monotonic() - killed_at
            assert await _running_pid(fleet, job_id) != victim
            done = await asyncio.wait_for(fleet.wait(job_id, poll=0.1), 60)
            assert done.status == "complete" and done.succeeded == SIZE
            resent = await _check_nothing_lost(fleet, server, job_id, ids)
    assert taken_over < 30
    assert resent <= CONCURRENCY * 100, resent


async def test_a_sigtermed_worker_hands_its_job_back(
    redis_server: RedisServer, workers: Workers
) -> None:
    ids = catalog_ids(6_000)
    async with FakeGrooveServer([TOKEN], faults=FaultPlan(latency=0.02), log_limit=None) as server:
        first = await workers.start(server.url, "--concurrency", "4")
        async with Fleet(redis_server.url, heartbeat=2) as fleet:
            job_id = await fleet.submit(USER, "add", ids)
            await asyncio.wait_for(_progress_at_least(fleet, job_id, 0.2), 30)
            first.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(first.wait(), 15) == 0
            assert (await fleet.status(job_id)).status == "queued"  # handed back, not lost
            await workers.start(server.url, "--concurrency", "4")
            done = await asyncio.wait_for(fleet.wait(job_id, poll=0.1), 60)
            assert done.status == "complete"
            resent = await _check_nothing_lost(fleet, server, job_id, ids)
    assert resent <= 4 * 100


async def test_redis_restarted_mid_job_loses_and_doubles_nothing(
    redis_server: RedisServer, workers: Workers
) -> None:
    ids = catalog_ids(6_000)
    async with FakeGrooveServer([TOKEN], faults=FaultPlan(latency=0.02), log_limit=None) as server:
        await workers.start(server.url, "--concurrency", "4")
        async with Fleet(redis_server.url, heartbeat=2) as fleet:
            job_id = await fleet.submit(USER, "add", ids)
            await asyncio.wait_for(_progress_at_least(fleet, job_id, 0.3), 30)
            redis_server.restart()  # appendonly yes: what was acknowledged survives
            done = await asyncio.wait_for(fleet.wait(job_id, poll=0.1), 60)
            assert done.status == "complete"
            resent = await _check_nothing_lost(fleet, server, job_id, ids)
            assert await _saq.queue_status(fleet._queue, job_id) == "complete"
    assert resent <= 4 * 100
