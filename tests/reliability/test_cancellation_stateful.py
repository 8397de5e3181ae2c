"""A concurrency slot never outlives its owner, whatever is cancelled when.

A Hypothesis state machine drives one client with ``max_concurrency=2`` through random mixes of
bulk calls, streams closed early, deadlines, stop events, caller cancellations at random points,
sources that fail or crawl, bursts of single adds and ``aclose()`` while busy. After every step,
once the client is idle: every slot is free, no task is left behind, and a fresh call completes.
With two slots, a single leaked slot pair turns every later call (and ``aclose()``) into a hang;
every wait here is bounded, so a hang fails the test instead of freezing the suite.

The invariants read the client's private state on purpose (a white-box check):
``_limit.in_flight``, ``_tasks`` and ``_operations``.

Below the machine, direct regression tests for each path the issue names.

``GROOVE_STATEFUL_EXAMPLES`` (default 50) and ``GROOVE_STATEFUL_STEPS`` (default 12) size the
stateful run: e.g. ``GROOVE_STATEFUL_EXAMPLES=500`` for a long local hunt.
``GROOVE_STATEFUL_SHRINK=1`` turns shrinking on (off by default: see ``STATEFUL_SETTINGS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from groove_async import GrooveClient, Outcome, RetryPolicy, TrackResult
from groove_async.testing import FakeGrooveServer, FaultPlan
from tests.conftest import catalog_id

T = TypeVar("T")

MAX_CONCURRENCY = 2
PROMPT = 5.0  # seconds: aclose(), the probe call, a call bounded by a 0.05 s deadline or stop
# Seconds for the client's tasks to end once a step is over. A batch that a late linger timer
# flushed may still be on the wire, and in rare runs (seen in full suite runs only, never alone)
# one of its requests gets no answer from the emulator at all: it then ends at the client's
# REQUEST_TIMEOUT as a TIMEOUT failure, as the client promises. The bound is just above that
# timeout, so a slot that outlives its request is still caught, and the wait ends as soon as
# the client is idle, so the bound costs nothing in the usual run.
REQUEST_TIMEOUT = 5.0
IDLE_WAIT = REQUEST_TIMEOUT + 1.0
STEP_TIMEOUT = 8.0  # seconds for one whole step (its own asserts are tighter)
SLOW_PACE = 0.25  # seconds per input of a slow source: 240 of them take a minute
SLOW_ITEMS = 240
SLOW_BOUND = 0.05  # the deadline, or the time the stop event is set, for a slow source
FAST_RETRY = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.005)

Source = Literal["list", "sync", "async"]


class SourceError(Exception):
    """What the caller's iterable raises."""


# -- shared helpers ---------------------------------------------------------------------------


