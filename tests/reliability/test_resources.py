"""After many operations with faults: no leaked tasks, sockets or sessions."""

from __future__ import annotations

import asyncio
import gc
import os
from contextlib import aclosing

from groove_async import GrooveClient, RetryPolicy
from groove_async.testing import FakeGrooveServer, FaultPlan
from tests.conftest import catalog_id


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_thousand_operations_with_faults_leave_nothing_behind() -> None:
    faults = FaultPlan(
        p_503=0.1,
        p_429=0.05,
        retry_after=0.001,
        p_drop=0.05,
        p_truncated=0.05,
        p_missing_item=0.02,
        latency_jitter=0.002,
        seed=11,
    )
    policy = RetryPolicy(wait_initial=0.001, wait_max=0.005)
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    async with FakeGrooveServer(tokens=["t"], faults=faults) as server:
        for round_ in range(10):  # ten clients, a hundred operations each
            async with GrooveClient("t", base_url=server.url, retry=policy) as groove:
                for op in range(100):
                    kind = op % 4
                    if kind == 0:
                        result = await groove.add_tracks(
                            [catalog_id(round_ * 1000 + op * 3 + i) for i in range(3)]
                        )
                        assert len(result) == 3
                    elif kind == 1:
                        singles = await asyncio.gather(
                            *(groove.add_track(catalog_id(op + i)) for i in range(5))
                        )
                        assert len(singles) == 5
                    elif kind == 2:
                        async with aclosing(
                            groove.stream_add_tracks(catalog_id(op + i) for i in range(150))
                        ) as stream:
                            async for _ in stream:
                                break  # abandon early: the stream must clean up
                    else:
                        result = await groove.delete_tracks(["music.AQQfAAAA" + str(op)])
                        assert len(result) == 1
        assert server.requests
    gc.collect()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - tasks_before == set()
    assert open_fds() <= fds_before
