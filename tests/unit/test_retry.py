from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from groove_async import BatchError, HTTPStatusError, RetryPolicy, TransportError
from groove_async._errors import DecodeError
from groove_async._flow import RetryBudget
from groove_async._retry import Attempts, GaveUp, Retrier, is_transient


class Reporting(Attempts):
    __slots__ = ("report",)

    def __init__(self, report: Callable[[BatchError, float, int], None] | None = None) -> None:
        super().__init__()
        self.report = report

    def before_wait(self, error: BatchError, delay: float, attempt: int) -> None:
        if self.report is not None:
            self.report(error, delay, attempt)


async def retry_batch(
    attempt: Callable[[], Awaitable[Any]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    before_sleep: Callable[[BatchError, float, int], None] | None = None,
    budget: RetryBudget | None = None,
) -> Any:
    """One batch through a fresh Retrier, as the send path runs it."""

    async def call(_attempts: Reporting) -> Any:
        return await attempt()

    return await Retrier(policy, budget).run(call, Reporting(before_sleep), sleep=sleep)


class Flaky:
    """Fails with the given errors in turn, then returns 'ok'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_policy_defaults_and_validation() -> None:
    policy = RetryPolicy()
    assert (policy.attempts, policy.timeout, policy.wait_initial, policy.wait_max) == (
        5,
        60.0,
        0.1,
        5.0,
    )
    assert policy.max_retry_after == 60.0 and policy.wait
    assert not policy.without_waiting().wait
    for bad in (
        {"attempts": 0},
        {"attempts": 1.5},
        {"timeout": 0},
        {"wait_max": -1},
        {"max_retry_after": -1},
        {"attempts": True},
    ):
        with pytest.raises(ValueError, match="RetryPolicy"):
            RetryPolicy(**bad)  # type: ignore[arg-type]


def test_backoff_grows_is_capped_and_jittered_downwards() -> None:
    policy = RetryPolicy(wait_initial=0.1, wait_max=1.0)
    for attempt, base in ((1, 0.1), (2, 0.2), (3, 0.4), (6, 1.0), (30, 1.0)):
        for _ in range(50):
            assert base / 2 <= policy.backoff(attempt) <= base


def test_retry_after_is_a_floor_with_positive_jitter() -> None:
    policy = RetryPolicy(wait_initial=0.1, wait_max=1.0)
    waits = {policy.backoff(1, retry_after=3.0) for _ in range(50)}
    assert all(3.0 <= w <= 4.0 for w in waits)
    assert len(waits) > 1  # jittered, so waiters do not wake together


def test_transient_predicate() -> None:
    assert is_transient(HTTPStatusError(503, transient=True))
    assert not is_transient(HTTPStatusError(400))
    assert is_transient(TransportError("x"))
    assert is_transient(DecodeError("x"))
    assert not is_transient(asyncio.CancelledError())
    assert not is_transient(ValueError())


async def test_retries_transient_until_success() -> None:
    sleeps = Sleeps()
    attempt = Flaky(TransportError("drop"), HTTPStatusError(503, transient=True))
    assert await retry_batch(attempt, RetryPolicy(), sleep=sleeps) == "ok"
    assert attempt.calls == 3
    assert len(sleeps.waits) == 2


async def test_permanent_error_is_not_retried() -> None:
    attempt = Flaky(HTTPStatusError(400, "COLLECTION_FULL"))
    with pytest.raises(HTTPStatusError):
        await retry_batch(attempt, RetryPolicy(), sleep=Sleeps())
    assert attempt.calls == 1


async def test_gives_up_after_attempts_with_reason() -> None:
    attempt = Flaky(*[HTTPStatusError(503, transient=True)] * 10)
    with pytest.raises(GaveUp) as info:
        await retry_batch(attempt, RetryPolicy(attempts=3), sleep=Sleeps())
    assert attempt.calls == 3
    assert info.value.attempts == 3
    assert "after 3 attempts" in info.value.reason
    assert isinstance(info.value.last, HTTPStatusError)


async def test_retry_after_beyond_cap_fails_at_once() -> None:
    attempt = Flaky(HTTPStatusError(429, retry_after=3600, transient=True))
    with pytest.raises(GaveUp) as info:
        await retry_batch(attempt, RetryPolicy(max_retry_after=60), sleep=Sleeps())
    assert attempt.calls == 1
    assert "3600" in info.value.reason and "max_retry_after" in info.value.reason


async def test_retry_after_is_honoured() -> None:
    sleeps = Sleeps()
    attempt = Flaky(HTTPStatusError(429, retry_after=7, transient=True))
    await retry_batch(attempt, RetryPolicy(), sleep=sleeps)
    assert sleeps.waits and 7 <= sleeps.waits[0] <= 8


async def test_wait_beyond_total_timeout_is_not_started() -> None:
    sleeps = Sleeps()
    attempt = Flaky(*[HTTPStatusError(429, retry_after=30, transient=True)] * 5)
    with pytest.raises(GaveUp) as info:
        await retry_batch(attempt, RetryPolicy(timeout=10), sleep=sleeps)
    assert attempt.calls == 1 and sleeps.waits == []
    assert "timeout=10s" in info.value.reason


async def test_without_waiting_does_not_sleep() -> None:
    sleeps = Sleeps()
    attempt = Flaky(TransportError("x"), TransportError("y"))
    await retry_batch(attempt, RetryPolicy().without_waiting(), sleep=sleeps)
    assert attempt.calls == 3 and sleeps.waits == []


async def test_cancelled_error_is_never_retried_nor_swallowed() -> None:
    attempt = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await retry_batch(attempt, RetryPolicy(), sleep=Sleeps())
    assert attempt.calls == 1


async def test_cancelling_during_a_wait_propagates() -> None:
    started = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        started.set()
        await asyncio.sleep(3600)

    attempt = Flaky(*[TransportError("x")] * 3)
    task = asyncio.create_task(retry_batch(attempt, RetryPolicy(), sleep=slow_sleep))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert attempt.calls == 1


async def test_before_sleep_reports_each_retry() -> None:
    seen: list[tuple[str, int]] = []
    attempt = Flaky(TransportError("a"), TransportError("b"))
    await retry_batch(
        attempt,
        RetryPolicy(),
        sleep=Sleeps(),
        before_sleep=lambda e, d, n: seen.append((str(e), n)),
    )
    assert seen == [("a", 1), ("b", 2)]


async def test_one_retrier_serves_concurrent_batches_without_mixing_their_counts() -> None:
    retrier = Retrier(RetryPolicy(attempts=4))

    async def slow(seconds: float) -> None:
        await asyncio.sleep(0)

    def flaky(failures: int) -> Callable[[Reporting], Awaitable[str]]:
        async def call(attempts: Reporting) -> str:
            await asyncio.sleep(0)  # interleave with the other batches
            if attempts.number <= failures:
                raise TransportError(f"drop {attempts.number}")
            return f"ok after {attempts.number}"

        return call

    results = await asyncio.gather(
        *(retrier.run(flaky(n), Reporting(), sleep=slow) for n in (0, 1, 2))
    )
    assert results == ["ok after 1", "ok after 2", "ok after 3"]


async def test_the_budget_stops_a_batch_and_says_so() -> None:
    budget = RetryBudget(ratio=0, burst=1)
    attempt = Flaky(*[TransportError("x")] * 5)
    with pytest.raises(GaveUp, match="retry budget is exhausted"):
        await retry_batch(attempt, RetryPolicy(), sleep=Sleeps(), budget=budget)
    assert attempt.calls == 2  # the one retry the burst allowed


def test_a_seeded_policy_waits_reproducibly() -> None:
    first = RetryPolicy(rng=random.Random(7))
    second = RetryPolicy(rng=random.Random(7))
    assert [first.backoff(n) for n in range(1, 6)] == [second.backoff(n) for n in range(1, 6)]
    assert first == second  # the source of randomness is not part of equality


def _throttled(retry_after: float | None = 0.01, status: int = 429) -> HTTPStatusError:
    return HTTPStatusError(status, None, retry_after=retry_after, transient=True)


async def test_throttled_attempts_count_by_default() -> None:
    flaky = Flaky(*[_throttled() for _ in range(5)])
    with pytest.raises(GaveUp, match="gave up after 3 attempts"):
        await retry_batch(flaky, RetryPolicy(attempts=3, wait=False), sleep=Sleeps())
    assert flaky.calls == 3


async def test_with_count_throttled_false_a_throttle_only_waits() -> None:
    # Ten throttles (429s and 503s with Retry-After) and then a success: never given up, the
    # budget untouched, though attempts=2 and the budget holds no retry at all.
    errors = [_throttled(status=429 if i % 2 else 503) for i in range(10)]
    flaky = Flaky(*errors)
    budget = RetryBudget(ratio=0, burst=0)
    policy = RetryPolicy(attempts=2, wait=False, count_throttled=False)
    assert await retry_batch(flaky, policy, sleep=Sleeps(), budget=budget) == "ok"
    assert flaky.calls == 11
    assert budget.retries == 0


async def test_with_count_throttled_false_other_failures_still_count() -> None:
    # Throttles between them do not count: two real failures spend attempts=2.
    flaky = Flaky(_throttled(), TransportError("drop"), _throttled(), TransportError("drop"))
    policy = RetryPolicy(attempts=2, wait=False, count_throttled=False)
    with pytest.raises(GaveUp, match="gave up after 2 attempts"):
        await retry_batch(flaky, policy, sleep=Sleeps())
    assert flaky.calls == 4


async def test_a_first_attempt_that_succeeds_never_asks_tenacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tenacity

    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("tenacity was asked about a first attempt that succeeded")

    monkeypatch.setattr(tenacity.AsyncRetrying, "iter", refuse)
    assert await retry_batch(Flaky(), RetryPolicy(wait=False), sleep=Sleeps()) == "ok"
