"""Session-layer tests: the client against aioresponses (no network at all)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from groove_async import AuthenticationError, GrooveClient, Outcome, RetryPolicy
from tests.conftest import catalog_id

BASE = "https://groove.test"
ADD = re.compile(r"^https://groove\.test/1/content/music/collection/add$")
NO_WAIT = RetryPolicy().without_waiting()


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def ok_body(ids: list[str]) -> dict[str, Any]:
    return {"TrackActionResults": [{"InputId": i, "Id": "music.C" + i[6:14]} for i in ids]}


def echo(url: Any, **kwargs: Any) -> CallbackResult:
    ids = json.loads(kwargs["data"])["TrackIds"]
    return CallbackResult(status=200, payload=ok_body(ids))


async def test_request_shape(mocked: aioresponses) -> None:
    seen: list[dict[str, Any]] = []

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return echo(url, **kwargs)

    mocked.post(ADD, callback=capture)
    async with GrooveClient("tok-123", base_url=BASE) as groove:
        result = await groove.add_tracks([catalog_id(1)])
    assert result.ok
    headers = seen[0]["headers"]
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert json.loads(seen[0]["data"]) == {"TrackIds": [catalog_id(1)]}


async def test_429_with_retry_after_then_success(mocked: aioresponses) -> None:
    mocked.post(
        ADD,
        status=429,
        headers={"Retry-After": "1.5"},
        payload={"Error": {"ErrorCode": "TOO_MANY_REQUESTS", "Description": "slow"}},
    )
    mocked.post(ADD, callback=echo)
    async with GrooveClient("t", base_url=BASE, retry=NO_WAIT) as groove:
        result = await groove.add_tracks([catalog_id(1), catalog_id(2)])
    assert result.ok


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        (
            {
                "status": 502,
                "body": "<html><h1>502 Bad Gateway</h1></html>",
                "content_type": "text/html",
            },
            "HTTP_502",
        ),
        (
            {
                "status": 500,
                "payload": {"Error": {"ErrorCode": "INTERNAL_SERVER_ERROR", "Description": "boom"}},
            },
            "INTERNAL_SERVER_ERROR",
        ),
        ({"status": 200, "body": '{"TrackActionResults": ['}, "UNREADABLE_RESPONSE"),
        (
            {"status": 200, "body": "<html>login</html>", "content_type": "text/html"},
            "UNREADABLE_RESPONSE",
        ),
        ({"exception": aiohttp.ClientConnectionError("reset")}, "CONNECTION_ERROR"),
        ({"exception": aiohttp.ServerDisconnectedError()}, "CONNECTION_ERROR"),
        ({"exception": TimeoutError()}, "TIMEOUT"),
    ],
)
async def test_transient_failures_end_failed_after_retries(
    mocked: aioresponses, kwargs: dict[str, Any], code: str
) -> None:
    mocked.post(ADD, repeat=True, **kwargs)
    async with GrooveClient("t", base_url=BASE, retry=RetryPolicy(attempts=3, wait=False)) as g:
        result = await g.add_tracks([catalog_id(1), catalog_id(2)])
    assert [r.outcome for r in result] == [Outcome.FAILED, Outcome.FAILED]
    error = result[0].error
    assert error is not None and error.code == code
    assert error.message and "after 3 attempts" in error.message
    assert sum(len(calls) for calls in mocked.requests.values()) == 3


async def test_permanent_400_rejects_the_batch(mocked: aioresponses) -> None:
    mocked.post(
        ADD, status=400, payload={"Error": {"ErrorCode": "COLLECTION_FULL", "Description": "full"}}
    )
    async with GrooveClient("t", base_url=BASE, retry=NO_WAIT) as groove:
        result = await groove.add_tracks([catalog_id(1)])
    assert result[0].outcome is Outcome.REJECTED
    assert result[0].error is not None and result[0].error.code == "COLLECTION_FULL"
    assert sum(len(calls) for calls in mocked.requests.values()) == 1


async def test_oversized_body_is_cut_off(mocked: aioresponses) -> None:
    mocked.post(ADD, repeat=True, body=b"x" * (9 * 1024 * 1024))
    async with GrooveClient("t", base_url=BASE, retry=RetryPolicy(attempts=1)) as groove:
        result = await groove.add_tracks([catalog_id(1)])
    assert result[0].error is not None and result[0].error.code == "RESPONSE_TOO_LARGE"


async def test_static_token_401_raises_without_the_token(mocked: aioresponses) -> None:
    mocked.post(
        ADD,
        status=401,
        repeat=True,
        payload={"Error": {"ErrorCode": "INVALID_AUTHORIZATION_HEADER", "Description": "bad"}},
    )
    async with GrooveClient("sekrit-token-value", base_url=BASE) as groove:
        with pytest.raises(AuthenticationError) as info:
            await groove.add_tracks([catalog_id(1), catalog_id(2)])
    assert "sekrit-token-value" not in str(info.value)
    assert "sekrit-token-value" not in repr(info.value)
    assert info.value.code == "INVALID_AUTHORIZATION_HEADER"
    partial = info.value.partial
    assert partial is not None
    assert [r.outcome for r in partial] == [Outcome.NOT_SENT] * 2


async def test_callers_session_is_used_and_left_open(mocked: aioresponses) -> None:
    mocked.post(ADD, callback=echo)
    async with aiohttp.ClientSession() as session:
        async with GrooveClient("t", base_url=BASE, session=session) as groove:
            assert (await groove.add_tracks([catalog_id(1)])).ok
        assert not session.closed


async def test_a_reflected_token_is_cut_from_a_transport_error_before_it_is_shortened(
    mocked: aioresponses,
) -> None:
    # The token straddles the 200-character cut of the message: no part of it may survive.
    secret = "tok-SECRET-" + "9" * 40
    mocked.post(ADD, exception=aiohttp.ClientPayloadError("x" * 185 + secret + "y" * 50))
    async with GrooveClient(
        secret, base_url=BASE, retry=RetryPolicy(attempts=1, wait=False)
    ) as groove:
        result = await groove.add_tracks([catalog_id(1)])
    error = result[0].error
    assert error is not None and result[0].outcome is Outcome.FAILED
    shown = f"{error.description} {error.message}"
    assert "[REDACTED]" in shown
    assert "tok-SECRET" not in shown and "9" * 10 not in shown
