"""Routing as aiohttp's router does it: targets, methods, 404 and 405, HEAD, Expect.

The emulator routes the usual ``POST /1/content/music/collection/add`` (and ``delete``) without
asking the router; everything else goes through an aiohttp router with the two routes. These
answers are what a ``web.Application`` with those routes sends, byte for byte (the Date header
aside), whichever way a request is routed.
"""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from yarl import URL

from groove_async.testing import catalog_track_id
from tests.emulator.conftest import Api

BODY = json.dumps({"TrackIds": [catalog_track_id(1)]}).encode()
NOT_FOUND = (404, "text/plain; charset=utf-8", None, b"404: Not Found")
POST_ONLY = (405, "text/plain; charset=utf-8", "POST", b"405: Method Not Allowed")
GET_ONLY = (405, "text/plain; charset=utf-8", "GET,HEAD", b"405: Method Not Allowed")
JSON = "application/json; charset=utf-8"


@pytest.mark.parametrize("expect", [False, True])
@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("POST", "/1/content/music/collection/add", (200, JSON, None, b"TrackActionResults")),
        ("POST", "/1/content/music/collection/ADD", (200, JSON, None, b"TrackActionResults")),
        ("POST", "/1/content/m%75sic/collection/add", (200, JSON, None, b"TrackActionResults")),
        ("POST", "/1/content/music/collection/add?x=1", (200, JSON, None, b"TrackActionResults")),
        ("POST", "/1/content/music/collection/Delete", (200, JSON, None, b"TrackActionResults")),
        ("POST", "/1/content/video/collection/add", (400, JSON, None, b"Unknown namespace")),
        ("POST", "/1/content/mu%2Fsic/collection/add", (400, JSON, None, b"Unknown namespace")),
        ("POST", "/1/content/music/collection/add/", NOT_FOUND),
        ("POST", "//1/content/music/collection/add", NOT_FOUND),
        ("POST", "/1/content/music/collection/move", NOT_FOUND),
        ("GET", "/", NOT_FOUND),
        ("GET", "/1/content/music/collection/add", POST_ONLY),
        ("PUT", "/1/content/music/collection/add", POST_ONLY),
        ("OPTIONS", "/1/content/music/collection/delete", POST_ONLY),
        ("POST", "/1/user/music/profile", GET_ONLY),
        ("GET", "/1/user/music/profile", (200, JSON, None, b"RemainingTrackCount")),
        ("HEAD", "/1/user/music/profile", (200, JSON, None, b"")),
        ("GET", "/1/user/video/profile", (400, JSON, None, b"Unknown namespace")),
    ],
)
async def test_routing(
    api: Api,
    method: str,
    target: str,
    expected: tuple[int, str, str | None, bytes],
    expect: bool,
) -> None:
    status, content_type, allow, body_part = expected
    url = URL(api.server.url + target, encoded=True)
    headers = {"Authorization": "Bearer demo-token", "Content-Type": "application/json"}
    async with api.session.request(
        method, url, data=BODY if method == "POST" else None, headers=headers, expect100=expect
    ) as response:
        body = await response.read()
    assert response.status == status
    assert response.headers["Content-Type"] == content_type
    assert response.headers.get("Allow") == allow
    assert response.headers["Server"].startswith("Python/")
    assert set(response.headers) == {"Content-Type", "Content-Length", "Date", "Server"} | (
        {"Allow"} if allow else set()
    )
    if status in (404, 405):
        assert body == body_part
    else:
        assert body_part in body
    if method == "HEAD":
        assert body == b""
        assert int(response.headers["Content-Length"]) > 0


async def raw_exchange(api: Api, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    """Send a request head, read what comes back before the body is sent, then the rest."""
    url = URL(api.server.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(head)
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(body)
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    return interim, rest


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"/1/content/music/collection/add", b"200 OK"),
        (b"/1/content/music/collection/Add", b"200 OK"),
        (b"/1/content/music/collection/nope", b"404 Not Found"),
    ],
)
async def test_expect_100_continue(api: Api, target: bytes, status: bytes) -> None:
    head = (
        b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer demo-token\r\n"
        b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    interim, rest = await raw_exchange(api, head, BODY)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert rest.startswith(b"HTTP/1.1 " + status + b"\r\n")


async def test_an_unknown_expectation_is_refused(api: Api) -> None:
    url = URL(api.server.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            b"POST /1/content/music/collection/add HTTP/1.1\r\nHost: x\r\n"
            b"Expect: something-else\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        reply = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert reply.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")


async def test_a_body_over_the_size_limit_is_refused(api: Api) -> None:
    ids = [catalog_track_id(n) for n in range(30_000)]  # about 1.3 MB: over aiohttp's 1 MiB
    async with api.session.post(
        api.server.url + "/1/content/music/collection/add",
        data=io.BytesIO(json.dumps({"TrackIds": ids}).encode()),
        headers={"Authorization": "Bearer demo-token", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
    assert api.server.collection("demo-token") == {}


async def test_a_body_in_pieces_is_read_whole(api: Api) -> None:
    """A body that has not all arrived when the handler starts is waited for."""
    url = URL(api.server.url)
    head = (
        b"POST /1/content/music/collection/add HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer demo-token\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(head + BODY[:10])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(BODY[10:])
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert list(api.server.collection("demo-token")) == [catalog_track_id(1)]


async def test_gzip_request_body(api: Api) -> None:
    import gzip

    async with api.session.post(
        api.server.url + "/1/content/music/collection/add",
        data=gzip.compress(BODY),
        headers={
            "Authorization": "Bearer demo-token",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    ) as response:
        assert response.status == 200
    assert list(api.server.collection("demo-token")) == [catalog_track_id(1)]


async def test_pipelined_requests(api: Api) -> None:
    url = URL(api.server.url)
    requests = b"".join(
        b"POST /1/content/music/collection/add HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer demo-token\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        for body in (json.dumps({"TrackIds": [catalog_track_id(n)]}).encode() for n in range(3))
    )
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(requests)
        await writer.drain()
        replies = b""
        while replies.count(b"HTTP/1.1 200 OK") < 3:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk
            replies += chunk
    finally:
        writer.close()
    assert list(api.server.collection("demo-token")) == [catalog_track_id(n) for n in range(3)]


async def test_a_client_error_in_the_session(api: Api) -> None:
    """A malformed request line gets aiohttp's 400, as before."""
    url = URL(api.server.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        reply = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert reply.startswith(b"HTTP/1.0 400 Bad Request\r\n")
