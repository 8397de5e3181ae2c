"""Bot-facing features against the emulator: coalescing, throttling, progress, stop/deadline."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from groove_async import (
    AuthenticationError,
    BatchFinished,
    BatchStarted,
    GrooveClient,
    Outcome,
    ProgressEvent,
    RetryPolicy,
    RetryScheduled,
    Throttled,
    ThrottleGate,
    TrackResult,
)
from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse
from tests.conftest import catalog_id, posts


def client_leftovers() -> list[asyncio.Task[Any]]:
    """Tasks still alive besides the test itself and the emulator's request handlers."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    ]


def tracer() -> tuple[aiohttp.TraceConfig, SimpleNamespace]:
    """Client-side timeline: when each POST started, and each response's status and time."""
    log = SimpleNamespace(starts=[], ends=[], open=0)
    trace = aiohttp.TraceConfig()

    async def start(*_: Any) -> None:
        log.starts.append(time.monotonic())
        log.open += 1

    async def end(_s: Any, _c: Any, params: Any) -> None:
        log.ends.append((time.monotonic(), params.response.status))
        log.open -= 1

    async def failed(*_: Any) -> None:
        log.open -= 1

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(failed)
    return trace, log


# -- coalescing ------------------------------------------------------------------------------


async def test_5000_concurrent_single_adds_make_about_50_posts() -> None:
    ids = [catalog_id(i) for i in range(4_990)] + ["music.not-in-catalog"] * 10
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url) as groove,
    ):
        results = await asyncio.gather(*(groove.add_track(i) for i in ids))
        collection = server.collection("t")
    assert [r.input_id for r in results] == ids
    for r in results[:4_990]:
        assert r.ok and collection[r.input_id] == r.id
    assert all(r.outcome is Outcome.REJECTED for r in results[4_990:])
    assert 50 <= len(posts(server)) <= 51
    assert max(r.id_count for r in posts(server)) == 100


async def test_linger_window_gathers_calls_that_arrive_together() -> None:
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url, linger=0.2) as groove,
    ):
        started = time.monotonic()
        first = asyncio.create_task(groove.add_track(catalog_id(1)))
        await asyncio.sleep(0.05)  # well inside the window
        second = asyncio.create_task(groove.add_track(catalog_id(2)))
        results = await asyncio.gather(first, second)
    assert [r.ok for r in results] == [True, True]
    (post,) = posts(server)
    assert post.id_count == 2
    assert post.time - started >= 0.2  # nothing was sent before the window closed


async def test_a_full_batch_does_not_wait_for_the_window() -> None:
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url, linger=30.0) as groove,
    ):
        results = await asyncio.wait_for(
            asyncio.gather(*(groove.add_track(catalog_id(i)) for i in range(100))), timeout=10
        )
    assert all(r.ok for r in results)
    assert [p.id_count for p in posts(server)] == [100]


async def test_a_coalesced_batch_cancelled_before_its_first_step_does_not_strand_callers() -> None:
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url, batch_size=2) as groove,
    ):
        callers = [asyncio.ensure_future(groove.add_track(catalog_id(i))) for i in range(2)]
        await asyncio.sleep(0)  # both enqueued: the full batch's task exists, not yet started
        (batch,) = groove._tasks
        batch.cancel()
        async with asyncio.timeout(5):
            outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert posts(server) == []


async def test_cancelled_callers_do_not_cancel_the_batch_for_others() -> None:
    tasks: list[asyncio.Task[TrackResult]] = []
    trace = aiohttp.TraceConfig()

    async def cancel_half(*_: Any) -> None:
        # The batch is going on the wire right now: cancel every other caller.
        for task in tasks[::2]:
            task.cancel()

    trace.on_request_start.append(cancel_half)
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        GrooveClient("t", base_url=server.url, linger=0.01, session=session) as groove,
    ):
        tasks += [asyncio.create_task(groove.add_track(catalog_id(i % 30))) for i in range(60)]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        collection = server.collection("t")
    for i, outcome in enumerate(done):
        if i % 2 == 0:
            assert isinstance(outcome, asyncio.CancelledError)
        else:
            assert isinstance(outcome, TrackResult) and outcome.ok
            assert collection[outcome.input_id] == outcome.id
    # A cancelled caller's ID is not lost: it was sent, and others asking for it get it.
    assert set(collection) == {catalog_id(i) for i in range(30)}
    assert len(posts(server)) == 1


