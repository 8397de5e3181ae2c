"""Retry policy for one batch POST: the only module that imports tenacity.

No tenacity type reaches users (as stamina does): they see :class:`RetryPolicy`, a frozen value
with a few well-named knobs, and batches that outlast it end as FAILED items whose error says why.
"""

from __future__ import annotations

import random
import sys
import time
import types
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import tenacity

from ._errors import BatchError, HTTPStatusError
from ._flow import RetryBudget
from ._protocol import is_throttle

__all__ = ["Attempts", "GaveUp", "Retrier", "RetryPolicy", "is_transient"]

T = TypeVar("T")
A = TypeVar("A", bound="Attempts")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be > 0, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be >= 0, got {value!r}")


def _at_least_one(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"RetryPolicy.{attribute.name} must be an int >= 1, got {value!r}")


@attrs.frozen(slots=True)
class RetryPolicy:
    """How one batch POST is retried when it fails transiently.

    Transient: every 5xx, 408, 409, 425, 429, a 2xx other than 200, connection errors, timeouts,
    and 200 responses that cannot be read or do not match the IDs sent (a success without its
    collection ID, an item error without a code). Everything else is final at once: the
    contract's refusals (400, 403, 404) make the items REJECTED, any other status (a 3xx, a 4xx
    the contract does not name) FAILED.

    Attributes:
        attempts: attempts per batch, the first included (1 = never retry).
        timeout: total seconds one batch may spend across attempts and waits; a wait that would
            end past it is not started.
        wait_initial: the first backoff, in seconds; it doubles per attempt.
        wait_max: the largest backoff, in seconds. Backoffs are jittered downwards (between half
            and all of the computed value) so concurrent batches do not retry in lockstep.
        max_retry_after: the largest ``Retry-After`` honoured, in seconds. A server asking for a
            longer wait ends the batch as FAILED, saying so, instead of looking like a hang.
        wait: ``False`` skips the sleeping (tests); every decision stays the same.
        budget_ratio: retries the client earns per batch sent, shared by all its batches: each
            first attempt adds this many retry tokens to a bucket and each retry spends one.
            When the bucket is empty a failing batch stops at once (FAILED, "retry budget
            exhausted"), so an outage cannot turn into a retry storm. ``0`` allows only the
            ``budget_burst``.
        budget_burst: the bucket's size, and what it holds at the start.
        count_throttled: whether a throttled attempt (429, or 503 with ``Retry-After``) counts
            against ``attempts``, ``timeout`` and the retry budget. ``False``: throttling only
            waits (every pause the server asks for, up to ``max_retry_after`` each), so a request
            that was only throttled never fails: what a fleet's job wants.
        rng: the source of the backoff jitter (a fresh ``random.Random`` unless given: pass a
            seeded one for reproducible waits). Not part of equality.
    """

    attempts: int = attrs.field(default=5, validator=_at_least_one)
    timeout: float = attrs.field(default=60.0, validator=_positive)
    wait_initial: float = attrs.field(default=0.1, validator=_non_negative)
    wait_max: float = attrs.field(default=5.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    wait: bool = True
    budget_ratio: float = attrs.field(default=0.5, validator=_non_negative)
    budget_burst: float = attrs.field(default=20.0, validator=_non_negative)
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)
    count_throttled: bool = True

    def without_waiting(self) -> RetryPolicy:
        """The same policy without sleeping between attempts: for tests."""
        return attrs.evolve(self, wait=False)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``retry_after`` is a floor: we never come back earlier than the server asked, and add a
        little positive jitter on top so that the batches it told to wait do not all return in
        the same instant.
        """
        base = min(self.wait_max, self.wait_initial * 2.0 ** (attempt - 1))
        jitter = self.rng.random
        delay = base * (0.5 + jitter() / 2)
        if retry_after is not None and retry_after >= delay:
            delay = retry_after + jitter() * min(1.0, 0.1 * retry_after + self.wait_initial)
        return delay


def is_transient(exc: BaseException) -> bool:
    """The one predicate deciding whether a failed attempt may be tried again."""
    return isinstance(exc, BatchError) and exc.transient


class GaveUp(Exception):
    """A batch stopped retrying; ``reason`` says why, ``last`` is the last attempt's error."""

    def __init__(self, last: BatchError, attempts: int, reason: str) -> None:
        super().__init__(reason)
        self.last = last
        self.attempts = attempts
        self.reason = reason


