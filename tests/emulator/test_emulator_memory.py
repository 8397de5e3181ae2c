"""The emulator in memory: ``FakeGrooveServer.transport()``, no socket, the same service.

The same requests, sent over loopback HTTP and through the in-memory transport to two servers
with the same seed, must get the same answers and leave the same collections, request logs and
random generators; the transport works without the server being started, honours latency and
cancellation, and turns a dropped connection into ``TransportError``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp
import attrs
import pytest
from multidict import CIMultiDict

from groove_async import (
    GrooveClient,
    Outcome,
    Request,
    RetryPolicy,
    Transport,
    TransportError,
)
from groove_async.testing import (
    FakeGrooveServer,
    FaultPlan,
    MemoryTransport,
    ScriptedResponse,
    catalog_track_id,
)
from tests.emulator.conftest import ADD, DELETE, PROFILE, Api, Reply, StartEmulator

TOKEN = "demo-token"
IDS = [catalog_track_id(n) for n in range(5)]
NO_WAIT = RetryPolicy(attempts=3).without_waiting()
DROPPED = ("dropped",)


@attrs.define
class MemoryApi(Api):
    """The conftest's bare client, through the in-memory transport instead of aiohttp."""

    transport: MemoryTransport = attrs.field(default=None)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        token: str | None = TOKEN,
        headers: Any = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        sent = Request(method, self.server.url + path, all_headers, body or b"")
        response = await self.transport.send(sent)
        return Reply(response.status, CIMultiDict(response.headers), response.body)


def memory_api(server: FakeGrooveServer) -> MemoryApi:
    return MemoryApi(None, server, server.transport())  # type: ignore[arg-type]


async def sequence(api: Api) -> list[Any]:
    """Requests of every kind, one after another; what each got (headers that HTTP adds left
    out: ``Date``, ``Server``)."""
    server = api.server
    outcomes: list[Any] = []

    async def send(method: str, path: str, **kwargs: Any) -> None:
        try:
            reply = await api.request(method, path, **kwargs)
        except (TransportError, aiohttp.ClientError):
            outcomes.append(DROPPED)
            return
        kept = {k: v for k, v in reply.headers.items() if k in ("Content-Type", "Retry-After")}
        kept.update({k: v for k, v in reply.headers.items() if k == "Allow"})
        outcomes.append((reply.status, kept, reply.body))

    def body(ids: list[str]) -> bytes:
        return json.dumps({"TrackIds": ids}).encode()

    await send("POST", ADD, body=body([*IDS, IDS[0].lower(), "music.nope"]))
    await send("POST", ADD, body=body(IDS[:2]), headers={"Accept": "application/xml"})
    await send("POST", DELETE, body=body([*list(server.collection(TOKEN).values())[:2], "x"]))
    await send("POST", ADD.replace("add", "Add") + "?contentType=xml", body=body(IDS[:1]))
    await send("POST", ADD, body=body([catalog_track_id(n) for n in range(101)]))
    await send("POST", ADD, body=b"not json")
    await send("POST", ADD, body=body(IDS), token="unknown")
    await send("POST", ADD, body=body(IDS), token=None)
    await send("GET", PROFILE)
    await send("GET", ADD)
    await send("POST", PROFILE)
    await send("POST", "/1/content/music/collection/move")
    await send("POST", "/1/content/video/collection/add", body=body(IDS))
    server.faults = FaultPlan(
        p_drop=0.1, p_429=0.1, p_503=0.1, p_504=0.05, p_html=0.05, p_truncated=0.1,
        p_missing_item=0.1, p_non_json=0.05, retry_after=1.5, latency_jitter=0.002,
    )  # fmt: skip
    for n in range(40):
        await send("POST", ADD, body=body([catalog_track_id(100 + 2 * n + k) for k in range(2)]))
    server.faults = FaultPlan()
    server.script(
        ScriptedResponse(500, {"Error": {"ErrorCode": "X", "Description": "x"}}),
        ScriptedResponse(drop=True, apply=True),
        ScriptedResponse(429, headers={"Retry-After": "7"}, delay=0.01),
        ScriptedResponse(200, b"{}", apply=True),
    )
    for n in range(4):
        await send("POST", ADD, body=body([catalog_track_id(500 + n)]))
    server.expire_token(TOKEN)
    await send("POST", ADD, body=body(IDS))
    await send("GET", PROFILE)
    return outcomes


