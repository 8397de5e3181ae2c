"""The wire of playlists and of the library read back (spec section 9), as pure functions.

Request bodies and paths in, response bodies out: a PlaylistAction to send, and readers for the
edit's answer, the browse pages, the playlist lookup and the profile. Every reader checks the
shape it relies on and raises :class:`~groove_async.DecodeError` for anything else, so that a
hostile or broken server becomes a typed error, never a crash. JSON only: section 9 documents no
XML for these endpoints.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, urlsplit

import attrs
import orjson

from ._errors import DecodeError
from ._models import ErrorInfo, LibraryTrack, Playlist
from ._wire import load_json, normalise_code

__all__ = [
    "MAX_PAGE_ITEMS",
    "EditResult",
    "Page",
    "Profile",
    "browse_path",
    "browse_playlist_id",
    "catalog_id_from_link",
    "edit_playlist_id",
    "playlist_action",
    "playlist_tracks_path",
    "read_edit",
    "read_lookup",
    "read_page",
    "read_playlist_tracks_page",
    "read_profile",
]

#: The most items a browse page holds (spec 9.2: ``maxItems`` 1-25).
MAX_PAGE_ITEMS: Final = 25

_EDIT_PREFIX: Final = "playlist."
_GUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_BROWSE_HEADER: Final = b"\x01\x03"


@attrs.frozen(slots=True)
class Page:
    """One browse page: its items, the continuation token, the (estimated) total."""

    items: list[Any]
    continuation: str | None = None
    total: int | None = None


@attrs.frozen(slots=True)
class Profile:
    """The collection part of the user's profile (spec 9.2)."""

    token: str | None
    track_count: int
    playlist_count: int


@attrs.frozen(slots=True)
class EditResult:
    """A PlaylistActionResult: the playlist ID and, per action sent, (entry ID, error)."""

    id: str
    actions: list[tuple[str | None, ErrorInfo | None]]


# -- playlist IDs -----------------------------------------------------------------------------


def edit_playlist_id(namespace: str, playlist_id: str) -> str:
    """The edit form ``{namespace}.playlist.<guid>`` of either form of a playlist ID.

    The browse form (``music.AQM...``) is URL-safe base64 of ``01 03`` and the GUID's 16 bytes
    in .NET order (spec 9.1). Anything else is returned as it is: the service judges it.
    """
    prefix = f"{namespace}."
    rest = playlist_id.removeprefix(prefix)
    if rest.startswith(_EDIT_PREFIX):
        return playlist_id
    try:
        raw = base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4))
    except (ValueError, TypeError):
        return playlist_id
    if len(raw) != 18 or not raw.startswith(_BROWSE_HEADER):
        return playlist_id
    return f"{prefix}{_EDIT_PREFIX}{uuid.UUID(bytes_le=raw[2:])}"


def browse_playlist_id(namespace: str, playlist_id: str) -> str:
    """The browse form ``{namespace}.AQM...`` of either form of a playlist ID."""
    prefix = f"{namespace}.{_EDIT_PREFIX}"
    guid = playlist_id.removeprefix(prefix)
    if guid == playlist_id or not _GUID_RE.fullmatch(guid):
        return playlist_id
    raw = _BROWSE_HEADER + uuid.UUID(guid).bytes_le
    return f"{namespace}." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def catalog_id_from_link(namespace: str, link: object) -> str | None:
    """The catalog ID behind a track's ``Link`` (spec 9.2): its last path segment, upper-cased.

    ``https://music.microsoft.com/Track/<guid>?partnerID=...`` gives ``music.<GUID>``.
    """
    if not isinstance(link, str):
        return None
    segment = urlsplit(link).path.rstrip("/").rpartition("/")[2]
    if not _GUID_RE.fullmatch(segment):
        return None
    return f"{namespace}.{segment.upper()}"


# -- requests -----------------------------------------------------------------------------------


def playlist_action(
    *,
    playlist_id: str | None = None,
    name: str | None = None,
    published: bool | None = None,
    state_token: str | None = None,
    adds: Sequence[str] = (),
) -> bytes:
    """A PlaylistAction body (spec 9.1): members omitted when not given, adds in order."""
    body: dict[str, Any] = {}
    if playlist_id is not None:
        body["Id"] = playlist_id
    if state_token is not None:
        body["CollectionStateToken"] = state_token
    if name is not None:
        body["Name"] = name
    if published is not None:
        body["IsPublished"] = published
    if adds:
        body["TrackActions"] = [{"Id": track_id, "Action": "Add"} for track_id in adds]
    return orjson.dumps(body)


def browse_path(namespace: str, kind: str) -> str:
    """The path of the library's browse of ``tracks`` or ``playlists``."""
    return f"/1/content/{namespace}/collection/{kind}/browse"


def playlist_tracks_path(playlist_id: str) -> str:
    """The path of a playlist's sub-browse (its entries, in playlist order)."""
    return f"/1/content/{quote(playlist_id, safe='.')}/collection/playlist/tracks/browse"


