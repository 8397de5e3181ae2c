"""Jobs end to end with a worker in this process (real Redis, the emulator's in-memory
transport): results, de-duplication, a user without a token, cancel, the terminal-state guard
against saq's sweep, and that no token reaches Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from groove_async import GrooveClient
from groove_async.fleet import DirectoryTokens, Fleet, UnknownJob, WorkerOptions, _saq
from groove_async.fleet._run import record_of
from groove_async.testing import FakeGrooveServer

from .conftest import TOKEN, USER, RedisServer, catalog_ids

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def running_worker(
    fleet: Fleet, server: FakeGrooveServer, tokens: Path, *, jobs: int = 1
) -> AsyncIterator[None]:
    options = WorkerOptions(
        tokens=DirectoryTokens(tokens),
        base_url="http://127.0.0.1:1",
        transport=server.transport(),
        concurrency=4,
    )
    task = asyncio.create_task(fleet.run_worker(options, jobs=jobs))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_job_runs_and_its_results_equal_a_one_process_add(
    redis_server: RedisServer, token_dir: Path
) -> None:
    ids = [*catalog_ids(950), "not-an-id", "music.00000001-0100-11DB-89CA-0019B92A3933"]
    server = FakeGrooveServer([TOKEN], seed=3)
    async with Fleet(redis_server.url, heartbeat=2) as fleet:
        job_id = await fleet.submit(USER, "add", ids)
        async with running_worker(fleet, server, token_dir):
            done = await asyncio.wait_for(fleet.wait(job_id, poll=0.05), 30)
        assert done.status == "complete"
        assert (done.total, done.done, done.succeeded, done.rejected, done.failed) == (
            952,
            952,
            951,
            1,
            0,
        )
        records = [r async for r in fleet.results(job_id)]
    assert [r["input_id"] for r in records] == ids
    assert records[950]["error"]["code"] == "INVALID_INPUT"
    # The same input through one client: the same records (adds are idempotent, same IDs).
    async with GrooveClient(TOKEN, transport=server.transport()) as client:
        again = await client.add_tracks([i for i in ids if i != "not-an-id"])
    expected = [record_of(r) for r in again]
    assert [r for r in records if r["input_id"] != "not-an-id"] == expected
    assert all(record_of(r) == r.to_record() for r in again)  # the --output format, one rule


async def test_a_duplicate_submit_returns_the_first_job_until_it_ends(
    redis_server: RedisServer, token_dir: Path
) -> None:
    ids = catalog_ids(30)
    server = FakeGrooveServer([TOKEN])
    async with Fleet(redis_server.url) as fleet:
        first = await fleet.submit(USER, "add", ids)
        assert await fleet.submit(USER, "add", ids) == first
        assert await fleet.submit(USER, "delete", ids) != first  # another action: another job
        assert await fleet.submit("bob", "add", ids) != first  # another user
        async with running_worker(fleet, server, token_dir):
            await asyncio.wait_for(fleet.wait(first, poll=0.05), 30)
        assert len(await fleet.jobs()) == 3
        again = await fleet.submit(USER, "add", ids)  # the first one ended: a new job
    assert again != first


async def test_a_submit_whose_submitter_died_before_the_enqueue_is_queued_by_the_next(
    redis_server: RedisServer, token_dir: Path
) -> None:
    # A submitter that dies between its claim on the input and saq's enqueue leaves a claimed
    # job that no queue holds: the next identical submit must queue it, not hand back a job
    # that never runs.
    ids = catalog_ids(20)
    server = FakeGrooveServer([TOKEN])
    async with Fleet(redis_server.url) as fleet:
        real_enqueue = _saq.enqueue
        calls = 0

        async def dies(*_args: Any, **_kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            raise ConnectionError("the submitter died here")

        _saq.enqueue = dies  # type: ignore[assignment]
        try:
            with pytest.raises(ConnectionError):
                await fleet.submit(USER, "add", ids)
        finally:
            _saq.enqueue = real_enqueue  # type: ignore[assignment]
        assert calls == 1
        job = await fleet.submit(USER, "add", ids)
        assert await _saq.queue_status(fleet._queue, job) is not None  # queued at last
        async with running_worker(fleet, server, token_dir):
            done = await asyncio.wait_for(fleet.wait(job, poll=0.05), 30)
        assert done.status == "complete" and done.succeeded == len(ids)
        assert await fleet.submit(USER, "add", ids) != job  # it ended: a new one


async def test_a_user_without_a_token_fails_with_the_reason_and_the_worker_goes_on(
    redis_server: RedisServer, token_dir: Path
) -> None:
    server = FakeGrooveServer([TOKEN])
    async with Fleet(redis_server.url) as fleet:
        orphan = await fleet.submit("nobody", "add", catalog_ids(5))
        fine = await fleet.submit(USER, "add", catalog_ids(5))
        async with running_worker(fleet, server, token_dir):
            failed = await asyncio.wait_for(fleet.wait(orphan, poll=0.05), 30)
            ok = await asyncio.wait_for(fleet.wait(fine, poll=0.05), 30)
    assert failed.status == "failed"
    assert failed.error == "no token file for the user 'nobody'"
    assert ok.status == "complete" and ok.succeeded == 5


async def test_cancel_keeps_a_queued_job_from_ever_starting(
    redis_server: RedisServer, token_dir: Path
) -> None:
    server = FakeGrooveServer([TOKEN])
    async with Fleet(redis_server.url) as fleet:
        job_id = await fleet.submit(USER, "add", catalog_ids(10))
        cancelled = await fleet.cancel(job_id)
        assert cancelled.status == "aborted"
        marker = await fleet.submit(USER, "add", catalog_ids(3, start=500))
        async with running_worker(fleet, server, token_dir):
            await asyncio.wait_for(fleet.wait(marker, poll=0.05), 30)
        status = await fleet.status(job_id)
    assert status.status == "aborted" and status.done == 0
    assert len(server.collection(TOKEN)) == 3  # only the marker job's tracks


async def test_unknown_job(redis_server: RedisServer) -> None:
    async with Fleet(redis_server.url) as fleet:
        with pytest.raises(UnknownJob):
            await fleet.status("no-such-job")


async def test_a_failed_job_stays_failed_when_the_sweep_aborts_it_afterwards(
    redis_server: RedisServer, token_dir: Path
) -> None:
    """saq 0.26's sweep may take a just-dequeued job for a stray, abort it and write "aborted"
    over the "failed" its worker set: the fleet's own terminal state wins."""
    async with Fleet(redis_server.url) as fleet:
        job_id = await fleet.submit("nobody", "add", catalog_ids(5))
        queue = fleet._queue
        job = await queue.dequeue()  # dequeued, not yet marked active: the sweep's prey
        assert job is not None and job.key == job_id
        server = FakeGrooveServer([TOKEN])
        async with running_worker(fleet, server, token_dir):
            # The worker cannot have it (it is ours); fail it as the worker would, then sweep.
            await fleet._store.set_state(job_id, "failed", "no token file for the user 'nobody'")
            swept = await queue.sweep(lock=1)
        assert job.id in swept
        # The sweep re-queued it and the worker ran it again (or saq wrote "aborted"): the
        # job's own terminal state stands either way.
        await asyncio.sleep(0.5)
        await queue.finish(job, _saq.Status.ABORTED, error="swept")  # the pitfall, for certain
        status = await fleet.status(job_id)
    assert status.status == "failed"
    assert status.error == "no token file for the user 'nobody'"