async def test_closing_flushes_waiting_callers() -> None:
    async with FakeGrooveServer(tokens=["t"]) as server:
        groove = GrooveClient("t", base_url=server.url, linger=3600)
        tasks = [asyncio.create_task(groove.add_track(catalog_id(i))) for i in range(7)]
        await asyncio.sleep(0)  # the calls are queued, the window would last an hour
        await groove.aclose()
        results = await asyncio.gather(*tasks)
        assert all(r.ok for r in results)
        assert [p.id_count for p in posts(server)] == [7]
        with pytest.raises(RuntimeError, match="closed"):
            await groove.add_track(catalog_id(1))


async def test_single_calls_validate_and_report_auth_failures_each() -> None:
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("wrong", base_url=server.url) as groove,
    ):
        with pytest.raises(ValueError, match="music"):
            await groove.add_track("spotify:track:1")
        outcomes = await asyncio.gather(
            *(groove.add_track(catalog_id(i)) for i in range(3)), return_exceptions=True
        )
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 3  # each caller its own exception
    first = outcomes[0]
    assert isinstance(first, AuthenticationError) and first.partial is not None
    assert [r.outcome for r in first.partial] == [Outcome.NOT_SENT]


async def test_single_deletes() -> None:
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url) as groove,
    ):
        added = await asyncio.gather(*(groove.add_track(catalog_id(i)) for i in range(5)))
        deleted = await asyncio.gather(*(groove.delete_track(r.id or "") for r in added))
        assert all(r.ok for r in deleted)
        assert server.collection("t") == {}


# -- throttling ------------------------------------------------------------------------------


async def test_no_batch_is_sent_before_retry_after_has_passed() -> None:
    trace, log = tracer()
    async with FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=0.02)) as server:
        server.script(ScriptedResponse(429, headers={"Retry-After": "0.5"}))
        async with (
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            GrooveClient("t", base_url=server.url, max_concurrency=4, session=session) as groove,
        ):
            result = await groove.add_tracks([catalog_id(i) for i in range(2_000)])
    assert result.ok
    throttled_at = next(t for t, status in log.ends if status == 429)
    later = [t for t in log.starts if t > throttled_at]
    assert later, "the import went on after the 429"
    assert min(later) - throttled_at >= 0.5


async def test_concurrency_halves_on_throttling_and_recovers() -> None:
    events: list[ProgressEvent] = []
    async with FakeGrooveServer(tokens=["t"]) as server:
        server.script(ScriptedResponse(429, headers={"Retry-After": "0.05"}))
        async with GrooveClient(
            "t", base_url=server.url, max_concurrency=8, on_event=events.append
        ) as groove:
            first = await groove.add_tracks([catalog_id(i) for i in range(800)])
            throttles = [e for e in events if isinstance(e, Throttled)]
            assert throttles and throttles[0].concurrency == 4
            assert throttles[0].pause >= 0.05
            second = await groove.add_tracks([catalog_id(i) for i in range(800, 8_000)])
            assert groove.concurrency == 8  # regained, one step per round of successes
    assert first.ok and second.ok


async def test_throttling_lowers_the_number_of_posts_in_flight() -> None:
    trace, log = tracer()
    peak_after: list[int] = []

    async def start_counting(*_: Any) -> None:
        if any(status == 429 for _, status in log.ends):
            peak_after.append(log.open)

    trace.on_request_start.append(start_counting)
    faults = FaultPlan(latency=0.01)
    async with FakeGrooveServer(tokens=["t"], faults=faults) as server:
        server.script(ScriptedResponse(429, headers={"Retry-After": "0.01"}))
        async with (
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            GrooveClient("t", base_url=server.url, max_concurrency=8, session=session) as groove,
        ):
            assert (await groove.add_tracks([catalog_id(i) for i in range(1_500)])).ok
    # Right after the throttle the limit is 4; it regains one slot per round of successes.
    assert peak_after[:5] and max(peak_after[:5]) <= 5


