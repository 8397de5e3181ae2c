"""The client against the emulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from groove_async import (
    AuthenticationError,
    BulkResult,
    ErrorInfo,
    GrooveClient,
    Outcome,
    RetryPolicy,
    TrackResult,
)
from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse
from tests.conftest import catalog_id, doc_json, posts

NO_WAIT = RetryPolicy().without_waiting()


def in_flight_tracer() -> tuple[aiohttp.TraceConfig, SimpleNamespace]:
    """Counts POSTs in flight on the client side: (trace config, counters)."""
    counters = SimpleNamespace(now=0, peak=0, total=0)
    trace = aiohttp.TraceConfig()

    async def start(*_: Any) -> None:
        counters.now += 1
        counters.total += 1
        counters.peak = max(counters.peak, counters.now)

    async def end(*_: Any) -> None:
        counters.now -= 1

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(end)
    return trace, counters


# -- the documentation's own example ---------------------------------------------------------


@pytest.mark.parametrize("hyphen_codes", [False, True])
async def test_documented_partial_failure(hyphen_codes: bool) -> None:
    request = doc_json("add-partial.request.json")
    expected = doc_json("add-partial.response.json")
    async with (
        FakeGrooveServer(tokens=["t"], hyphen_codes=hyphen_codes) as server,
        GrooveClient("t", base_url=server.url) as groove,
    ):
        result = await groove.add_tracks(request["TrackIds"])
    bad, good = result
    documented_error = expected["TrackActionResults"][0]["Error"]
    assert bad == TrackResult(
        request["TrackIds"][0],
        None,
        ErrorInfo(
            "COLLECTION_INVALID_ID",  # underscores, whatever the server spelled
            documented_error["Description"],
            documented_error["Message"],
        ),
        Outcome.REJECTED,
    )
    assert good.outcome is Outcome.SUCCEEDED
    assert good.input_id == request["TrackIds"][1]
    assert good.id is not None and good.id.startswith("music.") and len(good.id) == 40
    assert server.collection("t") == {request["TrackIds"][1]: good.id}


# -- batching --------------------------------------------------------------------------------


async def test_splits_into_batches_of_100(server: FakeGrooveServer) -> None:
    ids = [catalog_id(i) for i in range(250)]
    async with GrooveClient("t1", base_url=server.url, max_concurrency=2) as groove:
        result = await groove.add_tracks(ids)
    assert result.ok and [r.input_id for r in result] == ids
    assert sorted(r.id_count for r in posts(server)) == [50, 100, 100]
    assert set(server.collection("t1")) == set(ids)
    assert server.collection("t2") == {}


@pytest.mark.parametrize("size", [1, 7, 100])
async def test_batch_size_is_honoured(server: FakeGrooveServer, size: int) -> None:
    ids = [catalog_id(i) for i in range(230)]
    async with GrooveClient("t1", base_url=server.url, batch_size=size) as groove:
        assert (await groove.add_tracks(ids)).ok
    assert max(r.id_count for r in posts(server)) == size
    assert len(posts(server)) == -(-230 // size)


async def test_repeats_are_sent_once_and_answered_everywhere(server: FakeGrooveServer) -> None:
    lower = "music.a83eb907-0100-11db-89ca-0019b92a3933"
    upper = "music.A83EB907-0100-11DB-89CA-0019B92A3933"
    ids = [lower, catalog_id(1), upper, lower] + [catalog_id(i) for i in range(2, 300)] + [upper]
    async with GrooveClient("t1", base_url=server.url) as groove:
        result = await groove.add_tracks(ids)
    assert [r.input_id for r in result] == ids  # the caller's own spelling, in order
    assert len({result[0].id, result[2].id, result[3].id, result[-1].id}) == 1
    sent = [i for r in posts(server) for i in r.ids]
    assert len(sent) == len(set(sent)) == 300


async def test_empty_input_sends_nothing(server: FakeGrooveServer) -> None:
    async with GrooveClient("t1", base_url=server.url) as groove:
        assert len(await groove.add_tracks([])) == 0
        assert [r async for r in groove.stream_add_tracks([])] == []
    assert server.requests == []


async def test_generators_and_async_iterators_are_accepted(server: FakeGrooveServer) -> None:
    async def agen() -> AsyncIterator[str]:
        for i in range(150):
            yield catalog_id(i)

    async with GrooveClient("t1", base_url=server.url) as groove:
        a = await groove.add_tracks(catalog_id(i) for i in range(150))
        b = await groove.add_tracks(agen())
    assert [r.input_id for r in a] == [r.input_id for r in b]
    assert [r.id for r in a] == [r.id for r in b]  # re-adding returns the same collection ID


async def test_order_and_completeness_under_concurrency() -> None:
    """10,000 IDs, random per-batch delays: in order, each answered once, never over the bound."""
    rng = random.Random(5)
    ids = [catalog_id(rng.randrange(2**32)) for _ in range(10_000)]
    ids += [f"music.{rng.getrandbits(128):032x}"[:42] for _ in range(100)]  # not in the catalog
    rng.shuffle(ids)
    trace, counters = in_flight_tracer()
    faults = FaultPlan(latency=0.001, latency_jitter=0.02, seed=5)
    async with FakeGrooveServer(tokens=["t"], faults=faults) as server:
        async with (
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            GrooveClient("t", base_url=server.url, max_concurrency=6, session=session) as groove,
        ):
            result = await groove.add_tracks(ids)
        collection = server.collection("t")
    assert [r.input_id for r in result] == ids
    assert counters.peak == 6  # the bound was reached, and never exceeded
    assert counters.total == -(-len(set(ids)) // 100)
    for r in result:
        if r.outcome is Outcome.SUCCEEDED:
            assert collection[r.input_id.upper().replace("MUSIC.", "music.")] == r.id
        else:
            assert r.outcome is Outcome.REJECTED
            assert r.error is not None and r.error.code == "COLLECTION_INVALID_ID"
    assert len(result.rejected) == 100


# -- delete ----------------------------------------------------------------------------------


async def test_delete_round_trip(server: FakeGrooveServer) -> None:
    async with GrooveClient("t1", base_url=server.url) as groove:
        added = await groove.add_tracks([catalog_id(i) for i in range(120)])
        collection_ids = [r.id for r in added if r.id]
        bogus = "music.AQQfAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ"
        deleted = await groove.delete_tracks([*collection_ids[:110], bogus])
    assert [r.outcome for r in deleted[:110]] == [Outcome.SUCCEEDED] * 110
    assert deleted[-1].outcome is Outcome.REJECTED
    assert deleted[-1].error is not None and deleted[-1].error.code == "COLLECTION_INVALID_ID"
    assert len(server.collection("t1")) == 10
    assert {r.path for r in posts(server)} == {
        "/1/content/music/collection/add",
        "/1/content/music/collection/delete",
    }


# -- retries ---------------------------------------------------------------------------------


async def test_retry_after_is_waited_for(server: FakeGrooveServer) -> None:
    server.script(ScriptedResponse(429, headers={"Retry-After": "0.3"}))
    async with GrooveClient("t1", base_url=server.url) as groove:
        result = await groove.add_tracks([catalog_id(1)])
    assert result.ok
    first, second = posts(server)
    assert first.status == 429 and second.status == 200
    assert second.time - first.time >= 0.3


async def test_retry_after_beyond_the_cap_fails_the_batch_at_once(server: FakeGrooveServer) -> None:
    server.script(ScriptedResponse(429, headers={"Retry-After": "3600"}))
    policy = RetryPolicy(max_retry_after=10)
    async with GrooveClient("t1", base_url=server.url, retry=policy) as groove:
        result = await groove.add_tracks([catalog_id(1), catalog_id(2)])
    assert [r.outcome for r in result] == [Outcome.FAILED, Outcome.FAILED]
    error = result[0].error
    assert error is not None and error.code == "HTTP_429"
    assert error.message is not None and "3600" in error.message
    assert len(posts(server)) == 1
    assert result.retry_ids() == [catalog_id(1), catalog_id(2)]


@pytest.mark.parametrize(
    "fault",
    [
        ScriptedResponse(503),
        ScriptedResponse(
            500, body={"Error": {"ErrorCode": "INTERNAL_SERVER_ERROR", "Description": "x"}}
        ),
        ScriptedResponse(
            502, body="<html>Bad gateway</html>", headers={"Content-Type": "text/html"}
        ),
        ScriptedResponse(504),
        ScriptedResponse(409),
        ScriptedResponse(drop=True),
        ScriptedResponse(drop=True, apply=True),
        ScriptedResponse(200, body=b'{"TrackActionResults": [{"InputId": "mu', apply=True),
        ScriptedResponse(200, body=b"", apply=True),
        ScriptedResponse(200, body={"TrackActionResults": []}, apply=True),
        ScriptedResponse(200, body={"Error": {"ErrorCode": "X", "Description": "only"}}),
    ],
)
async def test_transient_failures_are_retried(
    server: FakeGrooveServer, fault: ScriptedResponse
) -> None:
    server.script(fault, fault)
    ids = [catalog_id(i) for i in range(3)]
    async with GrooveClient("t1", base_url=server.url, retry=NO_WAIT) as groove:
        result = await groove.add_tracks(ids)
    assert result.ok
    assert [r.id for r in result] == [server.collection("t1")[i] for i in ids]
    assert len(posts(server)) == 3


async def test_mismatched_results_are_never_trusted(server: FakeGrooveServer) -> None:
    ids = [catalog_id(1), catalog_id(2)]
    swapped = {
        "TrackActionResults": [
            {"InputId": ids[1], "Id": "music.B"},
            {"InputId": ids[0], "Id": "music.A"},
        ]
    }
    server.script(*[ScriptedResponse(200, body=swapped)] * 5)
    async with GrooveClient("t1", base_url=server.url, retry=NO_WAIT) as groove:
        result = await groove.add_tracks(ids)
    assert [r.outcome for r in result] == [Outcome.FAILED] * 2
    assert all(r.id is None for r in result)
    assert result[0].error is not None and result[0].error.code == "RESULT_MISMATCH"


async def test_permanent_errors_reject_the_batch(server: FakeGrooveServer) -> None:
    server.script(
        ScriptedResponse(
            403,
            body={"Error": {"ErrorCode": "NO_MUSIC_PASS_SUBSCRIPTION", "Description": "no pass"}},
        )
    )
    async with GrooveClient("t1", base_url=server.url, retry=NO_WAIT) as groove:
        result = await groove.add_tracks([catalog_id(1)])
    assert result[0].outcome is Outcome.REJECTED
    assert result[0].error == ErrorInfo("NO_MUSIC_PASS_SUBSCRIPTION", "no pass", None)
    assert len(posts(server)) == 1


async def test_collection_full_is_a_per_item_rejection() -> None:
    async with (
        FakeGrooveServer(tokens=["t"], capacity=150) as server,
        GrooveClient("t", base_url=server.url) as groove,
    ):
        result = await groove.add_tracks([catalog_id(i) for i in range(200)])
    assert len(result.succeeded) == 150
    assert {r.error.code for r in result.rejected if r.error} == {"COLLECTION_FULL"}


# -- authentication --------------------------------------------------------------------------


async def test_401_with_a_static_token_raises_with_partial(server: FakeGrooveServer) -> None:
    async with GrooveClient("wrong-token", base_url=server.url) as groove:
        with pytest.raises(AuthenticationError) as info:
            await groove.add_tracks([catalog_id(i) for i in range(250)])
    exc = info.value
    assert exc.status == 401 and exc.code == "INVALID_AUTHORIZATION_HEADER"
    assert exc.partial is not None and len(exc.partial) == 250
    assert {r.outcome for r in exc.partial} == {Outcome.NOT_SENT}
    assert "wrong-token" not in str(exc)


async def test_expired_token_is_refreshed_once_for_all_batches() -> None:
    calls = 0
    async with FakeGrooveServer(tokens=["old"]) as server:

        async def provider() -> str:
            nonlocal calls
            calls += 1
            return "old" if calls == 1 else "new"

        async with GrooveClient(provider, base_url=server.url, max_concurrency=8) as groove:
            assert (await groove.add_tracks([catalog_id(0)])).ok
            server.add_token("new", same_user_as="old")
            server.expire_token("old")
            result = await groove.add_tracks([catalog_id(i) for i in range(1, 801)])
        assert result.ok
        assert calls == 2  # the first token, then one shared refresh
        assert len(server.collection("new")) == 801
        statuses = [r.status for r in posts(server)]
        assert statuses.count(401) == 8  # the eight batches in flight with the old token


async def test_second_401_raises_and_keeps_finished_batches() -> None:
    async with FakeGrooveServer(tokens=["a"]) as server:

        async def provider() -> str:
            return "a"

        async with GrooveClient(provider, base_url=server.url, max_concurrency=1) as groove:
            # Two batches pass, then every request is refused.
            ids = [catalog_id(i) for i in range(450)]
            first = await groove.add_tracks(ids[:200])
            server.expire_token("a")
            with pytest.raises(AuthenticationError) as info:
                await groove.add_tracks(ids)
    assert first.ok
    partial = info.value.partial
    assert partial is not None and len(partial) == 450
    assert info.value.code == "AUTHORIZATION_TOKEN_EXPIRED"
    assert {r.outcome for r in partial} == {Outcome.NOT_SENT}
    assert "refreshed token as well" in str(info.value)


async def test_auth_failure_mid_import_keeps_what_finished(server: FakeGrooveServer) -> None:
    trace = aiohttp.TraceConfig()
    finished = 0

    async def expire_after_two(*_: Any) -> None:
        nonlocal finished
        finished += 1
        if finished == 2:
            server.expire_token("t1")

    trace.on_request_end.append(expire_after_two)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        GrooveClient("t1", base_url=server.url, max_concurrency=1, session=session) as groove,
    ):
        with pytest.raises(AuthenticationError) as info:
            await groove.add_tracks([catalog_id(i) for i in range(500)])
    partial = info.value.partial
    assert partial is not None and len(partial) == 500
    outcomes = [r.outcome for r in partial]
    assert outcomes == [Outcome.SUCCEEDED] * 200 + [Outcome.NOT_SENT] * 300
    assert {r.input_id for r in partial if r.ok} == set(server.collection("t1"))
    assert [r.status for r in posts(server)] == [200, 200, 401]


# -- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "exc"),
    [
        ([catalog_id(1), 5], TypeError),
        ([catalog_id(1), ""], ValueError),
        ([catalog_id(1), "A83EB907-0100-11DB-89CA-0019B92A3933"], ValueError),
        ([catalog_id(1), "music.x\r\nHost: evil"], ValueError),
        (catalog_id(1), TypeError),
        (42, TypeError),
    ],
)
async def test_bad_ids_raise_before_any_request(
    server: FakeGrooveServer, ids: Any, exc: type[Exception]
) -> None:
    async with GrooveClient("t1", base_url=server.url) as groove:
        with pytest.raises(exc):
            await groove.add_tracks(ids)
    assert server.requests == []


async def test_a_single_bad_id_is_named_without_a_position(server: FakeGrooveServer) -> None:
    # A single call has no position; a bulk call's message says where the bad ID is.
    async with GrooveClient("t1", base_url=server.url) as groove:
        with pytest.raises(ValueError, match=r"^track ID must look like") as single:
            await groove.add_track("nope")
        with pytest.raises(TypeError, match=r"^track ID must be a str"):
            await groove.delete_track(5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^track ID at position 1 must look like"):
            await groove.add_tracks([catalog_id(1), "nope"])
    assert "position" not in str(single.value)
    assert server.requests == []


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"max_concurrency": 0}, ValueError),
        ({"max_concurrency": -1}, ValueError),
        ({"max_concurrency": 2.5}, TypeError),
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 101}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"retry": "fast"}, TypeError),
        ({"namespace": "../x"}, ValueError),
        ({"base_url": "ftp://x"}, ValueError),
        ({"base_url": "http://example.com"}, ValueError),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        GrooveClient("t", **kwargs)


def test_repr_hides_the_token() -> None:
    client = GrooveClient("very-secret-token", base_url="http://127.0.0.1:1")
    assert "very-secret-token" not in repr(client)
    assert "127.0.0.1" in repr(client)


# -- streaming -------------------------------------------------------------------------------


async def test_stream_matches_bulk(server: FakeGrooveServer) -> None:
    ids = [catalog_id(i % 700) for i in range(1_000)]
    async with GrooveClient("t1", base_url=server.url) as groove:
        streamed = [r async for r in groove.stream_add_tracks(ids)]
        bulk = await groove.add_tracks(ids)
    assert streamed == list(bulk)


async def test_stream_of_an_endless_iterator_reads_lazily(server: FakeGrooveServer) -> None:
    produced = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal produced
        while True:
            produced += 1
            yield catalog_id(produced)

    async with GrooveClient("t1", base_url=server.url, max_concurrency=4) as groove:
        taken: list[TrackResult] = []
        stream = groove.stream_add_tracks(endless())
        async for result in stream:
            taken.append(result)
            if len(taken) == 2_000:
                break
        await stream.aclose()  # type: ignore[attr-defined]
    assert [r.input_id for r in taken] == [catalog_id(i) for i in range(1, 2_001)]
    assert all(r.ok for r in taken)
    # Read-ahead is bounded: about 2 x max_concurrency batches beyond what was consumed.
    assert produced <= 2_000 + (2 * 4 + 2) * 100


async def test_stream_bad_id_raises_after_answering_the_ones_before(
    server: FakeGrooveServer,
) -> None:
    ids = [catalog_id(i) for i in range(250)] + ["not-an-id"] + [catalog_id(999)]
    got: list[TrackResult] = []

    async def consume(groove: GrooveClient) -> None:
        async for result in groove.stream_add_tracks(ids):
            got.append(result)

    async with GrooveClient("t1", base_url=server.url) as groove:
        with pytest.raises(ValueError, match="position 250"):
            await consume(groove)
    assert [r.input_id for r in got] == ids[:250]
    assert all(r.ok for r in got)


async def test_stream_auth_failure_partial_holds_the_unyielded(server: FakeGrooveServer) -> None:
    async with GrooveClient("nope", base_url=server.url) as groove:
        with pytest.raises(AuthenticationError) as info:
            async for _ in groove.stream_add_tracks([catalog_id(i) for i in range(50)]):
                pass
    assert info.value.partial is not None and len(info.value.partial) == 50


# -- lifecycle -------------------------------------------------------------------------------


async def test_cancelling_a_bulk_call_leaves_nothing_running(server: FakeGrooveServer) -> None:
    server.faults = FaultPlan(latency=0.05)
    async with GrooveClient("t1", base_url=server.url, max_concurrency=4) as groove:
        task = asyncio.create_task(groove.add_tracks([catalog_id(i) for i in range(5_000)]))
        while len(server.requests) < 4:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert groove._tasks == set()
    # Only the emulator's own side may still be running (its latency sleeps): aiohttp's request
    # handlers, or the in-memory transport's server side, which finishes what it received.
    emulator_side = ("RequestHandler.", "_answer_later")
    leftovers = [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.get_coro().__qualname__.startswith(emulator_side)  # type: ignore[union-attr]
    ]
    assert leftovers == []


async def test_closed_client_refuses_work(server: FakeGrooveServer) -> None:
    groove = GrooveClient("t1", base_url=server.url)
    await groove.aclose()
    await groove.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await groove.add_tracks([catalog_id(1)])


async def test_bulk_result_survives_pickle_round_trip(server: FakeGrooveServer) -> None:
    import pickle

    async with GrooveClient("t1", base_url=server.url) as groove:
        result = await groove.add_tracks([catalog_id(1), "music.nope"])
    assert pickle.loads(pickle.dumps(result)) == result
    assert isinstance(result, BulkResult)
