"""Bounded, order-keeping fan-out of batches.

One engine serves bulk calls and streams. A *feeder* task reads the caller's input, validates
and plans it into segments (:mod:`groove_async._batching`) and starts one send task per segment
whenever the client-wide :class:`~groove_async._flow.ConcurrencyLimit` grants a slot. The
consumer (the async generator below) emits finished segments strictly in input order. With a
``window`` the feeder also stops reading while that many segments wait to be emitted, which
bounds memory for endless streams.

An :class:`Operation` can be stopped early (a stop event, a deadline, an authentication failure,
the client closing). Then nothing new is sent, in-flight sends finish (graceful) or are cancelled
(hard), and every input read so far still gets a result: NOT_SENT if none of its attempts went
out, FAILED if one did and no answer came.

Every task is owned: nothing outlives the generator. When it is closed or cancelled, the feeder
and in-flight sends are cancelled and awaited before the generator returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import Final, cast

from ._batching import BatchPlanner, IdValidator, Segment
from ._errors import AuthenticationError
from ._flow import ConcurrencyLimit
from ._models import ErrorInfo, Outcome, ResultColumns

__all__ = [
    "STOP_REASONS",
    "Operation",
    "add_segment",
    "read_until_stopped",
    "run_pipeline",
    "settle_unanswered",
]

logger: Final = logging.getLogger("groove_async")

SendSegment = Callable[[Segment], Awaitable[None]]

#: Why an operation stopped early -> (NOT_SENT info, FAILED info for items sent but unanswered).
STOP_REASONS: Final[dict[str, tuple[ErrorInfo, ErrorInfo]]] = {
    "stopped": (
        ErrorInfo("NOT_SENT", "Not sent: the operation was stopped"),
        ErrorInfo("STOPPED", "Sent, but the operation was stopped before an answer came"),
    ),
    "deadline": (
        ErrorInfo("NOT_SENT", "Not sent: the operation's deadline passed"),
        ErrorInfo("DEADLINE_EXCEEDED", "Sent, but the deadline passed before an answer came"),
    ),
    "auth": (
        ErrorInfo("NOT_SENT", "Not sent: the operation stopped after an authentication failure"),
        ErrorInfo(
            "AUTHENTICATION_FAILED",
            "Sent, but the operation stopped after an authentication failure before an answer",
        ),
    ),
    "closed": (
        ErrorInfo("NOT_SENT", "Not sent: the client was closed"),
        ErrorInfo("CLIENT_CLOSED", "Sent, but the client was closed before an answer came"),
    ),
    "cancelled": (
        ErrorInfo("NOT_SENT", "Not sent: the operation was cancelled"),
        ErrorInfo("CANCELLED", "Sent, but the operation was cancelled before an answer came"),
    ),
}


class Operation:
    """What the sends of one bulk call, stream or coalesced batch share.

    Attributes:
        action: ``"add"`` or ``"delete"``.
        abort: set once the operation stops early; sends check it before every attempt and
            their waits wake on it.
        reason: why it stopped (a key of :data:`STOP_REASONS`), else ``None``.
        hard: whether in-flight sends are to be cancelled rather than finished.
    """

    __slots__ = ("_listeners", "abort", "action", "deadline_at", "hard", "reason")

    def __init__(self, action: str) -> None:
        self.action = action
        self.abort = asyncio.Event()
        self.reason: str | None = None
        self.hard = False
        #: ``time.monotonic()`` at which the deadline passes, if there is one (for loops that
        #: read a caller's plain iterator without yielding, where no timer can fire).
        self.deadline_at: float | None = None
        self._listeners: list[Callable[[], None]] = []

    def stop(self, reason: str, *, hard: bool = False) -> None:
        """Stop the operation (the first reason wins, unless a hard stop follows a graceful one)."""
        if self.reason is None or (hard and not self.hard):
            # A hard stop's reason explains the POSTs it abandons, even after a graceful one.
            self.reason = reason
        self.hard = self.hard or hard
        self.abort.set()
        for listener in self._listeners:
            listener()

    def on_stop(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever :meth:`stop` is called; returns what unregisters it."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def overdue(self) -> bool:
        """Stop the operation if its deadline has passed; return whether it is stopped."""
        if self.deadline_at is not None and time.monotonic() >= self.deadline_at:
            self.stop("deadline", hard=True)
        return self.reason is not None

    def infos(self) -> tuple[ErrorInfo, ErrorInfo]:
        """(NOT_SENT info, FAILED info) for the items this stop leaves unanswered."""
        return STOP_REASONS[self.reason or "cancelled"]

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, waking early if the operation stops."""
        if self.abort.is_set():
            return
        try:
            async with asyncio.timeout(seconds):
                await self.abort.wait()
        except TimeoutError:
            pass


