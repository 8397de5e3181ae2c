"""Bounded, order-keeping fan-out of batches: one :class:`Pipeline` per bulk call or stream.

The steps, each a method:

* **read** the caller's input (a list, an iterable or an async iterable), in batch-sized chunks;
* **plan** each chunk into segments (:mod:`groove_async._batching`): validated, de-duplicated,
  cut at ``batch_size`` new IDs; planning is synchronous, so a cancellation never finds inputs
  half-planned, and every closed segment is queued before anything waits;
* **schedule** each segment when the client-wide :class:`~groove_async._flow.ConcurrencyLimit`
  grants a slot (and, with a ``window``, when few enough segments wait to be emitted);
* **send one** segment in its own task, through the send path, which finishes it whatever
  happens;
* **emit** finished segments strictly in input order.

An :class:`~groove_async._operation.Operation` can stop early (a stop event, a deadline, an
authentication failure, the client closing). Then nothing new is read or sent, in-flight sends
finish (graceful) or are cancelled (hard), and every input read so far still gets a result:
NOT_SENT if none of its attempts went out, FAILED if one did and no answer came.

Every task is owned: nothing outlives :meth:`Pipeline.segments`. When it is closed or cancelled,
the reader and in-flight sends are cancelled and awaited before it returns. A slot is released
by the done callback of the task that holds it, which runs even for a task cancelled before its
first step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import Final, cast

from ._batching import BatchPlanner, Segment
from ._errors import AuthenticationError
from ._flow import ConcurrencyLimit
from ._ids import IdValidator
from ._models import Columns, ErrorInfo, Outcome
from ._operation import InputReader, Operation, settle_unanswered

__all__ = ["Pipeline", "add_segment"]

logger: Final = logging.getLogger("groove_async")

SendSegment = Callable[[Segment], Awaitable[None]]
Invalid = TypeError | ValueError


def add_segment(columns: Columns, segment: Segment) -> None:
    """Append a finished segment's results to ``columns``."""
    assert segment.columns is not None
    columns.extend(segment.columns)


