"""One operation's shared state: why and how it stopped, and the rules for what it left unanswered.

An :class:`Operation` is what the sends of one bulk call, stream or coalesced batch share: a stop
reason, an abort event their waits wake on, and whether a stop is hard (in-flight POSTs
cancelled) or graceful (they finish). The pipeline, the send path and the client all read it;
it imports nothing of theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Final, cast

from ._batching import Segment
from ._ids import IdValidator
from ._models import ErrorInfo, Outcome

__all__ = [
    "STOP_REASONS",
    "InputReader",
    "Operation",
    "read_all",
    "settle_unanswered",
    "start_operation",
]

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


class InputReader:
    """The one reader of a caller's input: a list, a plain iterable or an async iterable, in
    chunks of ``size``, until it ends or ``operation`` stops.

    A list is cut in slices. A plain iterable is read item by item, and the deadline is looked
    at after each chunk (no timer fires while it runs). An async iterable is read under the
    operation's stop: a stop (its event, its deadline, the client closing) interrupts a read that
    is waiting on the source, so a slow source cannot hold a call past its deadline. What was
    read and not yet handed out as a chunk is :attr:`pending` (what a failing source gave before
    its failure, or what a cancelled read had got); the source's own errors propagate.

    ``check`` (``check(item, position)``, returning the item to keep or raising), when given,
    is applied to each item of an async source as it arrives, so that a bad one stops the read
    at once rather than after the rest of its chunk.
    """

    __slots__ = ("_check", "_operation", "_read", "_size", "_source", "pending")

    def __init__(
        self,
        source: Iterable[object] | AsyncIterable[object],
        operation: Operation,
        size: int,
        check: Callable[[object, int], object] | None = None,
    ) -> None:
        self._source = source
        self._operation = operation
        self._size = size
        self._check = check
        self._read = 0  # items of an async source taken so far
        self.pending: list[object] = []

    async def chunks(self) -> AsyncGenerator[list[object], None]:
        """The input in chunks of ``size`` (the last one shorter), until it ends or stops."""
        source, size = self._source, self._size
        if isinstance(source, list):
            for start in range(0, len(source), size):
                yield source[start : start + size]
        elif isinstance(source, AsyncIterable):
            iterator = aiter(source)
            ended = False
            while not ended:
                ended = await _read_until_stopped(
                    iterator, self._take_one, self._operation, size - len(self.pending)
                )
                if self.pending and (ended or len(self.pending) >= size):
                    yield self.take()
        else:
            for raw in source:
                self.pending.append(raw)
                if len(self.pending) >= size:
                    yield self.take()
                    if self._operation.overdue():
                        return
            if self.pending:
                yield self.take()

    async def read_all(self) -> list[object]:
        """Every input (what was read before a stop)."""
        if isinstance(self._source, list | tuple):
            return list(self._source)
        read: list[object] = []
        async with contextlib.aclosing(self.chunks()) as chunks:
            async for chunk in chunks:
                read.extend(chunk)
        return read

    def _take_one(self, raw: object) -> None:
        if self._check is not None:
            raw = self._check(raw, self._read)
        self._read += 1
        self.pending.append(raw)

    def take(self) -> list[object]:
        """What is pending, handed out (and no longer pending)."""
        chunk = self.pending
        self.pending = []
        return chunk


async def _read_until_stopped(
    source: AsyncIterator[object],
    take: Callable[[object], None],
    operation: Operation,
    limit: int,
) -> bool:
    """Hand up to ``limit`` items of ``source`` to ``take``; ``True`` when reading is over
    (the source ended or ``operation`` stopped), ``False`` when ``limit`` were taken."""
    if operation.reason is not None:
        return True
    loop = asyncio.get_running_loop()
    remove: Callable[[], None] | None = None
    taken = 0
    try:
        async with asyncio.timeout(None) as scope:

            def interrupt() -> None:
                if not scope.expired():  # a hard stop may follow a graceful one
                    scope.reschedule(loop.time())

            remove = operation.on_stop(interrupt)
            async for raw in source:
                take(raw)
                taken += 1
                if taken >= limit:
                    return False
    except TimeoutError:
        # Our interruption: asyncio.timeout turns the cancellation it caused into TimeoutError
        # on the way out. The source's own TimeoutError is the caller's to see.
        if not scope.expired():
            raise
    finally:
        if remove is not None:
            remove()
    return True


def start_operation(
    action: str, deadline: float | None, stop: asyncio.Event | None
) -> tuple[Operation, Callable[[], None]]:
    """A new operation wired to its deadline (seconds, checked) and stop event.

    Returns the operation and what releases its timer and watcher when it ends.

    Raises:
        TypeError: ``stop`` is not an :class:`asyncio.Event`.
    """
    if stop is not None and not isinstance(stop, asyncio.Event):
        raise TypeError(f"stop must be an asyncio.Event, not {type(stop).__name__}")
    operation = Operation(action)
    loop = asyncio.get_running_loop()
    timer: asyncio.TimerHandle | None = None
    watcher: asyncio.Task[None] | None = None
    if deadline is not None:
        operation.deadline_at = time.monotonic() + deadline
        timer = loop.call_later(deadline, functools.partial(operation.stop, "deadline", hard=True))
    if stop is not None:

        async def watch() -> None:
            await stop.wait()
            operation.stop("stopped")

        watcher = loop.create_task(watch(), name="groove-stop-watcher")

    def release() -> None:
        if timer is not None:
            timer.cancel()
        if watcher is not None:
            watcher.cancel()

    return operation, release


async def read_all(
    track_ids: Iterable[object] | AsyncIterable[object],
    operation: Operation,
    validator: IdValidator,
    chunk: int,
) -> list[str]:
    """Read (:class:`InputReader`) and check every input; stop reading (keeping what was read)
    if ``operation`` stops.

    Raises:
        TypeError, ValueError: an invalid input (nothing is sent).
        Exception: whatever the caller's iterable raised (nothing is sent).
    """
    if isinstance(track_ids, AsyncIterable):  # checked as they arrive
        reader = InputReader(track_ids, operation, chunk, validator.check)
        return cast(list[str], await reader.read_all())
    raw = await InputReader(track_ids, operation, chunk).read_all()
    for start in range(0, len(raw), chunk):
        validator.check_many(raw[start : start + chunk], start)
    return cast(list[str], raw)
