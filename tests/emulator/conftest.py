"""Fixtures of the emulator tests: real loopback HTTP with a bare aiohttp client.

The client library is deliberately not used here: these tests pin the server side of the
contract on their own, so that the client's integration tests and these cannot share a bug.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs
import pytest_asyncio
from multidict import CIMultiDict

from groove_async.testing import FakeGrooveServer

ADD = "/1/content/music/collection/add"
DELETE = "/1/content/music/collection/delete"
PROFILE = "/1/user/music/profile"
DEMO_TOKEN = "demo-token"


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
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        async with self.session.request(
            method, self.server.url + path, data=body, headers=all_headers
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
