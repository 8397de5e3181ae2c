"""The fleet's Python API: :class:`Fleet` submits and follows jobs, and runs workers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Final

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from groove_async import IdValidator

from . import _saq
from ._names import TERMINAL, check_action, check_user, input_digest
from ._store import Item, JobProgress, Record, Store
from ._worker import DEFAULT_RESULTS_TTL, JobExecutor, WorkerOptions

__all__ = ["Fleet", "FleetError", "UnknownJob"]

_VALIDATOR: Final = IdValidator("music")
DEFAULT_REDIS_RETRIES: Final = 20
"""Retries of a Redis command while Redis is unreachable (about 15 seconds: a restart)."""


class FleetError(Exception):
    """Redis cannot be reached or refused the fleet (one line; the URL's password left out)."""


class UnknownJob(FleetError, LookupError):
    """No job has this ID (never submitted, or expired after its results were kept)."""


@contextlib.contextmanager
def _redis_errors(url: str) -> Iterator[None]:
    try:
        yield
    except redis.exceptions.ConnectionError as exc:
        raise FleetError(f"cannot reach Redis at {_safe(url)}: {_first_line(exc)}") from None
    except redis.exceptions.TimeoutError:
        raise FleetError(f"Redis at {_safe(url)} did not answer in time") from None
    except redis.exceptions.RedisError as exc:
        raise FleetError(f"Redis at {_safe(url)} refused: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _safe(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user + ':***' if user else '***'}@{host}"


def _invalid(track_id: str, problem: str) -> Record:
    return {
        "input_id": track_id,
        "id": None,
        "outcome": "REJECTED",
        "error": {
            "code": "INVALID_INPUT",
            "description": f"Not a valid track ID: {problem}",
            "message": None,
        },
    }


class Fleet:
    """Jobs on saq and Redis: submit imports, follow them, read their results, run workers.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with Fleet("redis://127.0.0.1:6379/0") as fleet:
            job_id = await fleet.submit("alice", "add", track_ids)

    Args:
        redis_url: the Redis URL (``redis://``, ``rediss://`` or ``unix://``).
        heartbeat: seconds without a heartbeat after which a job's worker counts as dead and
            another takes the job over (jobs submitted through this object).
        results_ttl: seconds a finished job's status and results are kept.
        redis_retries: how often a Redis command is tried again while Redis cannot be reached
            (backing off from 0.05 to 1 second): the default rides out a restart of about 15
            seconds; a command line that should fail fast passes a few.

    Raises:
        FleetError: the URL is malformed.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        heartbeat: int = _saq.DEFAULT_HEARTBEAT,
        results_ttl: int = DEFAULT_RESULTS_TTL,
        redis_retries: int = DEFAULT_REDIS_RETRIES,
    ) -> None:
        try:
            self._redis = aioredis.from_url(
                redis_url,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), redis_retries),
                retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
            )
        except ValueError as exc:
            raise FleetError(f"not a Redis URL: {_safe(redis_url)} ({exc})") from None
        self._url = redis_url
        self._store = Store(self._redis)
        self._queue = _saq.open_queue(self._redis)
        self._heartbeat = heartbeat
        self._ttl = results_ttl

    def __repr__(self) -> str:
        return f"Fleet({_safe(self._url)!r})"

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the Redis connections."""
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            await self._queue.disconnect()

    async def ping(self) -> None:
        """Check that Redis answers.

        Raises:
            FleetError: it does not.
        """
        with _redis_errors(self._url):
            await self._redis.ping()  # type: ignore[misc]

    async def submit(self, user: str, action: str, track_ids: Iterable[str]) -> str:
        """Queue one user's import and return its job ID.

        A string that is not a valid track ID is not refused: it gets its result at once
        (REJECTED, ``INVALID_INPUT``), as ``groove-async add`` does. The same user, action and
        input submitted again while the first job is unfinished returns the first job's ID.

        Args:
            user: the user's name (letters, digits, ``._@-``, not starting with a dot): the
                workers' token source turns it into a token. Never a token.
            action: ``"add"`` or ``"delete"``.
            track_ids: the IDs, in order (all read before anything is sent to Redis).

        Raises:
            TypeError, ValueError: a bad user name, action, or an input that is not a string.
            FleetError: Redis cannot be reached.
        """
        items: list[Item] = []
        for position, track_id in enumerate(track_ids):
            try:
                items.append(_VALIDATOR.check(track_id, position))
            except ValueError as exc:
                reason = str(exc).removeprefix(f"track ID at position {position} ")
                items.append(_invalid(track_id, reason))
        return await self.submit_items(user, action, items, [str(i) for i in track_ids_of(items)])

    async def submit_items(
        self, user: str, action: str, items: Sequence[Item], lines: Iterable[str]
    ) -> str:
        """Queue a job of inputs already checked: an ID to send, or the final record of an
        input that is not one; ``lines`` (the input as read) name it for de-duplication."""
        check_user(user)
        check_action(action)
        digest = input_digest(user, action, lines)
        job_id = uuid.uuid4().hex
        with _redis_errors(self._url):
            await self._store.stage(job_id, user, action, items, digest)
            standing = await self._store.claim(digest, job_id)
            if standing != job_id:
                await self._store.discard(job_id)
            if standing == job_id or await _saq.queue_status(self._queue, standing) is None:
                # Ours, or one whose submitter died between its claim and this enqueue (no
                # queue holds it): queued now. saq's key is the job's ID, so a second enqueue
                # racing the first submitter's adds nothing.
                await _saq.enqueue(self._queue, standing, heartbeat=self._heartbeat, ttl=self._ttl)
        return standing

    async def status(self, job_id: str) -> JobProgress:
        """Where the job stands.

        Raises:
            UnknownJob: there is no such job.
            FleetError: Redis cannot be reached.
        """
        with _redis_errors(self._url):
            queued = await _saq.queue_status(self._queue, job_id)
            progress = await self._store.progress(job_id, queued)
        if progress is None:
            raise UnknownJob(f"no job {job_id[:64]!r} (never submitted, or expired)")
        return progress

    async def results(self, job_id: str) -> AsyncIterator[Record]:
        """The job's results in input order, as ``groove-async add --output`` writes them
        (while it runs: those recorded so far).

        Raises:
            UnknownJob: there is no such job.
            FleetError: Redis cannot be reached.
        """
        await self.status(job_id)
        with _redis_errors(self._url):
            async for record in self._store.results(job_id):
                yield record

    async def cancel(self, job_id: str) -> JobProgress:
        """Abort the job: a queued one never starts, a running one stops (its batches in
        flight are abandoned). A finished job is left as it is.

        Raises:
            UnknownJob: there is no such job.
            FleetError: Redis cannot be reached.
        """
        await self.status(job_id)
        with _redis_errors(self._url):
            state = await self._store.set_state(job_id, "aborted", "cancelled")
            await _saq.abort(self._queue, job_id, "cancelled")
            spec = await self._store.spec(job_id)
            if state == "aborted" and spec is not None:
                await self._store.expire(job_id, self._ttl, spec.digest)
        return await self.status(job_id)

    async def jobs(self) -> list[JobProgress]:
        """Every job kept, oldest first.

        Raises:
            FleetError: Redis cannot be reached.
        """
        found = []
        with _redis_errors(self._url):
            ids = await self._store.job_ids()
        for job_id in ids:
            with contextlib.suppress(UnknownJob):  # expired meanwhile
                found.append(await self.status(job_id))
        return found

    async def wait(
        self,
        job_id: str,
        *,
        poll: float = 0.5,
        on_progress: Callable[[JobProgress], None] | None = None,
    ) -> JobProgress:
        """Follow the job until it ends; ``on_progress`` is called with every poll's progress.

        Raises:
            UnknownJob: there is no such job.
            FleetError: Redis cannot be reached.
        """
        while True:
            progress = await self.status(job_id)
            if on_progress is not None:
                on_progress(progress)
            if progress.status in TERMINAL:
                return progress
            await asyncio.sleep(poll)

    async def run_worker(self, options: WorkerOptions, *, jobs: int = 1) -> None:
        """Run jobs, ``jobs`` at a time, until SIGTERM/SIGINT or cancellation; a job still
        running then is handed back to the queue and resumed by another worker.

        Raises:
            FleetError: Redis cannot be reached at the start.
        """
        await self.ping()
        executor = JobExecutor(self._redis, options)
        await _saq.run_worker(self._redis, executor, jobs=jobs, heartbeat=self._heartbeat)


def track_ids_of(items: Sequence[Item]) -> Iterator[str]:
    """The input lines of ``items`` (an invalid one's as it was given)."""
    for item in items:
        yield item if isinstance(item, str) else str(item["input_id"])