@dataclass
class Context:
    """What an operation needs to know about the machine it runs in."""

    faults: bool  # the emulator injects transient failures (FAILED outcomes are then possible)
    closing: bool = False  # aclose() may run concurrently: NOT_SENT / "closed" are expected
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def ids(self, n: int, period: int | None = None) -> list[str]:
        """``n`` fresh IDs; with ``period`` they repeat every ``period`` inputs."""
        base = next(self.counter) * 1000
        for _ in range(n // 1000):
            next(self.counter)
        return [catalog_id(base + (i % period if period else i)) for i in range(n)]

    def closing_copy(self) -> Context:
        return Context(self.faults, closing=True, counter=self.counter)


@dataclass(frozen=True)
class After:
    """A random point in time: ``iters`` event-loop iterations, then ``secs`` seconds."""

    iters: int
    secs: float = 0.0

    async def wait(self) -> None:
        for _ in range(self.iters):
            await asyncio.sleep(0)
        if self.secs:
            await asyncio.sleep(self.secs)


def make_source(
    kind: Source,
    ids: list[str],
    reads: list[str],
    raise_after: int | None = None,
    *,
    fast: int | None = None,
) -> Iterable[str] | AsyncIterator[str]:
    """``ids`` as a list, a sync generator or an async generator, recording each input read.

    A generator raises :class:`SourceError` instead of yielding input ``raise_after`` (or
    instead of ending, when ``raise_after == len(ids)``). An async one with ``fast`` set yields
    ``fast`` inputs at once, then one every :data:`SLOW_PACE` seconds.
    """
    if kind == "list":
        return ids

    def check(i: int) -> None:
        if i == raise_after:
            raise SourceError(f"the source failed after {i} inputs")

    if kind == "sync":

        def generate() -> Iterator[str]:
            for i, track_id in enumerate(ids):
                check(i)
                reads.append(track_id)
                yield track_id
            check(len(ids))

        return generate()

    async def agenerate() -> AsyncIterator[str]:
        for i, track_id in enumerate(ids):
            if fast is not None and i >= fast:
                await asyncio.sleep(SLOW_PACE)
            elif i % 10 == 9:
                await asyncio.sleep(0)  # a real async source: cancellation can land mid-read
            check(i)
            reads.append(track_id)
            yield track_id
        check(len(ids))

    return agenerate()


async def close_source(source: object) -> None:
    """Close an async generator source left suspended (never while the client still reads it)."""
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(RuntimeError):  # still being read: a leak the invariant reports
            await aclose()


def check_results(results: Sequence[TrackResult], expected: Sequence[str], what: str) -> None:
    """One result per input read, input IDs in order, sane outcomes."""
    got = [r.input_id for r in results]
    if got != list(expected):
        first = next(
            (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
            min(len(got), len(expected)),
        )
        raise AssertionError(
            f"{what}: {len(got)} results for {len(expected)} inputs read "
            f"(first difference at position {first})"
        )
    for i, r in enumerate(results):
        assert isinstance(r.outcome, Outcome), f"{what}: result {i} has outcome {r.outcome!r}"
        if r.outcome is Outcome.SUCCEEDED:
            assert r.id is not None, f"{what}: result {i} SUCCEEDED without an id"
        else:
            assert r.error is not None, f"{what}: result {i} is {r.outcome.name} without an error"


def check_complete(results: Sequence[TrackResult], ctx: Context, what: str) -> None:
    """An operation nothing stopped: every input was sent; without faults, every one applied."""
    outcomes = {r.outcome for r in results}
    assert Outcome.NOT_SENT not in outcomes, f"{what}: NOT_SENT although nothing stopped it"
    if not ctx.faults:
        assert outcomes <= {Outcome.SUCCEEDED}, f"{what}: {outcomes} from a healthy server"


def own_cancellation() -> bool:
    """Whether the running task itself is being cancelled (a step timing out)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def finish(*tasks: asyncio.Task[Any]) -> None:
    """Cancel ``tasks`` if still running and wait for them, without raising."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)


def raise_first(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Raise the first failure among ended ``tasks`` (every exception retrieved)."""
    errors = [t.exception() for t in tasks if not t.cancelled()]
    for error in errors:
        if error is not None:
            raise error


def closed_error(exc: BaseException, ctx: Context) -> bool:
    """A call refused because a concurrent aclose() came first."""
    return ctx.closing and isinstance(exc, RuntimeError) and "closed" in str(exc)


# -- operations (drawn by Hypothesis, run by the machine) --------------------------------------


@dataclass(frozen=True)
class Bulk:
    """``add_tracks`` with a deadline, a stop event set at some point, or its caller cancelled."""

    n: int
    source: Source = "list"
    period: int | None = None
    deadline: float | None = None
    stop: After | None = None
    cancel: After | None = None
    raise_after: int | None = None

    async def run(self, groove: GrooveClient, ctx: Context) -> None:
        what = repr(self)
        ids = ctx.ids(self.n, self.period)
        reads: list[str] = []
        source = make_source(self.source, ids, reads, self.raise_after)
        stop = asyncio.Event() if self.stop is not None else None
        call = asyncio.create_task(
            groove.add_tracks(source, deadline=self.deadline, stop=stop), name="test-bulk"
        )
        helpers: list[asyncio.Task[None]] = []
        try:
            if self.stop is not None:
                helpers.append(asyncio.create_task(set_after(stop, self.stop), name="test-stop"))
            if self.cancel is not None:
                await self.cancel.wait()
                call.cancel()
            try:
                result = await call
            except asyncio.CancelledError:
                if self.cancel is None or own_cancellation():
                    raise
                return
            except SourceError:
                assert self.raise_after is not None, what
                return
            except RuntimeError as exc:
                if closed_error(exc, ctx):
                    return
                raise
            interrupted = self.deadline is not None or self.stop is not None or ctx.closing
            expected = ids if self.source == "list" else reads
            check_results(result, expected, what)
            if self.raise_after is not None:
                assert interrupted, f"{what}: the source's error was swallowed"
            if not interrupted:
                assert len(result) == self.n, what
                check_complete(result, ctx, what)
        finally:
            await finish(call, *helpers)
            await close_source(source)


async def set_after(event: asyncio.Event | None, when: After) -> None:
    assert event is not None
    await when.wait()
    event.set()


@dataclass(frozen=True)
class Stream:
    """``stream_add_tracks``: closed early, stopped after k results, its source failing, its
    consumer cancelled, or read to the end."""

    n: int
    source: Source = "list"
    period: int | None = None
    deadline: float | None = None
    stop_after_results: int | None = None
    close_after: int | None = None
    cancel: After | None = None
    raise_after: int | None = None

    async def run(self, groove: GrooveClient, ctx: Context) -> None:
        what = repr(self)
        ids = ctx.ids(self.n, self.period)
        reads: list[str] = []
        results: list[TrackResult] = []
        source = make_source(self.source, ids, reads, self.raise_after)
        stop = asyncio.Event() if self.stop_after_results is not None else None
        if stop is not None and self.stop_after_results == 0:
            stop.set()
        closed_early = False

        async def consume() -> None:
            nonlocal closed_early
            stream = groove.stream_add_tracks(source, deadline=self.deadline, stop=stop)
            async with aclosing(stream) as items:
                async for item in items:
                    results.append(item)
                    if stop is not None and len(results) == self.stop_after_results:
                        stop.set()
                    if self.close_after is not None and len(results) >= self.close_after:
                        closed_early = True
                        break

        consumer = asyncio.create_task(consume(), name="test-stream")
        try:
            if self.cancel is not None:
                await self.cancel.wait()
                consumer.cancel()
            try:
                await consumer
            except asyncio.CancelledError:
                if self.cancel is None or own_cancellation():
                    raise
                check_results(results, ids[: len(results)], what)
                return
            except SourceError:
                assert self.raise_after is not None, what
                # Every input read got its result before the error surfaced.
                check_results(results, reads, what + " (raised SourceError)")
                return
            except RuntimeError as exc:
                if closed_error(exc, ctx):
                    return
                raise
            check_results(results, ids[: len(results)], what)
            if closed_early:
                return
            interrupted = (
                self.deadline is not None or self.stop_after_results is not None or ctx.closing
            )
            if self.source != "list":
                check_results(results, reads, what + " (every input read)")
            if self.raise_after is not None:
                assert interrupted, f"{what}: the source's error was swallowed"
            if not interrupted:
                assert len(results) == self.n, what
                check_complete(results, ctx, what)
        finally:
            await finish(consumer)
            await close_source(source)


@dataclass(frozen=True)
class Singles:
    """A burst of concurrent ``add_track`` calls; those marked are cancelled at some point."""

    cancelled: tuple[bool, ...]
    cancel: After = After(0)
    period: int | None = None

    async def run(self, groove: GrooveClient, ctx: Context) -> None:
        what = repr(self)
        ids = ctx.ids(len(self.cancelled), self.period)
        calls = [
            asyncio.create_task(groove.add_track(track_id), name="test-single") for track_id in ids
        ]
        try:
            await self.cancel.wait()
            for call, cancel in zip(calls, self.cancelled, strict=True):
                if cancel:
                    call.cancel()
            await asyncio.wait(calls)
        finally:
            await finish(*calls)
        for track_id, call, cancel in zip(ids, calls, self.cancelled, strict=True):
            if call.cancelled():
                assert cancel, f"{what}: a call nobody cancelled was cancelled"
                continue
            exc = call.exception()
            if exc is not None:
                if closed_error(exc, ctx):
                    continue
                raise exc
            result = call.result()
            check_results([result], [track_id], what)
            if not ctx.closing:
                check_complete([result], ctx, what)


@dataclass(frozen=True)
class SlowSource:
    """An async source that would take a minute, bounded by a 0.05 s deadline or stop event."""

    kind: Literal["bulk", "stream"]
    bound: Literal["deadline", "stop"]
    fast: int = 0  # inputs available at once before the source slows down

    async def run(self, groove: GrooveClient, ctx: Context) -> None:
        what = repr(self)
        ids = ctx.ids(self.fast + SLOW_ITEMS)
        reads: list[str] = []
        source = make_source("async", ids, reads, fast=self.fast)
        assert isinstance(source, AsyncIterator)
        deadline = SLOW_BOUND if self.bound == "deadline" else None
        stop = asyncio.Event() if self.bound == "stop" else None
        setter = None
        if stop is not None:
            setter = asyncio.create_task(set_after(stop, After(0, SLOW_BOUND)), name="test-stop")
        results: list[TrackResult] = []
        try:
            try:
                async with asyncio.timeout(PROMPT):
                    if self.kind == "bulk":
                        results.extend(
                            await groove.add_tracks(source, deadline=deadline, stop=stop)
                        )
                    else:
                        stream = groove.stream_add_tracks(source, deadline=deadline, stop=stop)
                        async with aclosing(stream) as items:
                            results.extend([item async for item in items])
            except TimeoutError:
                raise AssertionError(
                    f"{what}: still running {PROMPT}s after a {SLOW_BOUND}s {self.bound} "
                    f"({len(reads)} of {len(ids)} inputs read)"
                ) from None
            except RuntimeError as exc:
                if closed_error(exc, ctx):
                    return
                raise
            check_results(results, reads, what + " (every input read)")
        finally:
            if setter is not None:
                await finish(setter)
            await close_source(source)


Operation = Bulk | Stream | Singles | SlowSource


# -- strategies -------------------------------------------------------------------------------

afters = st.builds(
    After,
    iters=st.integers(0, 40),
    secs=st.sampled_from([0.0, 0.0, 0.0, 0.001, 0.003, 0.01, 0.03]),
)
deadlines = st.sampled_from([None, None, 0.0, 0.001, 0.005, 0.02])
sizes = st.one_of(st.integers(0, 350), st.sampled_from([1, 99, 100, 101, 150, 200, 201, 350]))
periods = st.sampled_from([None, None, None, 1, 7, 150])


@st.composite
def bulks(draw: st.DrawFn) -> Bulk:
    n = draw(sizes)
    source = draw(st.sampled_from(["list", "sync", "async"]))
    return Bulk(
        n=n,
        source=source,
        period=draw(periods),
        deadline=draw(deadlines),
        stop=draw(st.none() | afters),
        cancel=draw(st.none() | afters),
        raise_after=None if source == "list" else draw(st.none() | st.integers(0, n)),
    )


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    n = draw(sizes)
    source = draw(st.sampled_from(["list", "sync", "async"]))
    return Stream(
        n=n,
        source=source,
        period=draw(periods),
        deadline=draw(deadlines),
        stop_after_results=draw(st.none() | st.integers(0, n)),
        close_after=draw(st.none() | st.integers(1, max(1, n))),
        cancel=draw(st.none() | afters),
        raise_after=None if source == "list" else draw(st.none() | st.integers(0, n)),
    )


singles = st.builds(
    Singles,
    cancelled=st.lists(st.booleans(), min_size=1, max_size=25).map(tuple),
    cancel=afters,
    period=st.sampled_from([None, None, 1, 3]),
)
slow_sources = st.builds(
    SlowSource,
    kind=st.sampled_from(["bulk", "stream"]),
    bound=st.sampled_from(["deadline", "stop"]),
    fast=st.sampled_from([0, 0, 1, 50, 150, 250]),
)
operations = st.one_of(bulks(), streams(), singles, slow_sources)


# -- the state machine ------------------------------------------------------------------------


def _awaiting(coro: object) -> str:
    """The chain of coroutines ``coro`` is suspended in, outermost first, then what it awaits."""
    where: list[str] = []
    while coro is not None and len(where) < 20:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        awaited = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        if awaited is None:
            break
        if not hasattr(awaited, "cr_frame") and not hasattr(awaited, "ag_frame"):
            where.append(repr(awaited)[:120])
            break
        coro = awaited
    return " -> ".join(where)


def _snapshot(groove: GrooveClient, loop: asyncio.AbstractEventLoop) -> str:
    live = sorted(
        t.get_name()
        for t in asyncio.all_tasks(loop)
        if t.get_name().startswith(("groove-", "test-"))
    )
    # Where each of the client's tasks is waiting: what a failure needs to be understood.
    stacks = "; ".join(
        f"{t.get_name()} at {_awaiting(t.get_coro())}" for t in groove._tasks if not t.done()
    )
    return (
        f"in_flight={groove._limit.in_flight} limit={groove._limit.limit} "
        f"tasks={sorted(t.get_name() for t in groove._tasks)} "
        f"operations={len(groove._operations)} live={live} "
        f"gate paused for {groove._gate.paused_for:.3f}s; {stacks}"
    )


class CancellationMachine(RuleBasedStateMachine):
    """One emulator and one ``max_concurrency=2`` client on an event loop of their own."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.server: FakeGrooveServer | None = None
        self.groove: GrooveClient | None = None
        self.ctx = Context(faults=False)
        self.probes = itertools.count(900_000)

    # -- driving the loop ---------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """Run ``coro`` on the machine's loop; a hang past ``timeout`` fails the test."""
        task = self.loop.create_task(coro, name="runner")
        done, _ = self.loop.run_until_complete(asyncio.wait({task}, timeout=timeout))
        if not done:
            state = _snapshot(self.groove, self.loop) if self.groove is not None else ""
            task.cancel()
            self.loop.run_until_complete(asyncio.wait({task}, timeout=2))
            raise AssertionError(f"{what}: no return within {timeout}s (a hang) [{state}]")
        return task.result()

    async def _new_client(self) -> GrooveClient:
        assert self.server is not None
        return GrooveClient(
            "t",
            base_url=self.server.url,
            max_concurrency=MAX_CONCURRENCY,
            retry=FAST_RETRY,
            timeout=REQUEST_TIMEOUT,
        )

    async def _settle(self, groove: GrooveClient) -> None:
        """Wait (bounded) until the client has no task or operation left."""
        for _ in range(10):
            await asyncio.sleep(0)
        deadline = self.loop.time() + IDLE_WAIT
        while self.loop.time() < deadline and (
            groove._tasks or groove._operations or self._live_tasks()
        ):
            await asyncio.sleep(0.005)

    def _live_tasks(self) -> list[str]:
        return sorted(
            t.get_name()
            for t in asyncio.all_tasks(self.loop)
            if t.get_name().startswith(("groove-", "test-")) and not t.done()
        )

    def check_idle(self, groove: GrooveClient, when: str) -> None:
        self.run(self._settle(groove), IDLE_WAIT + 1, f"settling {when}")
        state = _snapshot(groove, self.loop)
        if self.server is not None:  # what the emulator last saw, for a failure to be read
            last = [
                (
                    r.method,
                    r.path.rsplit("/", 1)[-1],
                    r.status,
                    r.fault,
                    r.id_count,
                    round(self.loop.time() - r.time, 3),
                )
                for r in self.server.requests[-4:]
            ]
            state += f"; emulator's last requests (age s): {last}"
        assert groove._limit.in_flight == 0, f"slots held by nobody {when}: {state}"
        assert not groove._tasks, f"tasks left behind {when}: {state}"
        assert not groove._operations, f"operations left open {when}: {state}"
        assert not self._live_tasks(), f"tasks left behind {when}: {state}"

    def run_operations(self, ops: Sequence[Operation], ctx: Context) -> None:
        async def together() -> None:
            assert self.groove is not None
            tasks = [asyncio.create_task(op.run(self.groove, ctx), name="test-op") for op in ops]
            try:
                await asyncio.wait(tasks)
            finally:
                await finish(*tasks)
            raise_first(tasks)

        self.run(together(), STEP_TIMEOUT, f"operations {list(ops)}")

    # -- rules ----------------------------------------------------------------------------------

    @initialize(
        seed=st.integers(0, 2**16),
        latency=st.sampled_from([0.0, 0.001, 0.005]),
        faults=st.booleans(),
    )
    def start(self, seed: int, latency: float, faults: bool) -> None:
        plan = FaultPlan(
            latency=latency,
            latency_jitter=latency,
            **(
                {"p_503": 0.03, "p_429": 0.02, "retry_after": 0.005, "p_drop": 0.02}
                if faults
                else {}
            ),
        )
        self.ctx = Context(faults=faults)
        self.server = FakeGrooveServer(tokens=["t"], faults=plan, seed=seed)
        self.run(self.server.start(), PROMPT, "starting the emulator")
        self.groove = self.run(self._new_client(), PROMPT, "opening the client")

    @rule(op=bulks())
    def bulk(self, op: Bulk) -> None:
        self.run_operations([op], self.ctx)

    @rule(op=streams())
    def stream(self, op: Stream) -> None:
        self.run_operations([op], self.ctx)

    @rule(op=singles)
    def single_adds(self, op: Singles) -> None:
        self.run_operations([op], self.ctx)

    @rule(op=slow_sources)
    def slow_source(self, op: SlowSource) -> None:
        self.run_operations([op], self.ctx)

    @rule(ops=st.lists(operations, min_size=2, max_size=4))
    def concurrently(self, ops: list[Operation]) -> None:
        self.run_operations(ops, self.ctx)

    @rule(ops=st.lists(operations, max_size=3), when=afters)
    def close_while_busy(self, ops: list[Operation], when: After) -> None:
        """aclose() while operations run: it returns promptly, so do they; then a new client."""
        groove = self.groove
        assert groove is not None
        ctx = self.ctx.closing_copy()

        async def close() -> None:
            tasks = [asyncio.create_task(op.run(groove, ctx), name="test-op") for op in ops]
            try:
                await when.wait()
                try:
                    async with asyncio.timeout(PROMPT):
                        await groove.aclose()
                except TimeoutError:
                    raise AssertionError(
                        f"aclose() still running after {PROMPT}s [{_snapshot(groove, self.loop)}]"
                    ) from None
                if tasks:
                    _, pending = await asyncio.wait(tasks, timeout=PROMPT)
                    assert not pending, f"operations still running {PROMPT}s after aclose()"
            finally:
                await finish(*tasks)
            raise_first(tasks)

        self.run(close(), STEP_TIMEOUT, f"aclose() during {ops}")
        self.check_idle(groove, "after aclose()")
        self.groove = self.run(self._new_client(), PROMPT, "opening a new client")

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def idle_client_is_clean_and_usable(self) -> None:
        groove = self.groove
        if groove is None:
            return
        self.check_idle(groove, "after the step")
        track_id = catalog_id(next(self.probes))
        result = self.run(
            groove.add_tracks([track_id]), PROMPT, "a one-ID add_tracks probe after the step"
        )
        check_results(result, [track_id], "probe")
        check_complete(result, self.ctx, "probe")
        self.check_idle(groove, "after the probe")

    def teardown(self) -> None:
        failure: BaseException | None = None
        try:
            if self.groove is not None:
                try:
                    self.run(self.groove.aclose(), PROMPT, "aclose() at teardown")
                    self.check_idle(self.groove, "after aclose() at teardown")
                except AssertionError as exc:
                    failure = exc
        finally:
            self._shutdown()
        if failure is not None:
            raise failure

    def _shutdown(self) -> None:
        loop = self.loop
        leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=2))
        if self.groove is not None:  # after a hang the session may still be open
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.wait_for(self.groove._send.aclose(), 2))
        if self.server is not None:
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.wait_for(self.server.stop(), PROMPT))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# Shrinking is off unless asked for: a hang costs seconds per shrink attempt, so shrinking a
# failure here can take Hypothesis's full five minutes. The failing steps are printed either way.
SHRINK = os.environ.get("GROOVE_STATEFUL_SHRINK", "") not in ("", "0")

