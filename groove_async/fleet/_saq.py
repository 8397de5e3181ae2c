"""The queue: saq on Redis. The only module of groove_async that imports saq (ruff's banned-api
and an import-linter contract keep it so).

A saq job carries only the fleet job's ID (its input and progress live in the fleet's own keys,
:mod:`~groove_async.fleet._store`). It has no time limit, a heartbeat instead: a worker that
stops beating (killed, frozen, cut off) has its job swept and re-queued by another worker
within about ``heartbeat`` + :data:`SWEEP` + :data:`SWEEP_ABORT` seconds, and the job resumes
from what was recorded. Its retries are practically unlimited for that reason; a job that
fails on its own (no token, token refused) is made not retryable before it ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError
from saq.job import Job, Status
from saq.queue.redis import RedisQueue
from saq.worker import Worker

from ._worker import JobExecutor, JobFailed

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_HEARTBEAT",
    "Status",
    "abort",
    "enqueue",
    "open_queue",
    "queue_status",
    "run_worker",
]

_log = logging.getLogger("groove_async.fleet")

QUEUE_NAME: Final = "groove-fleet"
FUNCTION: Final = "groove_import"
DEFAULT_HEARTBEAT: Final = 5
"""Seconds without a heartbeat after which a job counts as abandoned by its worker."""
SWEEP: Final = 2
"""Seconds between two sweeps for abandoned jobs (one worker sweeps at a time)."""
SWEEP_ABORT: Final = 1.0
"""Seconds a sweep waits for an abandoned job's worker to acknowledge the abort (a dead one
never does)."""
_RETRIES: Final = 1_000_000
_STATUS: Final = {
    Status.NEW: "queued",
    Status.QUEUED: "queued",
    Status.ACTIVE: "active",
    Status.ABORTING: "active",
    Status.ABORTED: "aborted",
    Status.FAILED: "failed",
    Status.COMPLETE: "complete",
}


class _Queue(RedisQueue):
    """saq's Redis queue, sweeping without a long wait for a dead worker's acknowledgement."""

    async def sweep(self, lock: int = 60, abort: float = SWEEP_ABORT) -> list[str]:
        return await super().sweep(lock, abort)


def open_queue(redis: Redis) -> RedisQueue:
    """The fleet's queue on ``redis``."""
    return _Queue(redis, name=QUEUE_NAME)


async def enqueue(queue: RedisQueue, job_id: str, *, heartbeat: int, ttl: int) -> None:
    """Queue the fleet job ``job_id`` (its saq key is its ID)."""
    job = Job(
        FUNCTION,
        kwargs={"job_id": job_id},
        key=job_id,
        timeout=0,
        heartbeat=heartbeat,
        retries=_RETRIES,
        ttl=ttl,
    )
    await queue.enqueue(job)


async def queue_status(queue: RedisQueue, job_id: str) -> str | None:
    """The saq job's status in the fleet's words, or ``None`` when saq has no such job."""
    job = await queue.job(job_id)
    return None if job is None else _STATUS[job.status]


async def abort(queue: RedisQueue, job_id: str, reason: str) -> None:
    """Abort the saq job: a queued one never starts, an active one is cancelled."""
    job = await queue.job(job_id)
    if job is not None and job.status not in (Status.ABORTED, Status.FAILED, Status.COMPLETE):
        await queue.abort(job, reason)


async def _beat(job: Job, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await job.update()
        except (
            RedisError,
            OSError,
        ) as exc:  # Redis away for a moment: the next beat may get through
            _log.warning("job %s: heartbeat failed: %s", job.key, type(exc).__name__)


async def run_worker(
    redis: Redis, executor: JobExecutor, *, jobs: int, heartbeat: int = DEFAULT_HEARTBEAT
) -> None:
    """Run jobs, ``jobs`` at a time, until SIGTERM or SIGINT (or cancellation).

    On a signal saq cancels the jobs running and hands them back to the queue: another worker
    resumes each from what was recorded.
    """
    queue = open_queue(redis)

    async def groove_import(ctx: Any, *, job_id: str) -> str:
        job: Job = ctx["job"]
        # Three beats per heartbeat of the job's own (set by whoever submitted it).
        beat = asyncio.create_task(_beat(job, max(0.2, (job.heartbeat or heartbeat) / 3)))
        try:
            return await executor.execute(job_id)
        except JobFailed:
            job.retries = job.attempts  # its own failure: not to be retried by saq
            raise
        finally:
            beat.cancel()

    worker = Worker(
        queue,
        id=f"{socket.gethostname()}:{os.getpid()}",  # who runs a job, as an operator names it
        functions=[(FUNCTION, groove_import)],
        concurrency=jobs,
        timers={"sweep": SWEEP, "abort": 1, "schedule": 1, "worker_info": 10},
    )
    await worker.start()
