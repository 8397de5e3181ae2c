"""Fixtures of the emulator tests: real loopback HTTP with a bare aiohttp client.

The client library is deliberately not used here: these tests pin the server side of the
contract on their own, so that the client's integration tests and these cannot share a bug.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs
import pytest_asyncio
from multidict import CIMultiDict

from groove_async._protocol import Request
from groove_async.testing import FakeGrooveServer

ADD = "/1/content/music/collection/add"
DELETE = "/1/content/music/collection/delete"
PROFILE = "/1/user/music/profile"
DEMO_TOKEN = "demo-token"
# Spec section 9.
CREATE = "/1/content/music/collection/playlists/create"
UPDATE = "/1/content/music/collection/playlists/update"
DELETE_PLAYLIST = "/1/content/music/collection/playlists/delete"
TRACKS = "/1/content/music/collection/tracks/browse"
PLAYLISTS = "/1/content/music/collection/playlists/browse"


def lookup_path(playlist_id: str) -> str:
    return f"/1/content/{playlist_id}/lookup?source=collection"


def entries_path(playlist_id: str, query: str = "") -> str:
    path = f"/1/content/{playlist_id}/collection/playlist/tracks/browse"
    return f"{path}?{query}" if query else path


def browse_form(edit_id: str) -> str:
    """The browse form of a playlist ID (spec 9.1): ``01 03`` + the GUID in .NET order."""
    guid = uuid.UUID(edit_id.removeprefix("music.playlist."))
    return "music." + base64.urlsafe_b64encode(b"\x01\x03" + guid.bytes_le).decode().rstrip("=")


def adds(*ids: str) -> list[dict[str, str]]:
    """The TrackActions that add ``ids`` in order."""
    return [{"Id": track_id, "Action": "Add"} for track_id in ids]


def deletes(*entry_ids: str) -> list[dict[str, str]]:
    """The TrackActions that delete ``entry_ids`` in order."""
    return [{"Id": entry_id, "Action": "Delete"} for entry_id in entry_ids]


@attrs.frozen
class Reply:
    """One HTTP answer, read completely."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class Api:
    """A bare HTTP client for one emulator."""

    session: aiohttp.ClientSession
    server: FakeGrooveServer

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        token: str | None = DEMO_TOKEN,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        all_headers = _headers(token, headers)
        async with self.session.request(
            method,
            self.server.url + path,
            data=body,
            headers=all_headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return Reply(response.status, CIMultiDict(response.headers), await response.read())

    async def post(self, path: str, payload: Any, **kwargs: Any) -> Reply:
        return await self.request("POST", path, body=json.dumps(payload).encode(), **kwargs)

    async def add(self, ids: Sequence[str], **kwargs: Any) -> Reply:
        return await self.post(ADD, {"TrackIds": list(ids)}, **kwargs)

    async def delete(self, ids: Sequence[str], **kwargs: Any) -> Reply:
        return await self.post(DELETE, {"TrackIds": list(ids)}, **kwargs)

    async def profile(self, **kwargs: Any) -> Reply:
        return await self.request("GET", PROFILE, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def create(self, name: str | None, *ids: str, **members: Any) -> Reply:
        """``playlists/create`` with ``Name`` (unless None), Adds of ``ids`` and ``members``
        (``token``, ``headers`` and ``timeout`` go to :meth:`request`)."""
        body: dict[str, Any] = {} if name is None else {"Name": name}
        if ids:
            body["TrackActions"] = adds(*ids)
        return await self._edit(CREATE, body, members)

    async def update(self, playlist_id: str | None, **members: Any) -> Reply:
        body: dict[str, Any] = {} if playlist_id is None else {"Id": playlist_id}
        return await self._edit(UPDATE, body, members)

    async def delete_playlist(self, playlist_id: str | None, **members: Any) -> Reply:
        body: dict[str, Any] = {} if playlist_id is None else {"Id": playlist_id}
        return await self._edit(DELETE_PLAYLIST, body, members)

    async def _edit(self, path: str, body: dict[str, Any], members: dict[str, Any]) -> Reply:
        options = {k: members.pop(k) for k in ("token", "headers", "timeout") if k in members}
        body.update(members)
        return await self.post(path, body, **options)

    async def new_playlist(self, name: str, *ids: str) -> str:
        """Create a playlist (asserting a 200); its ID in the edit form."""
        reply = await self.create(name, *ids)
        assert reply.status == 200, reply.body
        playlist_id: str = reply.json()["PlaylistActionResult"]["Id"]
        return playlist_id


@attrs.define
class MemoryApi(Api):
    """The same client, carried by the server's in-memory transport instead of HTTP.

    A dropped connection raises :class:`~groove_async.TransportError`; ``timeout`` is an
    ``asyncio.timeout`` (``TimeoutError``).
    """

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        token: str | None = DEMO_TOKEN,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        all_headers = _headers(token, headers)
        request = Request(method, self.server.url + path, all_headers, body or b"")
        async with asyncio.timeout(timeout):
            response = await self.server.transport().send(request)
        return Reply(response.status, CIMultiDict(response.headers), response.body)


StartEmulator = Callable[..., Awaitable[Api]]


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest_asyncio.fixture
async def emulator(session: aiohttp.ClientSession) -> AsyncIterator[StartEmulator]:
    """``await emulator(**FakeGrooveServer kwargs)`` starts a server, stopped after the test.

    ``server_class`` picks a subclass of :class:`FakeGrooveServer` (the benchmarks' server).
    """
    servers: list[FakeGrooveServer] = []

    async def start(server_class: type[FakeGrooveServer] = FakeGrooveServer, **kwargs: Any) -> Api:
        server = server_class(**kwargs)
        await server.start()
        servers.append(server)
        return Api(session, server)

    yield start
    for server in servers:
        await server.stop()


@pytest_asyncio.fixture
async def api(emulator: StartEmulator) -> Api:
    """A default emulator (token ``demo-token``, seed 1)."""
    return await emulator(seed=1)


# -- reading answers and the server's state ---------------------------------------------------


def error_code(reply: Reply) -> str:
    """The code of a whole-request error, whose body holds ``Error`` only (spec section 4)."""
    body = reply.json()
    assert set(body) == {"Error"}, body
    code: str = body["Error"]["ErrorCode"]
    return code


def assert_refused(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert error_code(reply) == code


def catalog_ids(server: FakeGrooveServer, playlist_id: str, token: str = DEMO_TOKEN) -> list[str]:
    """The catalog IDs a playlist holds, in playlist order, as the server sees it."""
    stored = server.playlist(token, playlist_id)
    assert stored is not None
    return [catalog for _, catalog in stored.entries]


def entry_ids(server: FakeGrooveServer, playlist_id: str, token: str = DEMO_TOKEN) -> list[str]:
    """The entry IDs of a playlist, in playlist order, as the server sees it."""
    stored = server.playlist(token, playlist_id)
    assert stored is not None
    return [entry for entry, _ in stored.entries]


def _headers(token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    """A request's headers: JSON, the token's ``Authorization`` if any, then ``extra``."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra or {})
    return headers
