"""groove_async: an asyncio client for the Groove Music collection API.

Add or remove any number of tracks with one call: IDs are validated, cut into 100-ID POSTs sent
concurrently under a bound, retried when the failure is transient, and merged back into one
result per input, in input order.

The public names are imported on first use (PEP 562), so that importing a submodule (the pytest
plugin that pytest loads in every run of every project that installs the package) does not pull
in the client with aiohttp, tenacity, cattrs and orjson. They are listed three times below, as
static tools need them (the imports under ``TYPE_CHECKING``, ``__all__``) and as the lazy
loading does (``_HOMES``); ``tests/test_public_surface.py`` fails when the three disagree.

Besides the client and its values, a few of the client's own rules are public, so that a tool
built on it (the command line is one) accepts exactly what the client does: ``IdValidator``,
``normalise_id`` and ``MAX_ID_LENGTH`` (what a track ID is), ``check_token`` (what a token may
hold), and ``PLAYLIST_CHUNK`` and ``MAX_PLAYLIST_NAME_LENGTH`` (the playlist limits of spec
section 9.1).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._auth import TokenProvider, check_token
    from ._client import DEFAULT_BASE_URL, GrooveClient
    from ._errors import (
        AuthenticationError,
        BatchError,
        DecodeError,
        GrooveError,
        HTTPStatusError,
        PlaylistConflictError,
        PlaylistEditError,
        ResultMismatchError,
    )
    from ._events import (
        BatchFinished,
        BatchStarted,
        EventCallback,
        ProgressEvent,
        RetryScheduled,
        Throttled,
    )
    from ._flow import Gate, ThrottleGate
    from ._ids import MAX_ID_LENGTH, IdValidator, normalise_id
    from ._models import (
        BulkResult,
        ErrorInfo,
        LibraryTrack,
        Outcome,
        Playlist,
        PlaylistResult,
        TrackResult,
    )
    from ._playlist_steps import PLAYLIST_FULL
    from ._playlists import MAX_PLAYLIST_NAME_LENGTH, PLAYLIST_CHUNK
    from ._retry import RetryPolicy
    from ._transport import Request, Response, Transport, TransportError

try:
    __version__ = version("groove-async")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

#: Each public name and the module that defines it.
_HOMES: dict[str, str] = {
    "DEFAULT_BASE_URL": "._client",
    "GrooveClient": "._client",
    "TokenProvider": "._auth",
    "check_token": "._auth",
    "AuthenticationError": "._errors",
    "BatchError": "._errors",
    "DecodeError": "._errors",
    "GrooveError": "._errors",
    "HTTPStatusError": "._errors",
    "PlaylistConflictError": "._errors",
    "PlaylistEditError": "._errors",
    "ResultMismatchError": "._errors",
    "BatchFinished": "._events",
    "BatchStarted": "._events",
    "EventCallback": "._events",
    "ProgressEvent": "._events",
    "RetryScheduled": "._events",
    "Throttled": "._events",
    "Gate": "._flow",
    "ThrottleGate": "._flow",
    "MAX_ID_LENGTH": "._ids",
    "IdValidator": "._ids",
    "normalise_id": "._ids",
    "BulkResult": "._models",
    "ErrorInfo": "._models",
    "LibraryTrack": "._models",
    "Outcome": "._models",
    "Playlist": "._models",
    "PlaylistResult": "._models",
    "TrackResult": "._models",
    "MAX_PLAYLIST_NAME_LENGTH": "._playlists",
    "PLAYLIST_CHUNK": "._playlists",
    "PLAYLIST_FULL": "._playlist_steps",
    "Request": "._transport",
    "Response": "._transport",
    "RetryPolicy": "._retry",
    "Transport": "._transport",
    "TransportError": "._transport",
}

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_ID_LENGTH",
    "MAX_PLAYLIST_NAME_LENGTH",
    "PLAYLIST_CHUNK",
    "PLAYLIST_FULL",
    "AuthenticationError",
    "BatchError",
    "BatchFinished",
    "BatchStarted",
    "BulkResult",
    "DecodeError",
    "ErrorInfo",
    "EventCallback",
    "Gate",
    "GrooveClient",
    "GrooveError",
    "HTTPStatusError",
    "IdValidator",
    "LibraryTrack",
    "Outcome",
    "Playlist",
    "PlaylistConflictError",
    "PlaylistEditError",
    "PlaylistResult",
    "ProgressEvent",
    "Request",
    "Response",
    "ResultMismatchError",
    "RetryPolicy",
    "RetryScheduled",
    "ThrottleGate",
    "Throttled",
    "TokenProvider",
    "TrackResult",
    "Transport",
    "TransportError",
    "__version__",
    "check_token",
    "normalise_id",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
