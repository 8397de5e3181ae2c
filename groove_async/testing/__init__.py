"""Test your code against an emulator of the Groove collection API.

::

    from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse

    async with FakeGrooveServer(tokens=["t1"]) as server:
        ...  # point your code at server.url with token "t1"
        assert server.collection("t1") == {...}

The server module (and aiohttp.web with it) is imported on first use of :class:`FakeGrooveServer`
or :class:`RequestRecord`, so that loading the pytest plugin stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._catalog import catalog_track_id
from ._faults import FaultPlan, ScriptedResponse

if TYPE_CHECKING:
    from ._server import FakeGrooveServer, RequestRecord

__all__ = [
    "FakeGrooveServer",
    "FaultPlan",
    "RequestRecord",
    "ScriptedResponse",
    "catalog_track_id",
]

_LAZY = frozenset({"FakeGrooveServer", "RequestRecord"})


def __getattr__(name: str) -> Any:
    # PEP 562: import the aiohttp.web server only when it is asked for.
    if name in _LAZY:
        from . import _server

        value = getattr(_server, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