class Attempts:
    """What one batch's retries report into: subclassed by the send path.

    Attributes:
        number: attempts made so far (tenacity's count, 1-based once the first has begun).
        out_of_budget: the shared retry budget stopped the retries.
        free, free_seconds: throttled attempts that did not count, and their waits.
    """

    __slots__ = ("free", "free_seconds", "number", "out_of_budget")

    def __init__(self) -> None:
        self.number = 0
        self.out_of_budget = False
        self.free = 0  # throttled attempts that did not count (RetryPolicy.count_throttled)
        self.free_seconds = 0.0  # and their waits

    def retryable(self, error: BatchError) -> bool:
        """Whether this request may be sent again after ``error`` (policy permitting)."""
        return is_transient(error)

    def before_wait(self, error: BatchError, delay: float, attempt: int) -> None:
        """Called before each wait between attempts, with the failure that caused it."""


class Retrier:
    """The tenacity machinery of one client, built once and shared by every request.

    A first attempt that succeeds (the happy path) costs one call: it runs before tenacity is
    asked anything. Once an attempt has failed, tenacity takes over through its public API
    (:class:`tenacity.RetryCallState` and ``AsyncRetrying.iter``), starting from that failed
    attempt, so tenacity makes every retry decision and counts every attempt, the first
    included: nothing is replayed outside its accounting. The per-request state travels as the
    attempt's argument (an :class:`Attempts`), so the callbacks are the same objects for every
    request; they are synchronous, so tenacity's per-iteration state is never interleaved
    between requests.

    Args:
        policy: the retry policy.
        budget: the client's shared retry budget; ``None`` for none.
    """

    __slots__ = ("_budget", "_policy", "_retrying")

    def __init__(self, policy: RetryPolicy, budget: RetryBudget | None = None) -> None:
        self._policy = policy
        self._budget = budget
        self._retrying = tenacity.AsyncRetrying(
            retry=self._should_retry,
            stop=_Stop(policy, budget),
            wait=self._wait,
            before=_count,
            before_sleep=_announce,
            reraise=True,
        )

    async def run(
        self,
        attempt: Callable[[A], Awaitable[T]],
        attempts: A,
        *,
        sleep: Callable[[float], Awaitable[None]],
    ) -> T:
        """Run ``attempt(attempts)`` until it succeeds, fails for good, or the policy is spent.

        ``sleep`` is how this request waits between attempts (an operation's abortable sleep).
        Whether a failure may be retried at all is ``attempts.retryable(error)``; the policy
        then decides whether it is.

        Raises:
            GaveUp: a retryable failure outlasted the policy (attempts, total time, the budget,
                or a ``Retry-After`` beyond ``max_retry_after``).
            BatchError: a failure that may not be retried, as the attempt raised it.
            BaseException: anything else the attempt raised, unchanged; ``CancelledError`` is
                never retried nor swallowed.
        """
        started = time.monotonic()
        attempts.number = 1
        if self._budget is not None:
            self._budget.deposit()
        try:
            return await attempt(attempts)
        except BatchError as exc:
            if not attempts.retryable(exc):
                raise
            if self._over_cap(exc):
                raise self._gave_up(exc, attempts) from exc
            first: _ExcInfo = (type(exc), exc, exc.__traceback__)
        try:
            return await self._retried(attempt, attempts, sleep, started, first)
        except BatchError as exc:
            if not attempts.retryable(exc):
                raise
            raise self._gave_up(exc, attempts) from exc

    async def _retried(
        self,
        attempt: Callable[[A], Awaitable[T]],
        attempts: A,
        sleep: Callable[[float], Awaitable[None]],
        started: float,
        first: _ExcInfo,
    ) -> T:
        """tenacity's loop, entered after the failed first attempt ``first``."""
        # tenacity's statistics (informational, per thread) must exist before its loop runs.
        self._retrying.begin()
        state = tenacity.RetryCallState(self._retrying, fn=None, args=(attempts,), kwargs={})
        state.start_time = started
        state.set_exception(first)
        while True:
            do = await self._retrying.iter(state)
            if isinstance(do, tenacity.DoSleep):
                state.prepare_for_next_attempt()
                if self._policy.wait and do > 0:
                    await sleep(float(do))
                continue
            try:
                return await attempt(attempts)
            except BatchError:
                state.set_exception(sys.exc_info())  # type: ignore[arg-type]

    def _gave_up(self, exc: BatchError, attempts: Attempts) -> GaveUp:
        tries = attempts.number
        reason = (
            f"gave up after {tries} attempt{'s' if tries != 1 else ''}: "
            "the client's retry budget is exhausted"
            if attempts.out_of_budget
            else _why_stopped(exc, attempts.number - attempts.free, self._policy)
        )
        return GaveUp(exc, tries, reason)

    def _over_cap(self, exc: BatchError) -> bool:
        """A ``Retry-After`` longer than the policy honours: the request ends, saying so."""
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is not None and retry_after > self._policy.max_retry_after

    def _should_retry(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(exc, BatchError):
            return False
        return _attempts_of(state).retryable(exc) and not self._over_cap(exc)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        return self._policy.backoff(state.attempt_number, retry_after)


_ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType | None]