def snapshot(server: FakeGrooveServer) -> tuple[Any, ...]:
    log = [attrs.evolve(r, time=0.0) for r in server.requests]
    return server.collection(TOKEN), log, server._service.rng.getstate()


async def test_the_same_answers_over_http_and_in_memory(emulator: StartEmulator) -> None:
    over_http = await emulator(seed=7)
    in_memory = memory_api(FakeGrooveServer(seed=7))  # never started

    http_outcomes = await sequence(over_http)
    memory_outcomes = await sequence(in_memory)

    assert memory_outcomes == http_outcomes
    assert DROPPED in memory_outcomes
    assert {status for status, *_ in memory_outcomes} >= {200, 400, 401, 404, 405, 429, 500}
    assert snapshot(in_memory.server) == snapshot(over_http.server)
    assert in_memory.server.url == "http://127.0.0.1:0"
    assert {r.fault for r in in_memory.server.requests} >= {None, "drop", "scripted", "truncated"}


async def test_the_transport_reaches_a_running_server_too(api: Api) -> None:
    """Started or not, the transport is onto the same state as the HTTP server."""
    memory = memory_api(api.server)
    await memory.add(IDS[:2])
    await api.add(IDS[2:4])
    assert list(api.server.collection(TOKEN)) == IDS[:4]
    assert [r.path for r in api.server.requests] == [ADD, ADD]
    head = await memory.request("HEAD", PROFILE)
    assert (head.status, head.body) == (200, b"")
    assert int(head.headers["Content-Length"]) > 0


async def test_lifecycle() -> None:
    server = FakeGrooveServer(tokens=["lifecycle-secret"])
    assert "stopped" in repr(server) and "lifecycle-secret" not in repr(server)
    assert server.url == "http://127.0.0.1:0"  # the in-memory transport's base URL
    await server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith("/")
        assert server.url != "http://127.0.0.1:0"
        assert server.url in repr(server) and "lifecycle-secret" not in repr(server)
        with pytest.raises(RuntimeError):
            await server.start()
    finally:
        await server.stop()
    assert server.url == "http://127.0.0.1:0"
    await server.stop()  # twice is fine
    async with server:  # and it can start again
        assert server.url


async def test_a_client_bulk_add_with_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("a socket was connected")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    server = FakeGrooveServer(tokens=["t"], seed=3)
    transport = server.transport()
    assert isinstance(transport, Transport)
    ids = [catalog_track_id(n) for n in range(1_000)]
    async with GrooveClient("t", base_url=server.url, transport=transport) as groove:
        result = await groove.add_tracks(ids)
    assert [item.outcome for item in result] == [Outcome.SUCCEEDED] * 1_000
    assert server.collection("t") == {item.input_id: item.id for item in result}
    assert len(server.requests) == 10
    assert transport.closed


async def test_drops_become_failed_after_the_retries() -> None:
    server = FakeGrooveServer(tokens=["t"], faults=FaultPlan(p_drop=1.0))
    transport = server.transport()
    async with GrooveClient("t", base_url=server.url, transport=transport, retry=NO_WAIT) as groove:
        result = await groove.add_tracks(IDS)
    assert {item.outcome for item in result} == {Outcome.FAILED}
    assert {item.error.code for item in result if item.error} == {"CONNECTION_ERROR"}
    assert [(r.status, r.fault) for r in server.requests] == [(None, "drop")] * 3
    assert server.collection("t") == {}


async def test_latency_is_honoured() -> None:
    server = FakeGrooveServer(faults=FaultPlan(latency=0.05))
    api = memory_api(server)
    started = time.monotonic()
    replies = await asyncio.gather(*(api.add([catalog_track_id(n)]) for n in range(10)))
    elapsed = time.monotonic() - started
    assert [r.status for r in replies] == [200] * 10
    assert 0.05 <= elapsed < 10 * 0.05  # concurrent, not one after the other


