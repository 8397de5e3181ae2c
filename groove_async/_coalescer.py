"""DataLoader-style front end: many single ``add_track`` calls become 100-ID batches.

Calls from any number of tasks are appended to a buffer; the buffer is sent as one batch when it
holds ``batch_size`` IDs or when the linger window (a few milliseconds) after its first ID ends.
The buffer is swapped for a new one *before* anything awaits, so no call is ever lost or sent
twice (the boto3 BatchWriter trap).

Each caller awaits its own future: cancelling one caller cancels only that future, not the
batch; its ID still reaches the service and the result still reaches every other caller of the
same ID.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from ._batching import BatchPlanner, Segment
from ._errors import AuthenticationError
from ._flow import ConcurrencyLimit
from ._models import BulkResult, Columns, TrackResult
from ._operation import Operation

__all__ = ["Coalescer", "SendSegment"]

#: The send path: sends one segment of an operation and finishes it (raises only
#: AuthenticationError, after finishing it NOT_SENT, or CancelledError).
SendSegment = Callable[[Operation, Segment], Awaitable[None]]


class Coalescer:
    """Gathers single IDs into batches for one action.

    Args:
        action: ``"add"`` or ``"delete"``.
        send: the client's send path; each batch goes through it under ``limit``.
        limit: the client-wide concurrency limit.
        batch_size: the most IDs per batch.
        linger: seconds to wait for more IDs after the first one of a batch.
        registry: a set the batch tasks are added to while they run.
    """

    __slots__ = (
        "_action",
        "_batch_size",
        "_futures",
        "_ids",
        "_inflight",
        "_limit",
        "_linger",
        "_registry",
        "_send",
        "_timer",
    )

    def __init__(
        self,
        action: str,
        send: SendSegment,
        limit: ConcurrencyLimit,
        *,
        batch_size: int,
        linger: float,
        registry: set[asyncio.Task[None]],
    ) -> None:
        self._action = action
        self._send = send
        self._limit = limit
        self._batch_size = batch_size
        self._linger = linger
        self._registry = registry
        # Two parallel lists rather than a list of (id, future) pairs: one object fewer per
        # call for the collector to walk while thousands of callers wait.
        self._ids: list[str] = []
        self._futures: list[asyncio.Future[TrackResult]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """IDs buffered and not yet sent."""
        return len(self._ids)

    def enqueue(self, track_id: str) -> asyncio.Future[TrackResult]:
        """Queue one ID; return the future of its result, for the caller to await.

        A future rather than a coroutine: awaiting it directly saves a frame per call, which
        counts when thousands of callers wait at once. It raises
        :class:`~groove_async.AuthenticationError` when the batch's token was refused and
        could not be refreshed; each caller gets its own exception, whose ``partial`` holds its
        own result.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[TrackResult] = loop.create_future()
        ids = self._ids
        ids.append(track_id)
        self._futures.append(future)
        if len(ids) >= self._batch_size:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._linger, self.flush)
        # A cancelled caller cancels only its own future; the batch skips it when answering,
        # and the ID still goes out for the callers that share it.
        return future

    def flush(self) -> None:
        """Send what is buffered now, as one batch."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._ids:
            return
        ids, futures = self._ids, self._futures
        self._ids, self._futures = [], []
        task = asyncio.get_running_loop().create_task(
            self._run(ids, futures), name="groove-coalesced"
        )
        # A task cancelled before its first step never runs _run's handlers: its callers would
        # wait for good. The done callback runs whatever is cancelled when; one callback for
        # all a batch's end releases (each is a trip through the loop).
        self._inflight.add(task)
        self._registry.add(task)
        task.add_done_callback(functools.partial(self._ended, futures))

    def _ended(self, futures: list[asyncio.Future[TrackResult]], task: asyncio.Task[None]) -> None:
        _cancel_unanswered(futures)
        self._inflight.discard(task)
        self._registry.discard(task)

    async def drain(self) -> None:
        """Send what is buffered and wait until every batch in flight has answered its callers."""
        self.flush()
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def _send_batch(
        self, ids: list[str]
    ) -> tuple[list[TrackResult], AuthenticationError | None]:
        """Send buffered IDs (repeats once) as one batch; results per ID, or the authentication
        failure that stopped it (the results are then NOT_SENT)."""
        planner = BatchPlanner(self._batch_size)
        segments = planner.feed_many(ids)
        last = planner.flush()
        if last is not None:
            segments.append(last)
        operation = Operation(self._action)
        error: AuthenticationError | None = None
        for segment in segments:  # one, unless batch_size shrank the batch
            if not segment.sent:  # every ID repeats one of an earlier segment
                segment.finish(Columns())
                continue
            await self._limit.acquire()
            try:
                await self._send(operation, segment)
            except AuthenticationError as exc:
                error = exc
            finally:
                self._limit.release()
        return [r for s in segments for r in s.results or ()], error

    async def _run(self, ids: list[str], futures: list[asyncio.Future[TrackResult]]) -> None:
        try:
            results, error = await self._send_batch(ids)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:  # a bug: answer the callers rather than leave them hanging
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            raise
        for future, result in zip(futures, results, strict=True):
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                # Each caller gets its own exception object: one instance shared by many
                # awaiting tasks would collect all their tracebacks.
                future.set_exception(
                    AuthenticationError(
                        str(error),
                        status=error.status,
                        code=error.code,
                        partial=BulkResult([result]),
                    )
                )


def _cancel_unanswered(futures: list[asyncio.Future[TrackResult]]) -> None:
    for future in futures:
        if not future.done():
            future.cancel()
