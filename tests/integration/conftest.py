from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import groove_async._client
from groove_async import Transport
from groove_async.testing import FakeGrooveServer


@pytest_asyncio.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGrooveServer]:
    """The emulator, reached in memory: a client made with no transport or session of its own
    talks to it with no socket (the many tests). It listens too, for the tests that bring an
    aiohttp session to watch connections; the socket path also keeps tests of its own, which
    start a FakeGrooveServer themselves."""
    async with FakeGrooveServer(tokens=["t1", "t2"], seed=1234) as emulator:
        with monkeypatch.context() as patch:
            patch.setattr(groove_async._client, "_transport_for", _in_memory(emulator))
            yield emulator


def _in_memory(emulator: FakeGrooveServer) -> object:
    chosen = groove_async._client._transport_for

    def in_memory(transport: Transport | None, session: object, concurrency: int) -> Transport:
        if transport is None and session is None:
            return emulator.transport()
        return chosen(transport, session, concurrency)  # type: ignore[arg-type]

    return in_memory
