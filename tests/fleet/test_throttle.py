"""One throttle per token: N workers on one token against the emulator's quota. With the
shared gate no request arrives inside an announced pause (beyond those already on their way);
with each worker's local gate only, the others keep sending into it."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from groove_async.fleet import Fleet
from groove_async.testing import FakeGrooveServer, FaultPlan, TokenQuota

from .conftest import TOKEN, USER, RedisServer, Workers, catalog_ids

pytestmark = pytest.mark.timeout(90)

LATENCY = 0.2
"""Every answer's latency but the quota's 429s (at once): one request per worker in flight, so
a worker that was not told sends its next one up to this long after a pause was announced."""
GRACE = 0.05
"""Requests arriving this soon after a pause's announcement were already on their way (the
news travels worker -> Redis -> the other workers in a few milliseconds)."""
RATE = 4
PER_JOB = 500


async def _run(redis_server: RedisServer, workers: Workers, count: int, *flags: str) -> TokenQuota:
    quota = TokenQuota(rate=RATE)
    async with FakeGrooveServer([TOKEN], faults=FaultPlan(latency=LATENCY)) as server:
        server.quota = quota
        await asyncio.gather(
            *(workers.start(server.url, "--concurrency", "1", *flags) for _ in range(count))
        )
        async with Fleet(redis_server.url, heartbeat=5) as fleet:
            jobs = [
                await fleet.submit(USER, "add", catalog_ids(PER_JOB, start=n * PER_JOB))
                for n in range(count)
            ]
            ends = await asyncio.wait_for(
                asyncio.gather(*(fleet.wait(job, poll=0.1) for job in jobs)), 60
            )
        assert len(server.collection(TOKEN)) == count * PER_JOB
    # Throttling is not failure: every job ends with every item SUCCEEDED.
    assert Counter(e.status for e in ends) == {"complete": count}
    assert all(e.succeeded == PER_JOB and e.failed == 0 for e in ends)
    await workers.stop_all()
    workers.started.clear()
    return quota


async def test_the_shared_gate_keeps_every_worker_out_of_an_announced_pause(
    redis_server: RedisServer, workers: Workers
) -> None:
    shared = {n: await _run(redis_server, workers, n) for n in (1, 2, 4)}
    local = await _run(redis_server, workers, 4, "--local-gate")
    for n, quota in shared.items():
        assert sum(quota.throttled.values()) > 0, n  # the quota was reached
        assert quota.violation_count(GRACE) == 0, (n, quota.violations)
    # Measured here: shared 0/0/0 beyond the grace (0, 2, 2 within it), local-only 5 (12 in all).
    assert local.violation_count(GRACE) > 0, local.violations
