"""One run of a job: its chunks sent through a client, each recorded the moment it finishes.

The job's input is cut into chunks of :data:`~groove_async.fleet._names.CHUNK` positions; a
chunk is one POST. ``concurrency`` tasks take chunks in input order, and each records its chunk
as soon as its batch is answered (never waiting for an earlier, slower one), so that a crash
resends at most the chunks in flight. A job picked up again skips every final result and sends
only the rest (:mod:`~groove_async.fleet._store`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from groove_async import GrooveClient, TrackResult

from ._store import FINAL, Item, JobSpec, Record, Store, make_records

__all__ = ["JobRun", "durably", "record_of"]

_log = logging.getLogger("groove_async.fleet")
_NOT_IN_COLLECTION: Final = "COLLECTION_INVALID_ID"
_T = TypeVar("_T")

REDIS_PATIENCE: Final = 60.0
"""Seconds a worker keeps trying a Redis write while Redis is away (restarting, failing over)
before it gives the job up (another worker takes it over from what was recorded)."""


async def durably(step: Callable[[], Awaitable[_T]], patience: float = REDIS_PATIENCE) -> _T:
    """``step()``, tried again while Redis cannot be reached, for up to ``patience`` seconds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + patience
    delay = 0.1
    while True:
        try:
            return await step()
        except (ConnectionError, OSError, TimeoutError) as exc:
            _retry_or_raise(exc, loop.time() + delay > give_up)
        except Exception as exc:
            # redis-py's ConnectionError/TimeoutError are not the builtins: match them by name
            # so that this module needs no redis import.
            if type(exc).__name__ not in ("ConnectionError", "TimeoutError", "BusyLoadingError"):
                raise
            _retry_or_raise(exc, loop.time() + delay > give_up)
        await asyncio.sleep(delay)
        delay = min(2.0, delay * 2)


def _retry_or_raise(exc: BaseException, last: bool) -> None:
    if last:
        raise exc
    _log.warning("Redis unavailable (%s); trying again", type(exc).__name__)


def record_of(result: TrackResult) -> Record:
    """A result as ``groove-async add --output`` writes it."""
    return result.to_record()


def _gone(record: Record) -> Record:
    """A resent delete's item refused as not in the collection: the first attempt deleted it."""
    return {"input_id": record["input_id"], "id": None, "outcome": "SUCCEEDED", "error": None}


class JobRun:
    """Sends a job's unfinished chunks and records each one as it finishes.

    Args:
        store: the job state.
        spec: the job.
        client: the client to send with (its ``max_concurrency`` bounds the POSTs in flight).
        concurrency: chunks in flight at once.
    """

    def __init__(self, store: Store, spec: JobSpec, client: GrooveClient, concurrency: int) -> None:
        self._store = store
        self._spec = spec
        self._client = client
        self._concurrency = concurrency
        self.resent = 0
        """IDs sent again because an earlier run had them in flight or FAILED."""

    async def run(self) -> None:
        """Send and record every chunk that has no final result yet.

        Raises:
            AuthenticationError: the user's token was refused (the chunk in flight stays
                unrecorded).
        """
        job_id = self._spec.job_id
        recorded, inflight = await durably(lambda: self._store.recorded(job_id))
        todo = deque(
            k
            for k in range(self._spec.chunks)
            if k not in recorded or any(r["outcome"] not in FINAL for r in recorded[k])
        )
        async with asyncio.TaskGroup() as group:
            for _ in range(min(self._concurrency, len(todo))):
                group.create_task(self._take(todo, recorded, inflight))

    async def _take(
        self, todo: deque[int], recorded: dict[int, list[Record]], inflight: set[int]
    ) -> None:
        while todo:
            chunk = todo.popleft()
            await self._chunk(chunk, recorded.get(chunk), chunk in inflight)

    async def _chunk(self, chunk: int, before: list[Record] | None, was_inflight: bool) -> None:
        store, job_id = self._store, self._spec.job_id
        items = await durably(lambda: store.chunk_input(job_id, chunk))
        positions = _to_send(items, before)
        sent: dict[int, Record] = {}
        if positions:
            resent = {
                i
                for i in positions
                if was_inflight or (before is not None and before[i]["outcome"] == "FAILED")
            }
            self.resent += len(resent)
            await durably(lambda: store.begin(job_id, chunk))
            ids = [str(items[i]) for i in positions]
            if self._spec.action == "add":
                results = await self._client.add_tracks(ids)
            else:
                results = await self._client.delete_tracks(ids)
            for i, result in zip(positions, results, strict=True):
                record = record_of(result)
                if i in resent and self._spec.action == "delete" and _refused_as_gone(record):
                    record = _gone(record)
                sent[i] = record
        records = make_records(items, sent, before)
        await durably(lambda: store.record(job_id, chunk, records, before))


def _to_send(items: Sequence[Item], before: Sequence[Record] | None) -> list[int]:
    """The positions of a chunk to send: IDs without a final result."""
    return [
        i
        for i, item in enumerate(items)
        if isinstance(item, str) and (before is None or before[i]["outcome"] not in FINAL)
    ]


def _refused_as_gone(record: dict[str, Any]) -> bool:
    error = record["error"]
    return (
        record["outcome"] == "REJECTED"
        and error is not None
        and (error["code"] == _NOT_IN_COLLECTION)
    )