def settle_unanswered(segment: Segment, operation: Operation) -> None:
    """Finish ``segment`` if it is not: NOT_SENT, or FAILED when an attempt went out."""
    if segment.finished:
        return
    not_sent, failed = operation.infos()
    if segment.attempted:
        segment.finish_all(Outcome.FAILED, failed)
    else:
        segment.finish_all(Outcome.NOT_SENT, not_sent)


def add_segment(columns: ResultColumns, segment: Segment) -> None:
    """Append a finished segment's results to ``columns``."""
    assert segment.coll is not None
    columns.extend(segment.ids, segment.coll, segment.outcomes, segment.errors)


async def read_until_stopped(
    source: AsyncIterable[object], take: Callable[[object], None], operation: Operation
) -> None:
    """Hand each item of ``source`` to ``take`` until it ends or ``operation`` stops.

    A stop (its event, its deadline, the client closing) interrupts a read that is waiting on
    the source: a slow source cannot hold a call past its deadline. Whatever ``take`` was given
    stays given; the source's own errors propagate.
    """
    if operation.reason is not None:
        return
    loop = asyncio.get_running_loop()
    remove: Callable[[], None] | None = None
    try:
        async with asyncio.timeout(None) as scope:

            def interrupt() -> None:
                if not scope.expired():  # a hard stop may follow a graceful one
                    scope.reschedule(loop.time())

            remove = operation.on_stop(interrupt)
            async for raw in source:
                take(raw)
    except TimeoutError:
        # Our interruption: asyncio.timeout turns the cancellation it caused into TimeoutError
        # on the way out. The source's own TimeoutError is the caller's to see.
        if not scope.expired():
            raise
    finally:
        if remove is not None:
            remove()


class _State:
    __slots__ = ("fatal", "feeding_done", "input_error")

    def __init__(self) -> None:
        self.feeding_done = False
        self.input_error: BaseException | None = None
        self.fatal: AuthenticationError | None = None