class Pipeline:
    """Sends every segment of ``inputs`` and emits the finished segments in input order.

    Args:
        inputs: the caller's IDs (validated already, unless ``validator`` is given).
        operation: the operation's shared state (stop reason, abort event).
        planner: cuts inputs into segments.
        send: sends one segment and finishes it; raises only ``AuthenticationError`` (which
            stops the whole operation) or ``CancelledError``.
        limit: the client-wide concurrency limit, one slot per send in flight.
        validator: checks each input as it is read (streams).
        window: the most segments read but not yet emitted; ``None`` for no limit.
        registry: a set the tasks are added to while they run (the client cancels them on close).
    """

    def __init__(
        self,
        inputs: Iterable[object] | AsyncIterable[object],
        *,
        operation: Operation,
        planner: BatchPlanner,
        send: SendSegment,
        limit: ConcurrencyLimit,
        validator: IdValidator | None = None,
        window: int | None = None,
        registry: set[asyncio.Task[None]] | None = None,
    ) -> None:
        self._operation = operation
        self._planner = planner
        self._send = send
        self._limit = limit
        self._validator = validator
        self._window = window
        self._registry = registry
        self._queue: deque[Segment] = deque()  # planned, not yet emitted, in input order
        # The one reader of the caller's input; its `pending`: read, not yet planned.
        self._reader = InputReader(inputs, operation, planner.batch_size)
        self._wake = asyncio.Event()  # a segment finished, reading ended, or the operation stopped
        self._drained = asyncio.Event()  # a segment was emitted
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading_done = False
        self._input_error: BaseException | None = None
        self._fatal: AuthenticationError | None = None
        operation.on_stop(self._on_stop)

    # -- emit ---------------------------------------------------------------------------------

    async def segments(self) -> AsyncGenerator[Segment, None]:
        """The finished segments, in input order.

        Raises:
            AuthenticationError: after in-flight sends settled; ``partial`` holds the results of
                every input read and not yet emitted.
            TypeError, ValueError: an invalid input (after every input before it was emitted).
            Exception: whatever the caller's iterable raised, likewise after the inputs it gave.
        """
        reader = asyncio.create_task(self._read_all(), name="groove-feeder")
        self._track(reader)
        try:
            while self._operation.reason is None:
                segment = await self._next_in_order()
                if segment is None:
                    break
                yield segment
            if self._operation.reason is not None:
                for segment in await self._stop_early(reader):
                    yield segment
            if self._input_error is not None:
                raise self._input_error
        finally:
            await _settle(self._tasks, cancel=True)

    async def _next_in_order(self) -> Segment | None:
        """The next segment once it is finished; ``None`` at the end or when stopped."""
        queue = self._queue
        while True:
            self._wake.clear()
            if self._operation.reason is not None:
                return None
            if queue and queue[0].finished:
                self._drained.set()
                return queue.popleft()
            if not queue and self._reading_done:
                return None
            await self._wake.wait()

    async def _stop_early(self, reader: asyncio.Task[None]) -> list[Segment]:
        """Read nothing more, let in-flight sends finish (or cancel them for a hard stop), then
        answer every input read so far; raise the authentication failure that stopped it."""
        reader.cancel()
        if self._operation.hard:
            for task in tuple(self._tasks):
                task.cancel()
        await _settle(self._tasks)
        rest = list(self._queue)
        self._queue.clear()
        for segment in rest:
            settle_unanswered(segment, self._operation)
        if self._fatal is not None:
            columns = Columns()
            for segment in rest:
                add_segment(columns, segment)
            self._fatal.partial = columns.build()
            raise self._fatal
        return rest

    def _on_stop(self) -> None:
        self._wake.set()
        if self._operation.hard:  # also when a hard stop follows a graceful one already settling
            for task in tuple(self._tasks):
                task.cancel()

    # -- read -----------------------------------------------------------------------------------

    async def _read_all(self) -> None:
        """The reader task: read, plan and schedule everything; keep what was read if stopped."""
        try:
            await self._read()
            await self._flush()
        except asyncio.CancelledError:
            self._plan_pending_now()
            if self._operation.reason is None:  # cancelled from outside (the client closing)
                self._operation.stop("cancelled")
            raise
        except Exception as exc:  # noqa: BLE001  (an invalid ID, or the caller's iterable
            # failed: re-raised to the caller once every input read before it is answered)
            self._input_error = exc
            await self._send_what_was_read()
        finally:
            self._reading_done = True
            self._wake.set()

    async def _read(self) -> None:
        # A chunk handed out is planned before _feed_chunk's first wait: a cancellation in
        # between can lose nothing (what is still pending is planned by _plan_pending_now).
        async with contextlib.aclosing(self._reader.chunks()) as chunks:
            async for chunk in chunks:
                await self._feed_chunk(chunk)

    async def _send_what_was_read(self) -> None:
        """The source failed part-way through a chunk: send what it gave before the failure."""
        try:
            if self._reader.pending:
                await self._feed_chunk(self._reader.take())
        except (TypeError, ValueError) as invalid:  # an invalid ID came before the failure
            self._input_error = invalid
        await self._flush()

    def _plan_pending_now(self) -> None:
        """Cancelled: what was read still gets a result (NOT_SENT), planned without sending."""
        segments, invalid = self._plan(self._reader.take())
        self._admit(segments)
        if invalid is not None and self._input_error is None:
            self._input_error = invalid
        segment = self._planner.flush()
        if segment is not None:
            self._admit([segment])

    # -- plan -----------------------------------------------------------------------------------

    async def _feed_chunk(self, chunk: list[object]) -> None:
        segments, invalid = self._plan(chunk)
        self._admit(segments)
        for segment in segments:
            await self._schedule(segment)
        if invalid is not None:
            raise invalid

    async def _flush(self) -> None:
        segment = self._planner.flush()
        if segment is not None:
            self._admit([segment])
            await self._schedule(segment)

    def _plan(self, chunk: list[object]) -> tuple[list[Segment], Invalid | None]:
        """The segments ``chunk`` closes and, when an input is invalid, its error (the inputs
        before it are planned). Synchronous: nothing is half-planned if we are cancelled."""
        planner, validator = self._planner, self._validator
        if validator is None:
            return planner.feed_many(cast(list[str], chunk)), None
        try:
            return planner.feed_many(validator.check_many(chunk, planner.position)), None
        except (TypeError, ValueError):
            segments: list[Segment] = []
            for raw in chunk:
                try:
                    segment = planner.feed(validator.check(raw, planner.position))
                except (TypeError, ValueError) as invalid:
                    return segments, invalid
                if segment is not None:
                    segments.append(segment)
            raise  # unreachable: check_many and check agree

    def _admit(self, segments: list[Segment]) -> None:
        """Queue closed segments before any wait, so that none is ever dropped."""
        self._queue.extend(segments)
        for segment in segments:
            if not segment.sent:  # nothing new: every input repeats an earlier one
                segment.finish(Columns())
                self._planner.forget(segment)
                self._wake.set()

    # -- schedule and send one ------------------------------------------------------------------

    async def _schedule(self, segment: Segment) -> None:
        if segment.finished:
            return
        window = self._window
        while window is not None and len(self._queue) > window:
            self._drained.clear()
            await self._drained.wait()
        await self._limit.acquire()
        if self._operation.abort.is_set():
            self._limit.release()
            return
        task = asyncio.create_task(self._send_one(segment), name=f"groove-batch-{segment.seq}")
        # Nothing can interrupt us between these lines.
        self._tasks.add(task)
        if self._registry is not None:
            self._registry.add(task)
        task.add_done_callback(self._release)

    def _release(self, task: asyncio.Task[None]) -> None:
        # A done callback, not a `finally` in _send_one: a task cancelled before its first step
        # never runs its body, and its slot would be held for good (every later call hangs).
        # One callback for all that a batch's end releases: each is a trip through the loop.
        self._limit.release()
        self._wake.set()
        self._tasks.discard(task)
        if self._registry is not None:
            self._registry.discard(task)

    async def _send_one(self, segment: Segment) -> None:
        try:
            await self._send(segment)
        except AuthenticationError as exc:
            if self._fatal is None:
                self._fatal = exc
            self._operation.stop("auth")
        except asyncio.CancelledError:
            settle_unanswered(segment, self._operation)
            raise
        except Exception as exc:
            # A bug, not a service failure: never let it strand the segment's inputs.
            logger.exception("groove_async: unexpected error while sending a batch")
            if not segment.finished:
                segment.finish_all(
                    Outcome.FAILED, ErrorInfo("CLIENT_ERROR", type(exc).__name__, str(exc))
                )
        finally:
            if segment.finished:
                self._planner.forget(segment)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._registry is not None:
            self._registry.add(task)
            task.add_done_callback(self._registry.discard)


async def _settle(tasks: set[asyncio.Task[None]], *, cancel: bool = False) -> None:
    """Wait for ``tasks`` to end (cancelling them first if asked) without raising."""
    pending = set(tasks)
    if not pending:
        return
    if cancel:
        for task in pending:
            task.cancel()
    await asyncio.wait(pending)