async def test_retry_budget_stops_a_retry_storm() -> None:
    policy = RetryPolicy(attempts=5, wait=False, budget_ratio=0.2, budget_burst=5)
    async with FakeGrooveServer(tokens=["t"], faults=FaultPlan(p_503=1.0)) as server:
        async with GrooveClient("t", base_url=server.url, retry=policy) as groove:
            result = await groove.add_tracks([catalog_id(i) for i in range(5_000)])
        batches, sent = 50, len(posts(server))
    assert {r.outcome for r in result} == {Outcome.FAILED}
    retries = sent - batches
    assert retries <= 5 + 0.2 * batches  # not 4 retries x 50 batches = 200
    assert any("retry budget" in (r.error.message or "") for r in result if r.error)


# -- progress --------------------------------------------------------------------------------


async def test_progress_events_account_for_every_item() -> None:
    events: list[ProgressEvent] = []
    ids = [catalog_id(i) for i in range(450)] + ["music.unknown-1", "music.unknown-2"]
    async with FakeGrooveServer(tokens=["t"]) as server:
        server.script(ScriptedResponse(503, headers={"Retry-After": "0"}))
        async with GrooveClient(
            "t", base_url=server.url, on_event=events.append, retry=RetryPolicy(wait=False)
        ) as groove:
            await groove.add_tracks(ids)
    started = [e for e in events if isinstance(e, BatchStarted)]
    finished = [e for e in events if isinstance(e, BatchFinished)]
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(started) == len(finished) == 5
    assert sum(e.size for e in started) == len(ids)
    assert sum(e.succeeded for e in finished) == 450
    assert sum(e.rejected for e in finished) == 2
    assert len(retries) == 1 and retries[0].reason.startswith("HTTP 503")
    assert sum(e.attempts for e in finished) == 6


async def test_a_broken_progress_callback_does_not_break_the_import() -> None:
    def explode(event: ProgressEvent) -> None:
        raise RuntimeError("progress bar crashed")

    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url, on_event=explode) as groove,
    ):
        assert (await groove.add_tracks([catalog_id(i) for i in range(150)])).ok


# -- stop, deadline, cancellation ------------------------------------------------------------


async def test_stopping_a_50000_id_import_midway() -> None:
    trace, log = tracer()
    ids = [catalog_id(i) for i in range(50_000)]
    stop = asyncio.Event()
    async with FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=0.01)) as server:
        async with (
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            GrooveClient("t", base_url=server.url, max_concurrency=8, session=session) as groove,
        ):
            task = asyncio.create_task(groove.add_tracks(ids, stop=stop))
            while len(server.requests) < 40:
                await asyncio.sleep(0.005)
            stop.set()
            result = await task
            assert client_leftovers() == []
            assert log.open == 0  # every response read and released
        collection = server.collection("t")
    assert [r.input_id for r in result] == ids
    outcomes = {r.outcome for r in result}
    assert outcomes == {Outcome.SUCCEEDED, Outcome.NOT_SENT}
    assert {r.input_id for r in result if r.ok} == set(collection)
    assert len(collection) >= 4_000
    assert len(result.not_sent) >= 40_000


async def test_cancelling_a_50000_id_import_leaves_nothing_behind() -> None:
    ids = [catalog_id(i) for i in range(50_000)]
    async with (
        FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=0.05)) as server,
        aiohttp.ClientSession() as session,
    ):
        async with GrooveClient("t", base_url=server.url, session=session) as groove:
            task = asyncio.create_task(groove.add_tracks(ids))
            while len(server.requests) < 16:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client_leftovers() == []
            # Abandoned connections are closed, not left checked out of the pool.
            assert not session.connector._acquired  # type: ignore[union-attr]
        assert not session.closed