def lookup_path(playlist_id: str) -> str:
    """The path of a playlist's lookup (``?source=collection``)."""
    return f"/1/content/{quote(playlist_id, safe='.')}/lookup"


# -- responses ----------------------------------------------------------------------------------


def read_edit(body: bytes) -> EditResult:
    """Read a 200 to a PlaylistAction: the playlist ID and one (entry ID, error) per action."""
    data = _object(load_json(body), "the response")
    result = _object(data.get("PlaylistActionResult"), "PlaylistActionResult")
    playlist_id = _string(result.get("Id"), "PlaylistActionResult.Id")
    raw = result.get("TrackActionResults")
    actions = [] if raw is None else [_action(item) for item in _list(raw, "TrackActionResults")]
    return EditResult(playlist_id, actions)


def read_page(body: bytes, kind: str, namespace: str) -> Page:
    """Read a browse page of ``Tracks`` or ``Playlists``."""
    data = _object(load_json(body), "the response")
    return _page(data.get(kind), kind, namespace)


def read_playlist_tracks_page(body: bytes, namespace: str) -> tuple[Playlist, Page]:
    """Read a sub-browse answer: the playlist and one page of its entries."""
    playlist, raw = _one_playlist(body, namespace)
    tracks = raw.get("Tracks")
    if tracks is None:  # omitted when the playlist is empty (spec 9.2)
        return playlist, Page([])
    return playlist, _page(tracks, "Tracks", namespace)


def read_lookup(body: bytes, namespace: str) -> tuple[Playlist, str | None]:
    """Read a playlist lookup: the playlist and the collection's state token."""
    playlist, raw = _one_playlist(body, namespace)
    token = raw.get("CollectionStateToken")
    return playlist, token if isinstance(token, str) else None


def read_profile(body: bytes) -> Profile:
    """Read the profile's ``Collection`` (zero counts are omitted, spec 9.2)."""
    data = _object(load_json(body), "the response")
    collection = data.get("Collection")
    if collection is None:
        return Profile(None, 0, 0)
    collection = _object(collection, "Collection")
    token = collection.get("Token")
    return Profile(
        token if isinstance(token, str) else None,
        _count(collection.get("TrackCount", 0), "TrackCount"),
        _count(collection.get("PlaylistCount", 0), "PlaylistCount"),
    )


def _one_playlist(body: bytes, namespace: str) -> tuple[Playlist, Mapping[str, Any]]:
    data = _object(load_json(body), "the response")
    items = _list(_object(data.get("Playlists"), "Playlists").get("Items"), "Playlists.Items")
    if len(items) != 1:
        raise DecodeError(f"expected one playlist, got {len(items)}")
    raw = _object(items[0], "a playlist")
    return _playlist(raw, namespace), raw


def _page(raw: object, kind: str, namespace: str) -> Page:
    block = _object(raw, kind)
    items = _list(block.get("Items", []), f"{kind}.Items")
    read = _playlist if kind == "Playlists" else _track
    continuation = block.get("ContinuationToken")
    total = block.get("TotalItemCount")
    return Page(
        [read(_object(item, f"an item of {kind}"), namespace) for item in items],
        continuation if isinstance(continuation, str) and continuation else None,
        total if type(total) is int and total >= 0 else None,
    )


def _playlist(raw: Mapping[str, Any], _namespace: str) -> Playlist:
    published = raw.get("IsPublished")
    return Playlist(
        _string(raw.get("Id"), "Playlist.Id"),
        _string(raw.get("Name", ""), "Playlist.Name", allow_empty=True),
        _count(raw.get("TrackCount", 0), "Playlist.TrackCount"),
        published if isinstance(published, bool) else None,
    )


def _track(raw: Mapping[str, Any], namespace: str) -> LibraryTrack:
    name = raw.get("Name")
    return LibraryTrack(
        _string(raw.get("Id"), "Track.Id"),
        catalog_id_from_link(namespace, raw.get("Link")),
        name if isinstance(name, str) else None,
    )


def _action(raw: object) -> tuple[str | None, ErrorInfo | None]:
    item = _object(raw, "a TrackActionResult")
    _string(item.get("InputId"), "TrackActionResult.InputId")
    error = item.get("Error")
    if error is not None:
        error = _object(error, "TrackActionResult.Error")
        code = normalise_code(_string(error.get("ErrorCode"), "ErrorCode"))
        description = error.get("Description")
        message = error.get("Message")
        return None, ErrorInfo(
            code,
            description if isinstance(description, str) else "",
            message if isinstance(message, str) else None,
        )
    entry = item.get("Id")
    if entry is None:  # a Delete's success carries no Id
        return None, None
    return _string(entry, "TrackActionResult.Id"), None


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError(f"{what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise DecodeError(f"{what} is not a list")
    return value


def _string(value: object, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise DecodeError(f"{what} is missing or not a string")
    return value


def _count(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise DecodeError(f"{what} is not a count")
    return value
