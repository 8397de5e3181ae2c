"""Retry policy for one batch POST: the only module that imports tenacity.

No tenacity type reaches users (as stamina does): they see :class:`RetryPolicy`, a frozen value
with a few well-named knobs, and batches that outlast it end as FAILED items whose error says why.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import random
import types
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import attrs
import tenacity
from tenacity import _utils as tenacity_utils

from ._errors import BatchError, HTTPStatusError
from ._flow import RetryBudget

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
    """

    __slots__ = ("number", "out_of_budget")

    def __init__(self) -> None:
        self.number = 0
        self.out_of_budget = False

    def before_wait(self, error: BatchError, delay: float, attempt: int) -> None:
        """Called before each wait between attempts, with the failure that caused it."""


#: How the batch being retried in the current task waits (its operation's abortable sleep).
_SLEEP: Final[contextvars.ContextVar[Callable[[float], Awaitable[None]]]] = contextvars.ContextVar(
    "groove_async_retry_sleep", default=asyncio.sleep
)


class Retrier:
    """The tenacity machinery of one client, built once and shared by every batch.

    Every attempt of a batch, the first included, runs inside tenacity, which makes every retry
    decision. The per-batch state travels as the attempt's argument (an :class:`Attempts`), so
    the callbacks below are the same objects for every batch; they are all synchronous, so
    tenacity's per-iteration state is never interleaved between batches. How a batch waits is
    its operation's business (a wait that wakes early on a stop): the client's task-local
    ``_SLEEP`` holds it while the batch runs.

    Args:
        policy: the retry policy.
        budget: the client's shared retry budget; ``None`` for none.
    """

    __slots__ = ("_policy", "_retrying")

    def __init__(self, policy: RetryPolicy, budget: RetryBudget | None = None) -> None:
        self._policy = policy
        retry = tenacity.retry_if_exception(self._retryable)
        stop = tenacity.stop_any(
            tenacity.stop_after_attempt(policy.attempts),
            tenacity.stop_before_delay(policy.timeout),
            _OutOfBudget(budget),
        )
        before = _Before(budget)

        # tenacity's strategies, each behind a coroutine function: tenacity asks of every
        # callback, at every step, whether it is one, and a coroutine function answers fastest.
        async def should_retry(state: tenacity.RetryCallState) -> bool:
            return retry(state)

        async def should_stop(state: tenacity.RetryCallState) -> bool:
            return stop(state)

        async def wait(state: tenacity.RetryCallState) -> float:
            return self._wait(state)

        async def before_attempt(state: tenacity.RetryCallState) -> None:
            before(state)

        async def before_sleep(state: tenacity.RetryCallState) -> None:
            _announce(state)

        self._retrying = _AsyncRetrying(
            retry=should_retry,
            # tenacity runs async strategies (it wraps every one as a coroutine function, this
            # being one already); its annotations name only the sync kind.
            stop=should_stop,  # type: ignore[arg-type]
            wait=wait,  # type: ignore[arg-type]
            sleep=self._sleep,
            before=before_attempt,
            before_sleep=before_sleep,
            reraise=True,
        )

    async def run(
        self,
        attempt: Callable[[A], Awaitable[T]],
        attempts: A,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> T:
        """Run ``attempt(attempts)`` until it succeeds, fails for good, or the policy is spent.

        Raises:
            GaveUp: a transient failure outlasted the policy (attempts, total time, the budget,
                or a ``Retry-After`` beyond ``max_retry_after``).
            BatchError: a permanent failure, as the attempt raised it.
            BaseException: anything else the attempt raised, unchanged; ``CancelledError`` is
                never retried nor swallowed.
        """
        reset = _SLEEP.set(sleep)
        try:
            return await self._retrying(attempt, attempts)
        except BatchError as exc:
            if not is_transient(exc):
                raise
            tries = attempts.number
            reason = (
                f"gave up after {tries} attempt{'s' if tries != 1 else ''}: "
                "the client's retry budget is exhausted"
                if attempts.out_of_budget
                else _why_stopped(exc, tries, self._policy)
            )
            raise GaveUp(exc, tries, reason) from exc
        finally:
            _SLEEP.reset(reset)

    def _retryable(self, exc: BaseException) -> bool:
        if not is_transient(exc):
            return False
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is None or retry_after <= self._policy.max_retry_after

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        return self._policy.backoff(state.attempt_number, retry_after)

    async def _sleep(self, seconds: float) -> None:
        if self._policy.wait and seconds > 0:
            await _SLEEP.get()(seconds)


class _AsyncRetrying(tenacity.AsyncRetrying):
    """tenacity's ``AsyncRetrying``, asking ``inspect`` once per function, not once per step.

    Each step of its loop queues the same few functions and first asks, of each, whether it is
    a coroutine function: a handful of ``inspect`` calls per batch that cost more than the rest
    of the step. Their answer depends only on the code object (bound methods and lambdas are
    made anew each time; their code is not), so it is kept by code object. Anything else is
    asked of tenacity as before. The figures are in ``benchmarks/RESULTS.md``.
    """

    def _add_action_func(self, fn: Callable[..., object]) -> None:
        self.iter_state.actions.append(_as_async(fn))


_IS_COROUTINE: Final[dict[types.CodeType, bool]] = {}


def _as_async(fn: Callable[..., object]) -> Callable[..., Awaitable[object]]:
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if not isinstance(code, types.CodeType):  # a callable object, a partial: tenacity decides
        return tenacity_utils.wrap_to_async_func(fn)
    coroutine = _IS_COROUTINE.get(code)
    if coroutine is None:
        coroutine = _IS_COROUTINE[code] = bool(code.co_flags & inspect.CO_COROUTINE)
    if coroutine:
        return fn  # type: ignore[return-value]

    async def inner(*args: object, **kwargs: object) -> object:
        return fn(*args, **kwargs)

    return inner


def _attempts_of(state: tenacity.RetryCallState) -> Attempts:
    attempts = state.args[0]
    assert isinstance(attempts, Attempts)
    return attempts


class _Before:
    """Before each attempt: count it; a first attempt earns the shared budget its deposit."""

    def __init__(self, budget: RetryBudget | None) -> None:
        self.budget = budget

    def __call__(self, state: tenacity.RetryCallState) -> None:
        _attempts_of(state).number = state.attempt_number
        if state.attempt_number == 1 and self.budget is not None:
            self.budget.deposit()


def _announce(state: tenacity.RetryCallState) -> None:
    if state.outcome is not None:
        exc = state.outcome.exception()
        if isinstance(exc, BatchError):
            _attempts_of(state).before_wait(exc, state.upcoming_sleep, state.attempt_number)


class _OutOfBudget(tenacity.stop.stop_base):
    """Stops when the shared retry budget is empty.

    Listed last in ``stop_any``, so it is asked only when neither attempts nor time stopped the
    batch: a token is spent only for a retry that really happens.
    """

    def __init__(self, budget: RetryBudget | None) -> None:
        self.budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if self.budget is None or self.budget.withdraw():
            return False
        _attempts_of(retry_state).out_of_budget = True
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