async def test_cancelling_mid_latency_returns_at_once_and_the_server_goes_on() -> None:
    """As over HTTP, the server does not notice the client gave up: the add is applied."""
    server = FakeGrooveServer(faults=FaultPlan(latency=0.3))
    api = memory_api(server)
    call = asyncio.ensure_future(api.add(IDS[:1]))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert time.monotonic() - started < 0.1
    assert server.collection(TOKEN) == {}
    await asyncio.sleep(0.4)
    assert list(server.collection(TOKEN)) == IDS[:1]
    assert [r.status for r in server.requests] == [200]


async def test_a_client_timeout_mid_latency() -> None:
    server = FakeGrooveServer(tokens=["t"], faults=FaultPlan(latency=5.0))
    started = time.monotonic()
    async with GrooveClient(
        "t", base_url=server.url, transport=server.transport(), retry=NO_WAIT, timeout=0.05
    ) as groove:
        result = await groove.add_tracks(IDS)
    assert time.monotonic() - started < 2.0
    assert {item.error.code for item in result if item.error} == {"TIMEOUT"}
    await server.stop()  # cuts the server's side of the three attempts still waiting
    assert server.collection("t") == {}


async def test_stopping_cuts_requests_still_waiting() -> None:
    server = FakeGrooveServer(faults=FaultPlan(latency=30.0))
    api = memory_api(server)
    call = asyncio.ensure_future(api.add(IDS))
    await asyncio.sleep(0.02)
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(TransportError, match="stopped"):
        await call
    server.faults = FaultPlan()
    assert (await api.add(IDS)).status == 200  # and it goes on serving


async def test_stopping_lets_short_requests_finish() -> None:
    server = FakeGrooveServer(faults=FaultPlan(latency=0.1))
    api = memory_api(server)
    replies = asyncio.gather(*(api.add([catalog_track_id(n)]) for n in range(5)))
    await asyncio.sleep(0.03)
    await server.stop()
    assert [r.status for r in await replies] == [200] * 5


async def test_scripted_drop_and_delay() -> None:
    server = FakeGrooveServer()
    api = memory_api(server)
    server.script(ScriptedResponse(drop=True, apply=True), ScriptedResponse(204, delay=0.05))
    with pytest.raises(TransportError, match="without answering") as info:
        await api.add(IDS[:2])
    assert info.value.code == "CONNECTION_ERROR"
    assert list(server.collection(TOKEN)) == IDS[:2]  # done, answer lost
    started = time.monotonic()
    assert (await api.add(IDS)).status == 204
    assert time.monotonic() - started >= 0.05


async def test_a_closed_transport_refuses_requests() -> None:
    server = FakeGrooveServer()
    transport = server.transport()
    assert not transport.closed and "closed" not in repr(transport)
    await transport.aclose()
    await transport.aclose()  # twice is fine
    assert transport.closed and "closed" in repr(transport)
    request = Request("POST", server.url + ADD, {"Authorization": "Bearer demo-token"}, b"{}")
    with pytest.raises(TransportError, match="closed"):
        await transport.send(request)
    assert server.requests == []
    assert (await server.transport().send(request)).status == 400  # a fresh one works


async def test_only_the_path_and_query_of_the_url_count() -> None:
    server = FakeGrooveServer()
    body = json.dumps({"TrackIds": IDS[:1]}).encode()
    headers = {"Authorization": "Bearer demo-token"}
    transport = server.transport()
    for url in ("https://music.xboxlive.com", "http://localhost:8080", "http://127.0.0.1:0"):
        response = await transport.send(
            Request("POST", url + ADD + "?contentType=xml", headers, body)
        )
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/xml")
    response = await transport.send(Request("POST", "http://x/prefix" + ADD, headers, body))
    assert response.status == 404
    big = b'{"TrackIds":["' + b"x" * (1024**2) + b'"]}'
    response = await transport.send(Request("POST", server.url + ADD, headers, big))
    assert (response.status, response.body) == (413, b"Maximum request body size 1048576 exceeded.")
