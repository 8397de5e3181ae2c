from __future__ import annotations

import asyncio
import time

import pytest

from groove_async._flow import ConcurrencyLimit, RetryBudget, ThrottleGate


async def test_limit_bounds_holders_and_hands_slots_on() -> None:
    limit = ConcurrencyLimit(2)
    await limit.acquire()
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    limit.release()
    await waiter
    assert limit.in_flight == 2


async def test_cancelled_waiter_already_dropped_by_wake() -> None:
    """Regression: a waiter cancelled and then skipped by _wake() must not be removed twice."""
    limit = ConcurrencyLimit(1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    limit.release()  # _wake() pops the cancelled waiter before the task handles its cancel
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limit.in_flight == 0
    await asyncio.wait_for(limit.acquire(), 1)


async def test_cancelled_after_being_handed_a_slot_passes_it_on() -> None:
    limit = ConcurrencyLimit(1)
    await limit.acquire()
    first = asyncio.create_task(limit.acquire())
    second = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    limit.release()  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert limit.in_flight == 1


def test_aimd() -> None:
    limit = ConcurrencyLimit(8, cooldown=0)
    assert limit.decrease() and limit.limit == 4
    assert limit.decrease() and limit.limit == 2
    for _ in range(2):
        limit.increase()
    assert limit.limit == 3
    for _ in range(3 + 4 + 5 + 6 + 7):
        limit.increase()
    assert limit.limit == 8
    assert not limit.increase()


def test_decrease_once_per_burst() -> None:
    limit = ConcurrencyLimit(8, cooldown=60)
    assert limit.decrease()
    assert not limit.decrease()  # the other batches of the same burst
    assert limit.limit == 4


async def test_gate_holds_until_the_pause_ends() -> None:
    gate = ThrottleGate()
    assert gate.pause(0.2)
    assert not gate.pause(0.1)  # never shortened
    started = time.monotonic()
    await gate.wait(asyncio.sleep)
    assert time.monotonic() - started >= 0.2
    assert gate.paused_for == 0


async def test_gate_wait_stops_early_when_told() -> None:
    gate = ThrottleGate()
    gate.pause(3600)

    async def no_sleep(_: float) -> None:
        return None

    await asyncio.wait_for(gate.wait(no_sleep, lambda: True), 1)


def test_retry_budget() -> None:
    budget = RetryBudget(ratio=0.5, burst=2)
    assert budget.withdraw() and budget.withdraw()
    assert not budget.withdraw()
    budget.deposit()
    assert not budget.withdraw()  # half a token
    budget.deposit()
    assert budget.withdraw()
    for _ in range(100):
        budget.deposit()
    assert budget.tokens == 2
    assert budget.retries == 3