def _attempts_of(state: tenacity.RetryCallState) -> Attempts:
    attempts = state.args[0]
    assert isinstance(attempts, Attempts)
    return attempts


def _count(state: tenacity.RetryCallState) -> None:
    """Before each retried attempt: count it (the first was counted by :meth:`Retrier.run`)."""
    _attempts_of(state).number = state.attempt_number


def _announce(state: tenacity.RetryCallState) -> None:
    if state.outcome is not None:
        exc = state.outcome.exception()
        if isinstance(exc, BatchError):
            _attempts_of(state).before_wait(exc, state.upcoming_sleep, state.attempt_number)


class _Stop:
    """Whether to stop after a failed attempt: attempts, then total time, then the budget.

    The budget is asked last, so a token is spent only for a retry that really happens. With
    ``RetryPolicy(count_throttled=False)`` a throttled attempt (429, or 503 with Retry-After)
    never stops the request and spends neither an attempt, the time nor the budget: it waits.
    """

    __slots__ = ("budget", "policy")

    def __init__(self, policy: RetryPolicy, budget: RetryBudget | None) -> None:
        self.policy = policy
        self.budget = budget

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        attempts = _attempts_of(state)
        policy = self.policy
        outcome = state.outcome
        if not policy.count_throttled and outcome is not None and is_throttle(outcome.exception()):
            attempts.free += 1
            attempts.free_seconds += state.upcoming_sleep
            return False
        if state.attempt_number - attempts.free >= policy.attempts:
            return True
        spent = state.seconds_since_start or 0.0
        if spent - attempts.free_seconds + state.upcoming_sleep >= policy.timeout:
            return True
        if self.budget is None or self.budget.withdraw():
            return False
        attempts.out_of_budget = True
        return True


def _why_stopped(exc: BatchError, attempts: int, policy: RetryPolicy) -> str:
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    if retry_after is not None and retry_after > policy.max_retry_after:
        return (
            f"the server asked to retry after {retry_after:g}s, more than "
            f"max_retry_after={policy.max_retry_after:g}s"
        )
    if attempts >= policy.attempts:
        return f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}"
    return (
        f"gave up after {attempts} attempts: the next wait would exceed timeout={policy.timeout:g}s"
    )
