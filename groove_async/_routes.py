"""Every URL path the client requests, as pure functions (spec sections 3 and 9).

The one home of the service's paths: the TrackAction batches (``collection/add|delete``), the
playlist edits (``collection/playlists/create|update|delete``), the browses, a playlist's lookup
and sub-browse, and the profile. A path is relative to the base URL; queries are the caller's.
Playlist IDs are percent-encoded (only ``.`` kept), so that no ID can add a path segment.
"""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import quote

__all__ = [
    "BROWSE_KINDS",
    "EDIT_ACTIONS",
    "LOOKUP_QUERY",
    "browse_path",
    "collection_path",
    "lookup_path",
    "playlist_edit_path",
    "playlist_tracks_path",
    "profile_path",
]

#: What the library's browse reads (spec 9.2).
BROWSE_KINDS: Final = frozenset({"tracks", "playlists"})
#: The playlist edits (spec 9.1).
EDIT_ACTIONS: Final = frozenset({"create", "update", "delete"})
#: A playlist lookup reads the user's collection (spec 9.2).
LOOKUP_QUERY: Final = {"source": "collection"}


def collection_path(namespace: str, action: str) -> str:
    """The path of a TrackAction batch: ``action`` is ``add`` or ``delete`` (spec 3)."""
    return f"/1/content/{namespace}/collection/{action}"


def playlist_edit_path(namespace: str, action: Literal["create", "update", "delete"]) -> str:
    """The path of a playlist edit (spec 9.1).

    Raises:
        ValueError: not one of ``create``, ``update``, ``delete``.
    """
    if action not in EDIT_ACTIONS:
        raise ValueError(f"a playlist edit is create, update or delete, not {action!r:.40}")
    return f"/1/content/{namespace}/collection/playlists/{action}"


def browse_path(namespace: str, kind: Literal["tracks", "playlists"]) -> str:
    """The path of the library's browse of ``tracks`` or ``playlists`` (spec 9.2).

    Raises:
        ValueError: another kind.
    """
    if kind not in BROWSE_KINDS:
        raise ValueError(f"a browse reads tracks or playlists, not {kind!r:.40}")
    return f"/1/content/{namespace}/collection/{kind}/browse"


def playlist_tracks_path(playlist_id: str) -> str:
    """The path of a playlist's sub-browse (its entries, in playlist order)."""
    return f"/1/content/{quote(playlist_id, safe='.')}/collection/playlist/tracks/browse"


def lookup_path(playlist_id: str) -> str:
    """The path of a playlist's lookup (with :data:`LOOKUP_QUERY`)."""
    return f"/1/content/{quote(playlist_id, safe='.')}/lookup"


def profile_path(namespace: str) -> str:
    """The path of the user's profile (spec 9.2)."""
    return f"/1/user/{namespace}/profile"
