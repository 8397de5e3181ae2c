from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from groove_async.testing import FakeGrooveServer


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeGrooveServer]:
    async with FakeGrooveServer(tokens=["t1", "t2"], seed=1234) as running:
        yield running
