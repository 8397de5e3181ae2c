"""The pytest plugin of groove_async: a ``groove_server`` fixture.

Registered through the ``pytest11`` entry point, so installing groove_async is enough::

    async def test_my_importer(groove_server):
        await my_importer(base_url=groove_server.url, token="demo-token")
        assert len(groove_server.collection("demo-token")) == 3

The fixture is an async fixture of pytest-asyncio (it works in strict and auto mode). Without
pytest-asyncio the plugin still loads, and the fixture fails with a message saying what to install.
Nothing heavy is imported until the fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from ._server import FakeGrooveServer

__all__ = ["groove_server"]

try:
    import pytest_asyncio

    _HAVE_PYTEST_ASYNCIO = True
except ImportError:  # the library without its test extra: the plugin must still load
    _HAVE_PYTEST_ASYNCIO = False

_DEMO_TOKEN = "demo-token"  # noqa: S105 -- the emulator's documented demo token, not a secret

if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def groove_server() -> AsyncIterator[FakeGrooveServer]:
        """A started :class:`~groove_async.testing.FakeGrooveServer` accepting ``"demo-token"``.

        Function-scoped: every test gets a fresh server with an empty collection. Change its
        behaviour in the test with ``groove_server.faults = FaultPlan(...)`` or
        ``groove_server.script(...)``.
        """
        from ._server import FakeGrooveServer

        async with FakeGrooveServer(tokens=[_DEMO_TOKEN]) as server:
            yield server

else:

    @pytest.fixture
    def groove_server() -> NoReturn:
        """Stands in for the real fixture when pytest-asyncio is not installed."""
        pytest.fail(
            "the groove_server fixture needs pytest-asyncio: "
            "pip install 'groove-async[test]' (or pip install pytest-asyncio)",
            pytrace=False,
        )
