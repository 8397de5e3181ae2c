"""Test your code against an emulator of the Groove collection API.

::

    from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse

    async with FakeGrooveServer(tokens=["t1"]) as server:
        ...  # point your code at server.url with token "t1"
        assert server.collection("t1") == {...}
        assert [p.name for p in server.playlists("t1")] == [...]  # newest first

    server = FakeGrooveServer(tokens=["t1"])  # or with no socket at all
    async with GrooveClient("t1", base_url=server.url, transport=server.transport()) as client:
        ...

The server module (and aiohttp.web with it) is imported on first use of :class:`FakeGrooveServer`,
and the service on first use of :class:`RequestRecord` or :class:`MemoryTransport`, so that
loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._catalog import catalog_track_id
from ._faults import FaultPlan, ScriptedResponse
from ._quota import TokenQuota, Violation

if TYPE_CHECKING:
    from ._memory import MemoryTransport
    from ._server import FakeGrooveServer
    from ._service import RequestRecord
    from ._state import StoredPlaylist

__all__ = [
    "FakeGrooveServer",
    "FaultPlan",
    "MemoryTransport",
    "RequestRecord",
    "ScriptedResponse",
    "StoredPlaylist",
    "TokenQuota",
    "Violation",
    "catalog_track_id",
]

# Where each lazily imported name lives.
_LAZY = {
    "FakeGrooveServer": "._server",
    "MemoryTransport": "._memory",
    "RequestRecord": "._service",
    "StoredPlaylist": "._state",
}


def __getattr__(name: str) -> Any:
    # PEP 562: import the aiohttp.web server (or the service) only when it is asked for.
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
