"""Bounded, order-keeping fan-out of batches.

One engine serves bulk calls and streams. A *feeder* task reads the caller's input, validates
and plans it into segments (:mod:`groove_async._batching`) and starts one send task per segment
while fewer than ``concurrency`` are in flight. The consumer (the async generator below) emits
finished segments strictly in input order. With a ``window`` the feeder also stops reading while
that many segments wait to be emitted, which bounds memory for endless streams.

Every task is owned: nothing outlives the generator. When it is closed or cancelled, the feeder
and in-flight sends are cancelled and awaited before the generator returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import Final

from ._batching import BatchPlanner, Segment
from ._errors import AuthenticationError
from ._models import BulkResult, ErrorInfo, Outcome

__all__ = ["run_pipeline"]

logger: Final = logging.getLogger("groove_async")

SendSegment = Callable[[Segment], Awaitable[None]]
Validate = Callable[[object, int], str]

_NOT_SENT_AUTH: Final = ErrorInfo(
    "NOT_SENT", "Not sent: the operation stopped after an authentication failure"
)
_FAILED_AUTH: Final = ErrorInfo(
    "AUTHENTICATION_FAILED",
    "Sent, but the operation stopped after an authentication failure before an answer",
)


class _State:
    __slots__ = ("fatal", "feeding_done", "input_error")

    def __init__(self) -> None:
        self.feeding_done = False
        self.input_error: BaseException | None = None
        self.fatal: AuthenticationError | None = None


async def run_pipeline(
    inputs: Iterable[object] | AsyncIterable[object],
    *,
    planner: BatchPlanner,
    send: SendSegment,
    concurrency: int,
    abort: asyncio.Event,
    validate: Validate | None = None,
    window: int | None = None,
    registry: set[asyncio.Task[None]] | None = None,
) -> AsyncGenerator[Segment, None]:
    """Send every segment of ``inputs`` and yield the finished segments in input order.

    Args:
        inputs: the caller's IDs (validated already, unless ``validate`` is given).
        planner: cuts inputs into segments.
        send: sends one segment and finishes it; raises only ``AuthenticationError`` (which stops
            the whole operation) or ``CancelledError``.
        concurrency: the most sends in flight.
        abort: set when the operation must stop; sends check it before every attempt.
        validate: checks each input as it is read (streams).
        window: the most segments read but not yet emitted; ``None`` for no limit.
        registry: a set the tasks are added to while they run (the client cancels them on close).

    Raises:
        AuthenticationError: after in-flight sends settled; ``partial`` holds the results of every
            input read and not yet yielded.
        TypeError, ValueError: an invalid input (raised after every input before it was answered).
        Exception: whatever the caller's iterable raised, likewise after the inputs before it.
    """
    queue: deque[Segment] = deque()
    slots = asyncio.Semaphore(concurrency)
    wake = asyncio.Event()  # a segment finished, or feeding ended
    drained = asyncio.Event()  # the consumer emitted a segment
    state = _State()
    tasks: set[asyncio.Task[None]] = set()

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
            abort.set()
            feeder.cancel()
        except Exception as exc:
            # A bug, not a service failure: never let it strand the segment's inputs.
            logger.exception("groove_async: unexpected error while sending a batch")
            if not segment.finished:
                segment.finish_all(
                    Outcome.FAILED, ErrorInfo("CLIENT_ERROR", type(exc).__name__, str(exc))
                )
        finally:
            slots.release()
            if segment.finished:
                planner.finished(segment)
            wake.set()

    async def schedule(segment: Segment) -> None:
        # Queued before any wait, so that a segment closed by the planner is never dropped:
        # if the feeder is cancelled below, the segment is still there to be marked NOT_SENT.
        queue.append(segment)
        if not segment.sent:  # nothing new: every input repeats an earlier one
            segment.finish([])
            planner.finished(segment)
            wake.set()
            return
        while window is not None and len(queue) > window:
            drained.clear()
            await drained.wait()
        await slots.acquire()
        if abort.is_set():
            slots.release()
            return
        track(asyncio.create_task(run(segment), name=f"groove-batch-{segment.seq}"))

    async def feed() -> None:
        try:
            feed_one = planner.feed
            if isinstance(inputs, AsyncIterable):
                async for raw in inputs:
                    track_id = validate(raw, planner.position) if validate else raw
                    segment = feed_one(track_id)  # type: ignore[arg-type]
                    if segment is not None:
                        await schedule(segment)
            else:
                for raw in inputs:
                    track_id = validate(raw, planner.position) if validate else raw
                    segment = feed_one(track_id)  # type: ignore[arg-type]
                    if segment is not None:
                        await schedule(segment)
            segment = planner.flush()
            if segment is not None:
                await schedule(segment)
        except asyncio.CancelledError:
            # Stopped (authentication failure or close): inputs already read still get results.
            segment = planner.flush()
            if segment is not None:
                queue.append(segment)
            raise
        except Exception as exc:  # noqa: BLE001  (an invalid ID, or the caller's iterable failed:
            # re-raised to the caller once the inputs before it are answered)
            state.input_error = exc
            segment = planner.flush()
            if segment is not None:
                await schedule(segment)
        finally:
            state.feeding_done = True
            wake.set()

    feeder = asyncio.create_task(feed(), name="groove-feeder")
    track(feeder)
    try:
        while True:
            wake.clear()
            if state.fatal is not None:
                break
            if queue and queue[0].finished:
                segment = queue.popleft()
                drained.set()
                yield segment
                continue
            if not queue and state.feeding_done:
                break
            await wake.wait()
        if state.fatal is not None:
            await _settle(tasks)
            unfinished = [s for s in queue if not s.finished]
            for segment in unfinished:
                if segment.attempted:
                    segment.finish_all(Outcome.FAILED, _FAILED_AUTH)
                else:
                    segment.finish_all(Outcome.NOT_SENT, _NOT_SENT_AUTH)
            fatal = state.fatal
            fatal.partial = BulkResult(r for s in queue for r in s.results or ())
            raise fatal
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
