"""The client in XML mode (spec section 6) against the emulator: the JSON scenarios, in XML."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from groove_async import (
    AuthenticationError,
    ErrorInfo,
    GrooveClient,
    Outcome,
    RetryPolicy,
    TrackResult,
)
from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse
from tests.conftest import catalog_id, doc_json, posts

NO_WAIT = RetryPolicy().without_waiting()
PLATFORM = "http://schemas.microsoft.com/xboxmusic/2013/10/platform"
XML = {"Content-Type": "application/xml; charset=utf-8"}


def xml_response(inner: str) -> str:
    return f'<TrackActionResponse xmlns="{PLATFORM}">{inner}</TrackActionResponse>'


def recorder() -> tuple[aiohttp.TraceConfig, SimpleNamespace]:
    """Records, client side, the headers sent and the Content-Type of each answer."""
    seen = SimpleNamespace(sent=[], answers=[])
    trace = aiohttp.TraceConfig()

    async def start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.sent.append(dict(params.headers))

    async def end(_: Any, __: Any, params: aiohttp.TraceRequestEndParams) -> None:
        seen.answers.append(params.response.headers.get("Content-Type", ""))

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    return trace, seen


@pytest_asyncio.fixture
async def traced() -> AsyncIterator[tuple[aiohttp.ClientSession, SimpleNamespace]]:
    trace, seen = recorder()
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        yield session, seen


def assert_all_xml(seen: SimpleNamespace) -> None:
    assert seen.sent and all(
        h["Content-Type"] == h["Accept"] == "application/xml" for h in seen.sent
    )
    assert seen.answers and all(a.startswith("application/xml") for a in seen.answers)


# -- the documentation's scenarios, in XML ---------------------------------------------------------


@pytest.mark.parametrize("hyphen_codes", [False, True])
async def test_documented_partial_failure(
    hyphen_codes: bool, traced: tuple[aiohttp.ClientSession, SimpleNamespace]
) -> None:
    session, seen = traced
    request = doc_json("add-partial.request.json")
    expected = doc_json("add-partial.response.json")
    async with (
        FakeGrooveServer(tokens=["t"], hyphen_codes=hyphen_codes) as server,
        GrooveClient("t", base_url=server.url, wire_format="xml", session=session) as groove,
    ):
        assert groove.wire_format == "xml"
        bad, good = await groove.add_tracks(request["TrackIds"])
    documented_error = expected["TrackActionResults"][0]["Error"]
    assert bad == TrackResult(
        request["TrackIds"][0],
        None,
        ErrorInfo(
            "COLLECTION_INVALID_ID", documented_error["Description"], documented_error["Message"]
        ),
        Outcome.REJECTED,
    )
    assert good.outcome is Outcome.SUCCEEDED and good.input_id == request["TrackIds"][1]
    assert server.collection("t") == {request["TrackIds"][1]: good.id}
    assert_all_xml(seen)


async def test_401_with_a_static_token_raises_with_partial(
    server: FakeGrooveServer, traced: tuple[aiohttp.ClientSession, SimpleNamespace]
) -> None:
    session, seen = traced
    async with GrooveClient(
        "wrong-token", base_url=server.url, wire_format="xml", session=session
    ) as groove:
        with pytest.raises(AuthenticationError) as info:
            await groove.add_tracks([catalog_id(i) for i in range(250)])
    exc = info.value
    assert exc.status == 401 and exc.code == "INVALID_AUTHORIZATION_HEADER"  # read from XML
    assert exc.partial is not None and {r.outcome for r in exc.partial} == {Outcome.NOT_SENT}
    assert_all_xml(seen)


async def test_429_with_retry_after_then_success(server: FakeGrooveServer) -> None:
    throttled = xml_response(
        "<Error><Description>Too many requests</Description>"
        "<ErrorCode>TOO_MANY_REQUESTS</ErrorCode></Error>"
    )
    server.script(ScriptedResponse(429, body=throttled, headers={**XML, "Retry-After": "0.2"}))
    async with GrooveClient("t1", base_url=server.url, wire_format="xml") as groove:
        result = await groove.add_tracks([catalog_id(1)])
    assert result.ok
    first, second = posts(server)
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.2


async def test_splits_into_batches_of_100(
    server: FakeGrooveServer, traced: tuple[aiohttp.ClientSession, SimpleNamespace]
) -> None:
    session, seen = traced
    ids = [catalog_id(i) for i in range(250)]
    async with GrooveClient(
        "t1", base_url=server.url, max_concurrency=2, wire_format="xml", session=session
    ) as groove:
        result = await groove.add_tracks(ids)
    assert result.ok and [r.input_id for r in result] == ids
    assert sorted(r.id_count for r in posts(server)) == [50, 100, 100]
    assert set(server.collection("t1")) == set(ids)
    assert_all_xml(seen)


async def test_delete_round_trip(server: FakeGrooveServer) -> None:
    async with GrooveClient("t1", base_url=server.url, wire_format="xml") as groove:
        added = await groove.add_tracks([catalog_id(i) for i in range(120)])
        collection_ids = [r.id for r in added if r.id]
        bogus = "music.AQQfAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ"
        deleted = await groove.delete_tracks([*collection_ids[:110], bogus])
    assert [r.outcome for r in deleted[:110]] == [Outcome.SUCCEEDED] * 110
    assert deleted[-1].outcome is Outcome.REJECTED
    assert deleted[-1].error is not None and deleted[-1].error.code == "COLLECTION_INVALID_ID"
    assert len(server.collection("t1")) == 10


async def test_ids_with_markup_characters_round_trip(server: FakeGrooveServer) -> None:
    odd = ["music.a&b", "music.<c>", "music.\"d'"]
    async with GrooveClient("t1", base_url=server.url, wire_format="xml") as groove:
        result = await groove.add_tracks(odd)
    assert [r.input_id for r in result] == odd
    assert {r.outcome for r in result} == {Outcome.REJECTED}  # not in the catalog, but read back
    assert [r.ids for r in posts(server)] == [tuple(odd)]


# -- mixed formats ----------------------------------------------------------------------------


async def test_a_json_answer_to_an_xml_request_is_read(server: FakeGrooveServer) -> None:
    ids = [catalog_id(1), catalog_id(2)]
    answer = {
        "TrackActionResults": [{"InputId": i, "Id": f"music.X{n}"} for n, i in enumerate(ids)]
    }
    server.script(ScriptedResponse(200, body=answer))  # labelled application/json
    async with GrooveClient("t1", base_url=server.url, wire_format="xml") as groove:
        result = await groove.add_tracks(ids)
    assert [r.id for r in result] == ["music.X0", "music.X1"]


@pytest.mark.parametrize("label", ["application/xml", "text/xml; charset=utf-8", "text/plain"])
async def test_an_xml_answer_to_a_json_client_is_read(server: FakeGrooveServer, label: str) -> None:
    answer = xml_response(
        "<TrackActionResults><TrackActionResult><Id>music.X</Id>"
        f"<InputId>{catalog_id(1)}</InputId></TrackActionResult></TrackActionResults>"
    )
    server.script(ScriptedResponse(200, body=answer, headers={"Content-Type": label}))
    async with GrooveClient("t1", base_url=server.url) as groove:
        assert groove.wire_format == "json"
        result = await groove.add_tracks([catalog_id(1)])
    assert result[0] == TrackResult(catalog_id(1), "music.X")


# -- hostile and broken XML answers ---------------------------------------------------------------


async def test_faults_in_xml_are_retried(server: FakeGrooveServer) -> None:
    server.faults = FaultPlan(p_409=0.1, p_500=0.1, p_truncated=0.1, p_non_json=0.05, seed=7)
    ids = [catalog_id(i) for i in range(1_000)]
    async with GrooveClient(
        "t1",
        base_url=server.url,
        wire_format="xml",
        retry=RetryPolicy(attempts=10).without_waiting(),
    ) as groove:
        result = await groove.add_tracks(ids)
    assert result.ok
    assert {r.fault for r in posts(server)} >= {"409", "500", "truncated", "non_json"}
    assert [r.id for r in result] == [server.collection("t1")[i] for i in ids]


async def test_billion_laughs_answer_is_retried_as_unreadable(server: FakeGrooveServer) -> None:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {b} "{f"&{a};" * 10}">' for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    bomb = f"<!DOCTYPE TrackActionResponse [{entities}]>" + xml_response(
        "<TrackActionResults><TrackActionResult><InputId>&i;</InputId>"
        "</TrackActionResult></TrackActionResults>"
    )
    server.script(ScriptedResponse(200, body=bomb, headers=XML, apply=True))
    started = time.monotonic()
    async with GrooveClient("t1", base_url=server.url, wire_format="xml", retry=NO_WAIT) as groove:
        result = await groove.add_tracks([catalog_id(1)])
        assert result.ok  # the second attempt got the genuine answer
        server.script(*[ScriptedResponse(200, body=bomb, headers=XML)] * NO_WAIT.attempts)
        failed = await groove.add_tracks([catalog_id(2)])
    assert time.monotonic() - started < 5
    assert failed[0].outcome is Outcome.FAILED
    assert failed[0].error is not None and failed[0].error.code == "UNREADABLE_RESPONSE"
    assert "DTD" in (failed[0].error.message or "")


async def test_a_50_mb_xml_answer_is_refused_quickly(server: FakeGrooveServer) -> None:
    huge = b"<TrackActionResponse>" + b" " * (50 * 1024 * 1024)
    policy = RetryPolicy(attempts=2).without_waiting()
    server.script(*[ScriptedResponse(200, body=huge, headers=XML)] * 2)
    started = time.monotonic()
    async with (  # the socket path: the aiohttp transport's body cap is what is tested
        aiohttp.ClientSession() as session,
        GrooveClient(
            "t1", base_url=server.url, wire_format="xml", retry=policy, session=session
        ) as groove,
    ):
        result = await groove.add_tracks([catalog_id(1)])
    assert time.monotonic() - started < 3
    assert result[0].outcome is Outcome.FAILED
    assert result[0].error is not None and result[0].error.code == "RESPONSE_TOO_LARGE"
    assert len(posts(server)) == 2


# -- the constructor ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["XML", "yaml", "", None, 1])
def test_unknown_wire_format_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="wire_format"):
        GrooveClient("t", wire_format=value)


def test_json_is_the_default() -> None:
    assert GrooveClient("t").wire_format == "json"
