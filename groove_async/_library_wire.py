"""The wire of playlists and of the library read back (spec section 9), as pure functions.

Request bodies in, response bodies out: a PlaylistAction to send, and readers for the edit's
answer, the browse pages, the playlist lookup and the profile. Every body is encoded and decoded
by the one converter of :mod:`groove_async._wire` through the wire types of
:mod:`groove_async._contracts` (the only module that spells a wire name); this module maps them
to the public values and checks what the converter cannot (an edit's echo against the actions
sent). Every reader raises :class:`~groove_async.DecodeError` for any shape it does not accept,
so that a hostile or broken server becomes a typed error, never a crash. JSON only: section 9
documents no XML for these endpoints.

Strings from the service may echo a token spelled in a way the byte-level redaction cannot see
(JSON escapes): the readers take the token source's ``redact`` and apply it to every decoded
string the caller will see (:func:`scrub`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlsplit

import attrs

from ._contracts import (
    WireEditAnswer,
    WirePlaylist,
    WirePlaylistAction,
    WirePlaylists,
    WireProfile,
    WireTrack,
    WireTrackAction,
    WireTrackBlock,
    WireTracks,
)
from ._errors import DecodeError
from ._ids import echo_matches
from ._models import ErrorInfo, LibraryTrack, Playlist
from ._playlist_ids import browse_playlist_id, edit_playlist_id
from ._wire import decode_json, encode_json

__all__ = [
    "MAX_PAGE_ITEMS",
    "EditResult",
    "Page",
    "Profile",
    "Redact",
    "browse_playlist_id",
    "catalog_id_from_link",
    "edit_playlist_id",
    "playlist_action",
    "read_edit",
    "read_lookup",
    "read_playlist_tracks_page",
    "read_playlists_page",
    "read_profile",
    "read_tracks_page",
    "scrub",
]

#: The most items a browse page holds (spec 9.2: ``maxItems`` 1-25).
MAX_PAGE_ITEMS: Final = 25

#: A redaction of decoded text (the token source's ``redact``).
Redact = Callable[[str], str]

_GUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

T = TypeVar("T")
V = TypeVar("V", LibraryTrack, Playlist, ErrorInfo)


def _unchanged(text: str) -> str:
    return text


@attrs.frozen(slots=True)
class Page(Generic[T]):
    """One browse page: its items, the continuation token, the (estimated) total."""

    items: list[T]
    continuation: str | None = None
    total: int | None = None


@attrs.frozen(slots=True)
class Profile:
    """The collection part of the user's profile (spec 9.2)."""

    token: str | None
    track_count: int
    playlist_count: int
    remaining_track_count: int = 0


@attrs.frozen(slots=True)
class EditResult:
    """An edit's result: the playlist ID and, per action sent, (entry ID, error)."""

    id: str
    actions: list[tuple[str | None, ErrorInfo | None]]


def scrub(value: V, redact: Redact) -> V:
    """``value``, or a copy of it whose strings went through ``redact`` (else ``value``)."""
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        text = getattr(value, field.name)
        if isinstance(text, str) and (clean := redact(text)) != text:
            changes[field.name] = clean
    return attrs.evolve(value, **changes) if changes else value


def catalog_id_from_link(namespace: str, link: object) -> str | None:
    """The catalog ID behind a track's link (spec 9.2): its last path segment, upper-cased.

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
    actions = [WireTrackAction(track_id) for track_id in adds] or None
    return encode_json(WirePlaylistAction(playlist_id, state_token, name, published, actions))


# -- responses ----------------------------------------------------------------------------------


def read_edit(body: bytes, adds: Sequence[str] = (), redact: Redact = _unchanged) -> EditResult:
    """Read a 200 to a PlaylistAction: the playlist ID and one (entry ID, error) per action.

    Args:
        body: the 200's body.
        adds: the catalog IDs of the Add actions sent, in order.
        redact: applied to the service's error texts.

    The answer must account for exactly the actions sent, as the add path's echo check does
    (spec 3.1 and 9.1): one result per action, in order, each echoing the ID sent there
    (GUIDs compared case-insensitively), and every success holding its new entry ID.

    Raises:
        DecodeError: not an edit's answer, or results that do not answer ``adds``
            (another request's, reordered, missing or extra, a success without its entry ID).
    """
    result = decode_json(body, WireEditAnswer).result
    items = result.results or []
    if len(items) != len(adds):
        raise DecodeError(f"{len(items)} results for {len(adds)} track actions")
    actions: list[tuple[str | None, ErrorInfo | None]] = []
    for position, (sent, item) in enumerate(zip(adds, items, strict=True)):
        if not echo_matches(sent, item.input_id):
            raise DecodeError(f"the result at position {position} is not for the track sent there")
        if item.error is not None:
            actions.append((None, scrub(item.error, redact)))
        elif not item.id:
            raise DecodeError(f"the success at position {position} has no entry ID")
        else:
            actions.append((item.id, None))
    return EditResult(result.id, actions)


def read_tracks_page(
    body: bytes, namespace: str, redact: Redact = _unchanged
) -> Page[LibraryTrack]:
    """Read a browse page of the library's tracks."""
    return _track_page(decode_json(body, WireTracks).block, namespace, redact)


def read_playlists_page(body: bytes, redact: Redact = _unchanged) -> Page[Playlist]:
    """Read a browse page of the playlists."""
    block = decode_json(body, WirePlaylists).block
    return Page(
        [_playlist(item, redact) for item in block.items],
        block.continuation or None,
        block.total,
    )


def read_playlist_tracks_page(
    body: bytes, namespace: str, redact: Redact = _unchanged
) -> tuple[Playlist, Page[LibraryTrack]]:
    """Read a sub-browse answer: the playlist and one page of its entries."""
    raw = _one_playlist(body)
    if raw.tracks is None:  # omitted when the playlist is empty (spec 9.2)
        return _playlist(raw, redact), Page([])
    return _playlist(raw, redact), _track_page(raw.tracks, namespace, redact)


def read_lookup(body: bytes, redact: Redact = _unchanged) -> tuple[Playlist, str | None]:
    """Read a playlist lookup: the playlist and the collection's state token."""
    raw = _one_playlist(body)
    return _playlist(raw, redact), raw.state_token


def read_profile(body: bytes) -> Profile:
    """Read the profile's collection part (zero counts are omitted, spec 9.2)."""
    collection = decode_json(body, WireProfile).collection
    if collection is None:
        return Profile(None, 0, 0)
    return Profile(
        collection.token,
        collection.track_count,
        collection.playlist_count,
        collection.remaining_track_count,
    )


def _one_playlist(body: bytes) -> WirePlaylist:
    items = decode_json(body, WirePlaylists).block.items
    if len(items) != 1:
        raise DecodeError(f"expected one playlist, got {len(items)}")
    return items[0]


def _track_page(block: WireTrackBlock, namespace: str, redact: Redact) -> Page[LibraryTrack]:
    return Page(
        [_track(item, namespace, redact) for item in block.items],
        block.continuation or None,
        block.total,
    )


def _playlist(raw: WirePlaylist, redact: Redact) -> Playlist:
    return scrub(Playlist(raw.id, raw.name, raw.track_count, raw.published), redact)


def _track(raw: WireTrack, namespace: str, redact: Redact) -> LibraryTrack:
    track = LibraryTrack(raw.id, catalog_id_from_link(namespace, raw.link), raw.name)
    return scrub(track, redact)