async def run_pipeline(
    inputs: Iterable[object] | AsyncIterable[object],
    *,
    operation: Operation,
    planner: BatchPlanner,
    send: SendSegment,
    limit: ConcurrencyLimit,
    validator: IdValidator | None = None,
    window: int | None = None,
    registry: set[asyncio.Task[None]] | None = None,
) -> AsyncGenerator[Segment, None]:
    """Send every segment of ``inputs`` and yield the finished segments in input order.

    Args:
        inputs: the caller's IDs (validated already, unless ``validate`` is given).
        operation: the operation's shared state (stop reason, abort event).
        planner: cuts inputs into segments.
        send: sends one segment and finishes it; raises only ``AuthenticationError`` (which stops
            the whole operation) or ``CancelledError``.
        limit: the client-wide concurrency limit, one slot per send in flight.
        validator: checks each input as it is read (streams).
        window: the most segments read but not yet emitted; ``None`` for no limit.
        registry: a set the tasks are added to while they run (the client cancels them on close).

    Raises:
        AuthenticationError: after in-flight sends settled; ``partial`` holds the results of every
            input read and not yet yielded.
        TypeError, ValueError: an invalid input (raised after every input before it was answered).
        Exception: whatever the caller's iterable raised, likewise after the inputs before it.
    """
    queue: deque[Segment] = deque()
    wake = asyncio.Event()  # a segment finished, feeding ended, or the operation stopped
    drained = asyncio.Event()  # the consumer emitted a segment
    state = _State()
    tasks: set[asyncio.Task[None]] = set()

    def on_stop() -> None:
        wake.set()
        if operation.hard:  # also when a hard stop follows a graceful one already settling
            for task in tuple(tasks):
                task.cancel()

    operation.on_stop(on_stop)

    def track(task: asyncio.Task[None]) -> None:
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if registry is not None:
            registry.add(task)
            task.add_done_callback(registry.discard)

    async def run(segment: Segment) -> None:
        try:
            await send(segment)
        except AuthenticationError as exc:
            if state.fatal is None:
                state.fatal = exc
            operation.stop("auth")
        except asyncio.CancelledError:
            settle_unanswered(segment, operation)
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
                planner.finished(segment)

    def release(_task: asyncio.Task[None]) -> None:
        # A done callback, not a `finally` in run(): a task cancelled before its first step
        # never runs its body, and its slot would be held for good (every later call hangs).
        limit.release()
        wake.set()

    def admit(segments: list[Segment]) -> None:
        # Queued before any wait, so that a segment closed by the planner is never dropped:
        # if the feeder is cancelled while sending, the rest are still there to be settled.
        queue.extend(segments)
        for segment in segments:
            if not segment.sent:  # nothing new: every input repeats an earlier one
                segment.finish([])
                planner.finished(segment)
                wake.set()

    async def dispatch(segment: Segment) -> None:
        if segment.finished:
            return
        while window is not None and len(queue) > window:
            drained.clear()
            await drained.wait()
        await limit.acquire()
        if operation.abort.is_set():
            limit.release()
            return
        task = asyncio.create_task(run(segment), name=f"groove-batch-{segment.seq}")
        task.add_done_callback(release)  # nothing can interrupt us between these two lines
        track(task)

    def plan(chunk: list[object]) -> tuple[list[Segment], TypeError | ValueError | None]:
        # Synchronous, so a cancellation never finds inputs half-planned; returns the segments
        # closed and, when an input is invalid, its error (the inputs before it are planned).
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

    async def feed_chunk(chunk: list[object]) -> None:
        segments, invalid = plan(chunk)
        admit(segments)
        for segment in segments:
            await dispatch(segment)
        if invalid is not None:
            raise invalid

    pending: list[object] = []  # read from the caller's iterable, not yet planned

    def take_pending() -> list[object]:
        chunk = pending[:]
        pending.clear()
        return chunk

    async def read() -> None:
        size = planner.batch_size
        if isinstance(inputs, list):  # reading a list cannot fail: cut it in batch slices
            for start in range(0, len(inputs), size):
                await feed_chunk(inputs[start : start + size])
        elif isinstance(inputs, AsyncIterable):
            async for raw in inputs:
                pending.append(raw)
                if len(pending) == size:
                    await feed_chunk(take_pending())
        else:
            for raw in inputs:
                pending.append(raw)
                if len(pending) == size:
                    await feed_chunk(take_pending())
                    if operation.overdue():  # a plain iterator may never let a timer fire
                        return
        if pending:
            await feed_chunk(take_pending())

    def plan_pending_now() -> None:
        # Cancelled: what was read still gets a result (NOT_SENT), planned without sending.
        segments, invalid = plan(take_pending())
        admit(segments)
        if invalid is not None and state.input_error is None:
            state.input_error = invalid
        segment = planner.flush()
        if segment is not None:
            admit([segment])

    async def flush() -> None:
        segment = planner.flush()
        if segment is not None:
            admit([segment])
            await dispatch(segment)

    async def feed() -> None:
        try:
            await read()
            await flush()
        except asyncio.CancelledError:
            plan_pending_now()
            if operation.reason is None:  # cancelled from outside (the client closing)
                operation.stop("cancelled")
            raise
        except Exception as exc:  # noqa: BLE001  (an invalid ID, or the caller's iterable failed:
            # re-raised to the caller once every input read before it is answered)
            state.input_error = exc
            try:
                if pending:  # the source failed part-way through a batch: send what it gave
                    await feed_chunk(take_pending())
            except (TypeError, ValueError) as invalid:  # an invalid ID came before the failure
                state.input_error = invalid
            await flush()
        finally:
            state.feeding_done = True
            wake.set()

    feeder = asyncio.create_task(feed(), name="groove-feeder")
    track(feeder)
    try:
        while True:
            wake.clear()
            if operation.reason is not None:
                break
            if queue and queue[0].finished:
                segment = queue.popleft()
                drained.set()
                yield segment
                continue
            if not queue and state.feeding_done:
                break
            await wake.wait()
        if operation.reason is not None:
            # Stopped early: read nothing more, let in-flight sends finish (or cancel them for
            # a hard stop), then answer every input read so far.
            feeder.cancel()
            if operation.hard:
                for task in tuple(tasks):
                    task.cancel()
            await _settle(tasks)
            for segment in queue:
                settle_unanswered(segment, operation)
            if state.fatal is not None:
                fatal = state.fatal
                columns = ResultColumns()
                for segment in queue:
                    add_segment(columns, segment)
                fatal.partial = columns.build()
                raise fatal
            while queue:
                yield queue.popleft()
        if state.input_error is not None:
            raise state.input_error
    finally:
        await _settle(tasks, cancel=True)


async def _settle(tasks: set[asyncio.Task[None]], *, cancel: bool = False) -> None:
    """Wait for ``tasks`` to end (cancelling them first if asked) without raising."""
    pending = set(tasks)
    if not pending:
        return
    if cancel:
        for task in pending:
            task.cancel()
    await asyncio.wait(pending)