EXAMPLES = int(os.environ.get("GROOVE_STATEFUL_EXAMPLES", "50"))
STEPS = int(os.environ.get("GROOVE_STATEFUL_STEPS", "12"))

STATEFUL_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    phases=[phase for phase in Phase if SHRINK or phase not in (Phase.shrink, Phase.explain)],
    report_multiple_bugs=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.mark.timeout(max(120, EXAMPLES * STEPS // 4))  # a long hunt outlasts the default
def test_no_slot_outlives_its_owner_whatever_is_cancelled_when() -> None:
    run_state_machine_as_test(CancellationMachine, settings=STATEFUL_SETTINGS)


# -- direct regression tests ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def leak_check_client() -> AsyncIterator[GrooveClient]:
    """An emulator (each POST a little slow) and a ``max_concurrency=2`` client.

    The session is closed even when ``aclose()`` hangs, so a failure is only the failure.
    """
    async with FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=0.005)) as server:
        groove = GrooveClient("t", base_url=server.url, max_concurrency=MAX_CONCURRENCY)
        try:
            yield groove
        finally:
            await finish(*groove._tasks)
            await groove._send.aclose()


async def assert_still_usable(groove: GrooveClient) -> None:
    """No slot held; a later bulk call, a single call and aclose() all return.

    A few loop iterations first: a slot may be given back by a done callback, just after its
    task ended, rather than before the call returned.
    """
    for _ in range(5):
        await asyncio.sleep(0)
    assert groove._limit.in_flight == 0, f"{groove._limit.in_flight} slots held by nobody"
    assert not groove._tasks
    ids = [catalog_id(500_000 + i) for i in range(250)]
    try:
        async with asyncio.timeout(PROMPT):
            result = await groove.add_tracks(ids)
    except TimeoutError:
        raise AssertionError("a later add_tracks hangs") from None
    check_results(result, ids, "later add_tracks")
    assert result.ok
    try:
        async with asyncio.timeout(PROMPT):
            single = await groove.add_track(catalog_id(600_000))
    except TimeoutError:
        raise AssertionError("a later add_track hangs") from None
    assert single.ok
    try:
        async with asyncio.timeout(PROMPT):
            await groove.aclose()
    except TimeoutError:
        raise AssertionError("aclose() hangs") from None
    assert groove._limit.in_flight == 0
    assert not groove._tasks
    assert not groove._operations