async def test_deadline_abandons_in_flight_posts_and_returns() -> None:
    ids = [catalog_id(i) for i in range(1_000)]
    async with (
        FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=5.0)) as server,
        GrooveClient("t", base_url=server.url, max_concurrency=4) as groove,
    ):
        started = time.monotonic()
        result = await groove.add_tracks(ids, deadline=0.3)
        elapsed = time.monotonic() - started
        assert client_leftovers() == []
    assert elapsed < 3.0
    assert [r.input_id for r in result] == ids
    failed = [r for r in result if r.outcome is Outcome.FAILED]
    assert len(failed) == 400  # the four POSTs in flight: the service may have applied them
    assert {r.error.code for r in failed if r.error} == {"DEADLINE_EXCEEDED"}
    assert len(result.not_sent) == 600


async def test_stream_stop_yields_every_read_input() -> None:
    stop = asyncio.Event()
    async with (
        FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=0.01)) as server,
        GrooveClient("t", base_url=server.url, max_concurrency=2) as groove,
    ):

        async def endless() -> Any:
            n = 0
            while True:
                n += 1
                yield catalog_id(n)

        got = []
        async for result in groove.stream_add_tracks(endless(), stop=stop):
            got.append(result)
            if len(got) == 500:
                stop.set()
    assert [r.input_id for r in got] == [catalog_id(n) for n in range(1, len(got) + 1)]
    assert len(got) >= 500
    assert {r.outcome for r in got} <= {Outcome.SUCCEEDED, Outcome.NOT_SENT}


async def test_closing_the_client_stops_a_running_import() -> None:
    on_wire = asyncio.Event()
    trace = aiohttp.TraceConfig()

    async def started(*_: Any) -> None:
        on_wire.set()

    trace.on_request_start.append(started)
    # The service takes a minute to answer: whatever is in flight when we close is abandoned.
    async with (
        FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=60)) as server,
        aiohttp.ClientSession(trace_configs=[trace]) as session,
    ):
        groove = GrooveClient("t", base_url=server.url, session=session)
        task = asyncio.create_task(groove.add_tracks([catalog_id(i) for i in range(5_000)]))
        await on_wire.wait()
        await groove.aclose()
        result = await task
        assert client_leftovers() == []
    assert [r.input_id for r in result] == [catalog_id(i) for i in range(5_000)]
    in_flight = result.failed
    assert 1 <= len(in_flight) <= 800
    assert {r.error.code for r in in_flight if r.error} == {"CLIENT_CLOSED"}
    assert len(result.not_sent) == 5_000 - len(in_flight)


async def test_a_deadline_still_cuts_a_graceful_stop_short() -> None:
    """Regression: a hard stop after a graceful one must cancel the POSTs still in flight."""
    ids = [catalog_id(i) for i in range(200)]
    stop = asyncio.Event()
    async with (
        FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=3.0)) as server,
        GrooveClient("t", base_url=server.url, max_concurrency=2) as groove,
    ):
        asyncio.get_running_loop().call_later(0.2, stop.set)
        started = time.monotonic()
        result = await groove.add_tracks(ids, stop=stop, deadline=0.6)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0  # not the 3 s the service takes to answer
    assert {r.error.code for r in result.failed if r.error} == {"DEADLINE_EXCEEDED"}
    assert len(result.failed) == 200


class _RecordingGate(ThrottleGate):
    """A caller's own gate (the seam a fleet plugs a shared pause into): records the pauses."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float] = []
        self.waits = 0

    def pause(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        return super().pause(seconds)

    async def wait(self, *args: Any, **kwargs: Any) -> None:
        self.waits += 1
        await super().wait(*args, **kwargs)


async def test_a_gate_passed_in_is_waited_on_and_closed_by_a_throttle() -> None:
    gate = _RecordingGate()
    async with FakeGrooveServer(tokens=["t"]) as server:
        server.script(ScriptedResponse(429, headers={"Retry-After": "0.05"}))
        async with GrooveClient("t", base_url=server.url, gate=gate, max_concurrency=1) as groove:
            result = await groove.add_tracks([catalog_id(i) for i in range(250)])
    assert result.ok
    assert gate.waits >= 4  # every attempt: three batches and the retried one
    assert len(gate.pauses) == 1 and gate.pauses[0] >= 0.05


def test_a_gate_without_the_protocol_is_refused_before_anything() -> None:
    with pytest.raises(TypeError, match="Gate protocol"):
        GrooveClient("t", base_url="http://127.0.0.1:1", gate=object())  # type: ignore[arg-type]