async def test_no_token_is_written_to_redis(redis_server: RedisServer, token_dir: Path) -> None:
    server = FakeGrooveServer([TOKEN])
    async with Fleet(redis_server.url) as fleet:
        job_id = await fleet.submit(USER, "add", catalog_ids(120))
        nobody = await fleet.submit("nobody", "add", catalog_ids(2))
        async with running_worker(fleet, server, token_dir):
            await asyncio.wait_for(fleet.wait(job_id, poll=0.05), 30)
            await asyncio.wait_for(fleet.wait(nobody, poll=0.05), 30)
    client = redis_server.client()
    dump: list[Any] = []
    for key in client.scan_iter():
        dump.append(key)
        kind = client.type(key)
        if kind == b"string":
            dump.append(client.get(key))
        elif kind == b"hash":
            dump.extend(client.hgetall(key).items())
        elif kind == b"list":
            dump.extend(client.lrange(key, 0, -1))
        elif kind in (b"set", b"zset"):
            dump.extend(client.zrange(key, 0, -1) if kind == b"zset" else client.smembers(key))
    client.close()
    assert dump
    assert TOKEN.encode() not in repr(dump).encode()


async def test_each_batch_is_recorded_the_moment_it_finishes_not_in_input_order(
    redis_server: RedisServer, token_dir: Path
) -> None:
    """The issue's pitfall: results recorded in input order (as a stream yields them) leave
    finished batches unrecorded behind a slow one, and a crash resends them."""
    from groove_async.testing import ScriptedResponse

    ids = catalog_ids(500)
    server = FakeGrooveServer([TOKEN])
    server.script(ScriptedResponse(503, delay=1.5))  # the first batch: slow, then retried
    async with Fleet(redis_server.url) as fleet:
        job_id = await fleet.submit(USER, "add", ids)
        async with running_worker(fleet, server, token_dir):
            while (await fleet.status(job_id)).done < 400:
                await asyncio.sleep(0.02)
            recorded = {r["input_id"] async for r in fleet.results(job_id)}
            missing = [n for n, track_id in enumerate(ids) if track_id not in recorded]
            # The slow batch (one of the first four sent) is still out, and the batches after
            # it are recorded already: a hole, not a prefix.
            assert len(missing) == 100 and missing[0] < 400, missing[:3]
            done = await asyncio.wait_for(fleet.wait(job_id, poll=0.05), 30)
    assert done.succeeded == 500
