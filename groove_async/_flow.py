"""Client-wide flow control: the concurrency limit (AIMD), the throttle gate, the retry budget.

One of each per :class:`~groove_async.GrooveClient`, shared by every bulk call, stream and
coalesced single call, so that the client as a whole slows down when the service says "wait".
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, runtime_checkable

__all__ = ["ConcurrencyLimit", "Gate", "RetryBudget", "ThrottleGate"]


@runtime_checkable
class Gate(Protocol):
    """What every attempt passes first, and what the throttle rule closes: the client's seam for
    a shared pause (the in-process :class:`ThrottleGate` by default; a fleet of workers plugs in
    one that shares the pause through Redis, keeping a :class:`ThrottleGate` as its local cache).

    ``pause`` is called synchronously on the send path and must not block: a gate that tells
    others does so in the background.
    """

    @property
    def paused_for(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        ...

    def pause(self, seconds: float) -> bool:
        """Close the gate for ``seconds`` from now, extending, never shortening, a pause;
        returns whether the pause was extended."""
        ...

    async def wait(
        self, sleep: Callable[[float], Awaitable[None]], stopped: Callable[[], bool]
    ) -> None:
        """Return once the gate is open, or as soon as ``stopped()`` turns true; ``sleep`` is
        how the caller waits (the send path's, which a stop wakes early)."""
        ...


class ConcurrencyLimit:
    """A semaphore whose size moves between 1 and ``maximum``: additive increase,
    multiplicative decrease (AIMD).

    ``decrease()`` halves the limit, at most once per ``cooldown`` seconds so that the eight
    batches throttled by the same burst count as one signal; ``increase()`` after a success grows
    it by one for every ``limit`` successes (about one step per round of requests). Lowering the
    limit never interrupts requests already in flight: new ones wait until enough have finished.
    """

    __slots__ = (
        "_cooldown",
        "_credit",
        "_in_flight",
        "_last_decrease",
        "_waiters",
        "limit",
        "maximum",
    )

    def __init__(self, maximum: int, *, cooldown: float = 0.5) -> None:
        self.maximum = maximum
        self.limit = maximum
        self._in_flight = 0
        self._credit = 0
        self._cooldown = cooldown
        self._last_decrease = -float("inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_flight(self) -> int:
        """Slots currently held."""
        return self._in_flight

    async def acquire(self) -> None:
        """Take a slot, waiting while ``limit`` are held."""
        if self._in_flight < self.limit and not self._waiters:
            self._in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed to us just as we were cancelled: pass it on.
                self._in_flight -= 1
                self._wake()
            elif waiter in self._waiters:  # _wake() drops cancelled waiters itself
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back."""
        self._in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)

    def decrease(self) -> bool:
        """Halve the limit (not below 1); returns whether it changed."""
        now = time.monotonic()
        if now - self._last_decrease < self._cooldown or self.limit == 1:
            return False
        self._last_decrease = now
        self.limit = max(1, self.limit // 2)
        self._credit = 0
        return True

    def increase(self) -> bool:
        """Count a success; grow the limit by one per ``limit`` successes; say if it grew."""
        if self.limit >= self.maximum:
            return False
        self._credit += 1
        if self._credit < self.limit:
            return False
        self._credit = 0
        self.limit += 1
        self._wake()
        return True


class ThrottleGate:
    """Holds every new attempt of the client while the service asked to wait.

    After a 429 (or a 503 with ``Retry-After``) the gate closes until the wait is over; every
    attempt passes :meth:`wait` first. Waiters wake with a little positive jitter (never before
    the time the server named) so they do not all hit the service in the same instant.
    """

    __slots__ = ("_rng", "_until")

    _JITTER: Final = 0.1  # fraction of the remaining pause, at most 1 second

    def __init__(self, rng: random.Random | None = None) -> None:
        self._until = 0.0
        self._rng = rng or random.Random()

    @property
    def paused_for(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self._until - time.monotonic())

    def pause(self, seconds: float) -> bool:
        """Close the gate for ``seconds`` from now (extending, never shortening, a pause).

        Returns whether the pause was extended.
        """
        until = time.monotonic() + seconds
        if until <= self._until:
            return False
        self._until = until
        return True

    async def wait(
        self, sleep: Callable[[float], Awaitable[None]], stopped: Callable[[], bool] = bool
    ) -> None:
        """Return once the gate is open, or as soon as ``stopped()`` turns true; ``sleep`` is
        how the caller waits (the client's request code sleeps in one place, its send path).

        The pause may be extended while we wait (another batch throttled): we look again.
        """
        while (remaining := self._until - time.monotonic()) > 0 and not stopped():
            await sleep(remaining + self._rng.random() * min(1.0, remaining * self._JITTER))


class RetryBudget:
    """A token bucket that caps retries across all batches of a client.

    Each first attempt deposits ``ratio`` tokens (up to ``burst``); each retry withdraws one. When
    the bucket is empty, a failing batch stops retrying at once (FAILED, "retry budget
    exhausted"), so an outage costs about ``ratio`` extra requests per batch instead of
    ``attempts - 1``: a retry storm cannot build up.
    """

    __slots__ = ("_tokens", "burst", "ratio", "retries")

    def __init__(self, ratio: float, burst: float) -> None:
        self.ratio = ratio
        self.burst = burst
        self._tokens = burst
        self.retries = 0

    @property
    def tokens(self) -> float:
        """Retries available now."""
        return self._tokens

    def deposit(self) -> None:
        """A first attempt was made."""
        self._tokens = min(self.burst, self._tokens + self.ratio)

    def withdraw(self) -> bool:
        """Take one retry from the budget; ``False`` when it is spent."""
        if self._tokens < 1:
            return False
        self._tokens -= 1
        self.retries += 1
        return True
