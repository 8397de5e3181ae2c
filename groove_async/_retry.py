"""Retry policy for one batch POST: the only module that imports tenacity.

No tenacity type reaches users (as stamina does): they see :class:`RetryPolicy`, a frozen value
with a few well-named knobs, and batches that outlast it end as FAILED items whose error says why.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import tenacity

from ._errors import BatchError, HTTPStatusError
from ._flow import RetryBudget

__all__ = ["GaveUp", "RetryPolicy", "is_transient", "retry_batch"]

T = TypeVar("T")


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
    """

    attempts: int = attrs.field(default=5, validator=_at_least_one)
    timeout: float = attrs.field(default=60.0, validator=_positive)
    wait_initial: float = attrs.field(default=0.1, validator=_non_negative)
    wait_max: float = attrs.field(default=5.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    wait: bool = True
    budget_ratio: float = attrs.field(default=0.5, validator=_non_negative)
    budget_burst: float = attrs.field(default=20.0, validator=_non_negative)

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
        delay = base * (0.5 + random.random() / 2)
        if retry_after is not None and retry_after >= delay:
            delay = retry_after + random.random() * min(1.0, 0.1 * retry_after + self.wait_initial)
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


async def retry_batch(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    before_sleep: Callable[[BatchError, float, int], None] | None = None,
    budget: RetryBudget | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the policy is spent.

    Args:
        attempt: one try; raises :class:`BatchError` on failure.
        policy: the retry policy.
        sleep: how to wait between attempts (the client passes one that wakes early on abort).
        before_sleep: called with (error, delay, attempt number) before each wait.
        budget: the client's shared retry budget; ``None`` for none.

    Returns:
        What ``attempt`` returned.

    Raises:
        GaveUp: a transient failure outlasted the policy (attempts, total time, or a
            ``Retry-After`` beyond ``max_retry_after``).
        BatchError: a permanent failure, as the attempt raised it.
        BaseException: anything else the attempt raised, unchanged; ``CancelledError`` is never
            retried nor swallowed.
    """

    def retryable(exc: BaseException) -> bool:
        if not is_transient(exc):
            return False
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is None or retry_after <= policy.max_retry_after

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        return policy.backoff(state.attempt_number, retry_after)

    async def do_sleep(seconds: float) -> None:
        if policy.wait and seconds > 0:
            await sleep(seconds)

    def announce(state: tenacity.RetryCallState) -> None:
        if before_sleep is not None and state.outcome is not None:
            exc = state.outcome.exception()
            if isinstance(exc, BatchError):
                before_sleep(exc, state.upcoming_sleep, state.attempt_number)

    # The first attempt runs outside tenacity: most batches succeed at once, and building the
    # retry machinery costs about 80 us per batch here (benchmarks/). Its failure is replayed
    # as tenacity's first attempt, so every retry decision is still tenacity's, made once.
    if budget is not None:
        budget.deposit()
    started = time.monotonic()
    try:
        return await attempt()
    except BatchError as exc:
        first_failure: BatchError | None = exc
    first_duration = time.monotonic() - started

    out_of_budget = _OutOfBudget(budget)
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(retryable),
        stop=tenacity.stop_any(
            tenacity.stop_after_attempt(policy.attempts),
            tenacity.stop_before_delay(max(0.0, policy.timeout - first_duration)),
            out_of_budget,
        ),
        wait=wait,
        sleep=do_sleep,
        before_sleep=announce,
        reraise=True,
    )
    tries = 0

    async def counted() -> T:
        nonlocal tries, first_failure
        tries += 1
        if first_failure is not None:  # replay the first attempt's failure
            failure, first_failure = first_failure, None
            raise failure
        return await attempt()

    try:
        return await retrying(counted)
    except BatchError as exc:
        if not is_transient(exc):
            raise
        reason = (
            f"gave up after {tries} attempt{'s' if tries != 1 else ''}: "
            "the client's retry budget is exhausted"
            if out_of_budget.spent
            else _why_stopped(exc, tries, policy)
        )
        raise GaveUp(exc, tries, reason) from exc


class _OutOfBudget(tenacity.stop.stop_base):
    """Stops when the shared retry budget is empty.

    Listed last in ``stop_any``, so it is asked only when neither attempts nor time stopped the
    batch: a token is spent only for a retry that really happens.
    """

    def __init__(self, budget: RetryBudget | None) -> None:
        self.budget = budget
        self.spent = False

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if self.budget is None or self.budget.withdraw():
            return False
        self.spent = True
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
