"""Hostile responses: whatever comes back, every input ends with a result, never a crash."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groove_async import AuthenticationError, GrooveClient, Outcome, RetryPolicy
from groove_async.testing import FakeGrooveServer, ScriptedResponse
from tests.conftest import catalog_id

IDS = [catalog_id(1), catalog_id(2)]
TWO_TRIES = RetryPolicy(attempts=2, wait=False)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeGrooveServer]:
    async with FakeGrooveServer(tokens=["t"]) as running:
        yield running


async def run_against(server: FakeGrooveServer, *responses: ScriptedResponse) -> Any:
    server.clear_requests()
    server.script(*responses)
    async with GrooveClient("t", base_url=server.url, retry=TWO_TRIES, timeout=5) as groove:
        return await groove.add_tracks(IDS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
wrong_shapes = st.one_of(
    json_values,
    st.fixed_dictionaries({"TrackActionResults": json_values}),
    st.fixed_dictionaries(
        {
            "TrackActionResults": st.lists(
                json_values | st.fixed_dictionaries({"InputId": json_values, "Id": json_values}),
                min_size=0,
                max_size=3,
            )
        }
    ),
    st.fixed_dictionaries({"Error": json_values}),
)


@SETTINGS
@given(body=st.binary(max_size=300))
async def test_random_bytes_in_a_200(server: FakeGrooveServer, body: bytes) -> None:
    result = await run_against(server, *[ScriptedResponse(200, body=body)] * 2)
    assert [r.input_id for r in result] == IDS
    for r in result:
        assert r.outcome is Outcome.FAILED
        assert r.error is not None and r.error.code in {"UNREADABLE_RESPONSE", "RESULT_MISMATCH"}


@SETTINGS
@given(payload=wrong_shapes)
async def test_json_of_the_wrong_shape(server: FakeGrooveServer, payload: Any) -> None:
    body = json.dumps(payload).encode()
    result = await run_against(server, *[ScriptedResponse(200, body=body)] * 2)
    assert [r.input_id for r in result] == IDS
    assert {r.outcome for r in result} == {Outcome.FAILED}


@SETTINGS
@given(
    status=st.integers(200, 599).filter(lambda s: s != 401),
    body=st.binary(max_size=100) | st.just(b"<html><body>Bad Gateway</body></html>"),
)
async def test_any_status_any_body(server: FakeGrooveServer, status: int, body: bytes) -> None:
    result = await run_against(server, *[ScriptedResponse(status, body=body)] * 2)
    assert [r.input_id for r in result] == IDS
    assert {r.outcome for r in result} <= {Outcome.FAILED, Outcome.REJECTED}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><head><title>502 Bad Gateway</title></head></html>",
        json.dumps({"Error": {"ErrorCode": "X", "Description": "only an error"}}).encode(),
        json.dumps({"TrackActionResults": [{"InputId": "x" * 5_000_000}] * 1}).encode(),
        b"[" * 200_000 + b"]" * 200_000,
        json.dumps({"TrackActionResults": [{"InputId": IDS[0], "Id": "music.A"}]}).encode(),
        json.dumps({"TrackActionResults": "nope"}).encode(),
        json.dumps({"TrackActionResults": [1, 2]}).encode(),
        json.dumps({"TrackActionResults": [{"InputId": None}, {"InputId": 7}]}).encode(),
    ],
)
async def test_named_hostile_bodies(server: FakeGrooveServer, body: bytes) -> None:
    result = await run_against(server, *[ScriptedResponse(200, body=body)] * 2)
    assert {r.outcome for r in result} == {Outcome.FAILED}


@pytest.mark.parametrize(
    ("retry_after", "expected_posts"),
    [
        ("-5", 2),  # in the past: retry now
        ("nan", 2),  # unreadable: plain backoff
        ("soon", 2),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 2),
        ("99999999999999", 1),  # beyond max_retry_after: fail at once, no hang
        ("inf", 1),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 1),
    ],
)
async def test_odd_retry_after_values(
    server: FakeGrooveServer, retry_after: str, expected_posts: int
) -> None:
    started = time.monotonic()
    result = await run_against(
        server, *[ScriptedResponse(429, headers={"Retry-After": retry_after})] * 2
    )
    assert time.monotonic() - started < 5
    assert {r.outcome for r in result} == {Outcome.FAILED}
    assert len(server.requests) == expected_posts


async def test_gzip_bomb_is_cut_off_with_bounded_memory(server: FakeGrooveServer) -> None:
    bomb = gzip.compress(b'{"TrackActionResults": [' + b" " * (60 * 1024 * 1024) + b"]}")
    assert len(bomb) < 100_000
    response = ScriptedResponse(
        200, body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = await run_against(server, response, response)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 10
    assert peak < 40 * 1024 * 1024  # the cap is 8 MiB: never the 60 MiB the bomb expands to
    assert {r.error.code for r in result if r.error} == {"RESPONSE_TOO_LARGE"}


async def test_a_body_that_never_ends_times_out() -> None:
    async def slow_loris(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"TrackActionResults": [')
        while True:  # one byte now and then, forever
            await asyncio.sleep(0.05)
            await response.write(b" ")

    app = web.Application()
    app.router.add_post("/1/content/music/collection/add", slow_loris)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        started = time.monotonic()
        async with GrooveClient(
            "t", base_url=f"http://127.0.0.1:{port}", retry=TWO_TRIES, timeout=0.5
        ) as groove:
            result = await groove.add_tracks(IDS)
        elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    assert elapsed < 3
    assert {r.error.code for r in result if r.error} == {"TIMEOUT"}


async def test_only_whole_operation_failures_raise(server: FakeGrooveServer) -> None:
    unauthorized = ScriptedResponse(401, body=b"<html>login</html>")
    with pytest.raises(AuthenticationError):
        await run_against(server, unauthorized)