async def test_a_stream_closed_after_its_first_result_releases_its_slots() -> None:
    async with leak_check_client() as groove:
        ids = [catalog_id(i) for i in range(1000)]
        async with aclosing(groove.stream_add_tracks(ids)) as stream:
            async for item in stream:
                assert item.input_id == ids[0]
                break
        await assert_still_usable(groove)


async def test_a_zero_deadline_releases_its_slots() -> None:
    async with leak_check_client() as groove:
        ids = [catalog_id(i) for i in range(350)]
        result = await groove.add_tracks(ids, deadline=0)
        check_results(result, ids, "deadline=0")
        await assert_still_usable(groove)


@pytest.mark.parametrize("iterations", [0, 1, 2, 3, 5, 10])
async def test_cancelling_the_caller_releases_its_slots(iterations: int) -> None:
    async with leak_check_client() as groove:
        call = asyncio.create_task(groove.add_tracks([catalog_id(i) for i in range(350)]))
        for _ in range(iterations):
            await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await assert_still_usable(groove)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("raise_after", [150, 99])
async def test_a_failing_source_answers_every_input_read_first(
    kind: Source, raise_after: int
) -> None:
    async with leak_check_client() as groove:
        ids = [catalog_id(i) for i in range(300)]
        reads: list[str] = []
        results: list[TrackResult] = []
        source = make_source(kind, ids, reads, raise_after)

        async def consume() -> None:
            async with asyncio.timeout(PROMPT), aclosing(groove.stream_add_tracks(source)) as s:
                async for item in s:
                    results.append(item)

        with pytest.raises(SourceError):
            await consume()
        assert len(reads) == raise_after
        check_results(results, ids[:raise_after], f"{kind} source failing after {raise_after}")
        assert all(r.ok for r in results)
        await assert_still_usable(groove)


@pytest.mark.parametrize("bound", ["deadline", "stop"])
@pytest.mark.parametrize("fast", [0, 150])
async def test_add_tracks_deadline_and_stop_cover_reading_the_input(
    bound: Literal["deadline", "stop"], fast: int
) -> None:
    async with leak_check_client() as groove:
        # Would take a minute to read; the call must return soon after its 0.05 s bound.
        await SlowSource("bulk", bound, fast).run(groove, Context(faults=False))
        await assert_still_usable(groove)
