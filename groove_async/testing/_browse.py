"""Reading the library back (spec section 9.2): browse, playlist lookup and sub-browse, profile.

* ``GET /1/content/music/collection/tracks/browse`` answers ``{"Tracks": Block}``, the library's
  tracks in the order they were added (a track deleted and added again comes last).
* ``GET /1/content/music/collection/playlists/browse`` answers ``{"Playlists": Block}``, the
  user's playlists newest first (an update does not move one).
* ``GET /1/content/{playlistId}/lookup?source=collection`` answers
  ``{"Playlists": {"Items": [Playlist]}}``. ``source=collection`` (value case-insensitive) is
  required: the emulator has no catalog to look anything else up in (400
  ``INVALID_INPUT_PARAMETER`` without it).
* ``GET /1/content/{playlistId}/collection/playlist/tracks/browse`` answers the same, the
  Playlist carrying ``"Tracks": Block`` with a page of its entries in playlist order; the
  member is omitted when that page is empty.
* ``GET /1/user/music/profile`` answers the profile (:func:`profile`).

``{playlistId}`` is either form of a playlist ID (spec 9.1); one that names none of the user's
playlists gets 404 ``COLLECTION_NO_RESULT``.

A Block is ``{"Items": [...], "ContinuationToken"?, "TotalItemCount"}``: ``ContinuationToken``
when more items follow the page, ``TotalItemCount`` always (the exact count). Paging
parameters (names case-insensitive): ``maxItems`` 1 to 25 (default 25; anything else, 0, 26 or
not a number, is 400 ``INVALID_INPUT_PARAMETER``); ``page``, zero-based, skips
``page * maxItems`` items (not a number: 400 ``INVALID_INPUT_PARAMETER``);
``continuationToken`` (empty: absent) is a stateless offset into the same list, which wins over
``page``: pages shift when the list changes between two reads (*inferred*); a token that is not
one this list gave, 400 ``CONTINUATION_TOKEN_INVALID_ERROR``. A page past the end has no items.

A Playlist is ``{"Id": browse form "music.AQ...", "Name", "TrackCount" (0 included),
"IsPublished", "UserIsOwner": true, "CollectionStateToken", "Link", "Source": "Collection"}``;
a Track ``{"Id": collection or entry ID, "Name", "Link", "Source": "Collection"}``. A Track's
``Link`` ends with its catalog GUID, lower-cased (``https://music.microsoft.com/Track/<guid>``),
which is how a client recovers the catalog ID: reads give it nowhere else. Its ``Name`` is made
up from the catalog ID, the same for the same track every time.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote

from ._bodies import MAX_PLAYLISTS, ErrorBodies
from ._catalog import parse_playlist_id
from ._http import Route
from ._state import PlaylistState, User

__all__ = ["MAX_ITEMS", "answer_read", "profile", "track_name"]

MAX_ITEMS: Final = 25
"""The most items a browse page holds, and the default (spec section 9.2)."""

_LINK_BASE: Final = "https://music.microsoft.com"
_PARTNER: Final = "?partnerID=AppId:0000000047524F56"
_PREFIX: Final = "music."
_NUMBER: Final = re.compile(r"[0-9]{1,9}")
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")
_GUID: Final = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")
_ADJECTIVES: Final = (
    "Amber", "Blue", "Broken", "Electric", "Golden", "Hollow", "Midnight", "Paper",
    "Quiet", "Restless", "Silver", "Slow", "Velvet", "Wild", "Winter", "Young",
)  # fmt: skip
_NOUNS: Final = (
    "Avenue", "Rain", "Echoes", "Fire", "Garden", "Harbor", "Horizon", "Lights",
    "Morning", "River", "Satellite", "Shadows", "Summer", "Thunder", "Tides", "Waves",
)  # fmt: skip

# What a read answers: the status and the body.
_Answer = tuple[int, Mapping[str, Any]]


def answer_read(found: Route, user: User, bodies: ErrorBodies, capacity: int) -> _Answer:
    """Answer a read of ``user``'s library (the request is authenticated already)."""
    params = _params(found.query)
    if found.endpoint == "profile":
        return 200, profile(user, capacity)
    if found.endpoint == "lookup":
        return _lookup(user, found.item, params, bodies)
    if found.endpoint == "playlist_tracks":
        return _playlist_tracks(user, found.item, params, bodies)
    if found.action == "tracks":
        paging = _paging(params, "tracks", bodies)
        if not isinstance(paging, tuple):
            return 400, paging
        size, offset = paging
        tracks = user.tracks()
        page = tracks[offset : offset + size]
        items = [track_item(collection_id, catalog_id) for catalog_id, collection_id in page]
        return 200, {"Tracks": _block(items, offset, len(tracks), "tracks")}
    paging = _paging(params, "playlists", bodies)
    if not isinstance(paging, tuple):
        return 400, paging
    size, offset = paging
    newest_first = list(reversed(user.playlists.values()))
    items = [playlist_object(p, user) for p in newest_first[offset : offset + size]]
    return 200, {"Playlists": _block(items, offset, len(newest_first), "playlists")}


def profile(user: User, capacity: int) -> dict[str, Any]:
    """``GET /1/user/music/profile`` (spec 9.2): the user's profile with its ``Collection``.

    ``Collection`` holds ``Token`` (the ``CollectionStateToken``), ``TrackCount``,
    ``PlaylistCount``, ``RemainingTrackCount`` and ``RemainingPlaylistCount``, the counts
    omitted when zero. The other members are the profile of a user without a subscription.
    """
    tracks, playlists = len(user.by_catalog), len(user.playlists)
    counts = {
        "TrackCount": tracks,
        "PlaylistCount": playlists,
        "RemainingTrackCount": max(0, capacity - tracks),
        "RemainingPlaylistCount": max(0, MAX_PLAYLISTS - playlists),
    }
    collection: dict[str, Any] = {"Token": user.state_token}
    collection.update((name, count) for name, count in counts.items() if count)
    return {
        "HasSubscription": False,
        "IsSubscriptionAvailableForPurchase": True,
        "Culture": "en-US",
        "Collection": collection,
    }


def _lookup(user: User, item: str, params: Mapping[str, str], bodies: ErrorBodies) -> _Answer:
    if params.get("source", "").lower() != "collection":
        return 400, bodies.invalid_input(
            "source=collection is required: only the collection's playlists can be looked up"
        )
    playlist = _find(user, item)
    if playlist is None:
        return 404, bodies.no_playlist
    return 200, {"Playlists": {"Items": [playlist_object(playlist, user)]}}


def _playlist_tracks(
    user: User, item: str, params: Mapping[str, str], bodies: ErrorBodies
) -> _Answer:
    guid = parse_playlist_id(item)
    scope = f"playlist:{guid}"
    paging = _paging(params, scope, bodies)
    if not isinstance(paging, tuple):
        return 400, paging
    playlist = user.playlists.get(guid) if guid is not None else None
    if playlist is None:
        return 404, bodies.no_playlist
    size, offset = paging
    entries = playlist.entries
    answer = playlist_object(playlist, user)
    items = [track_item(e, c) for e, c in entries[offset : offset + size]]
    if items:
        answer["Tracks"] = _block(items, offset, len(entries), scope)
    return 200, {"Playlists": {"Items": [answer]}}


def _find(user: User, item: str) -> PlaylistState | None:
    guid = parse_playlist_id(item)
    return user.playlists.get(guid) if guid is not None else None


# -- objects ----------------------------------------------------------------------------------


def playlist_object(playlist: PlaylistState, user: User) -> dict[str, Any]:
    """A Playlist as reads show it (spec 9.2), with the collection's state token."""
    snapshot = playlist.snapshot()
    return {
        "Id": snapshot.browse_id,
        "Name": playlist.name,
        "TrackCount": len(playlist.entries),
        "IsPublished": playlist.is_published,
        "UserIsOwner": True,
        "CollectionStateToken": user.state_token,
        "Link": f"{_LINK_BASE}/Playlist/{playlist.guid}{_PARTNER}",
        "Source": "Collection",
    }


def track_item(item_id: str, catalog_id: str) -> dict[str, Any]:
    """A Track of the library (collection ID) or of a playlist (entry ID), spec 9.2."""
    rest = catalog_id.removeprefix(_PREFIX)
    segment = rest.lower() if _GUID.fullmatch(rest) else quote(rest, safe="")
    return {
        "Id": item_id,
        "Name": track_name(catalog_id),
        "Link": f"{_LINK_BASE}/Track/{segment}{_PARTNER}",
        "Source": "Collection",
    }


def track_name(catalog_id: str) -> str:
    """The made-up name of a catalog track: two words picked by a hash of its ID."""
    digest = hashlib.blake2b(catalog_id.encode("utf-8", "surrogatepass"), digest_size=2).digest()
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]} {_NOUNS[digest[1] % len(_NOUNS)]}"


# -- paging -----------------------------------------------------------------------------------


def _params(query: str) -> dict[str, str]:
    """The query's parameters, names lower-cased; the first of a repeated one counts."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name.lower(), value)
    return params


def _paging(
    params: Mapping[str, str], scope: str, bodies: ErrorBodies
) -> tuple[int, int] | Mapping[str, Any]:
    """``(maxItems, offset)`` of a browse, or the body of the 400 that refuses it."""
    size = MAX_ITEMS
    raw_size = params.get("maxitems")
    if raw_size is not None:
        if not _NUMBER.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_ITEMS:
            return bodies.invalid_input(f"maxItems must be a number from 1 to {MAX_ITEMS}")
        size = int(raw_size)
    raw_page = params.get("page")
    page = 0
    if raw_page is not None:
        if not _NUMBER.fullmatch(raw_page):
            return bodies.invalid_input("page must be a number from 0")
        page = int(raw_page)
    token = params.get("continuationtoken")
    if token:
        offset = _offset_of(token, scope)
        if offset is None:
            return bodies.bad_continuation
        return size, offset
    return size, page * size


def _block(items: list[dict[str, Any]], offset: int, total: int, scope: str) -> dict[str, Any]:
    block: dict[str, Any] = {"Items": items}
    end = offset + len(items)
    if end < total:
        block["ContinuationToken"] = _token_for(scope, end)
    block["TotalItemCount"] = total
    return block


def _token_for(scope: str, offset: int) -> str:
    """The continuation token of ``offset`` in the list ``scope`` names: opaque to clients."""
    return base64.urlsafe_b64encode(f"{scope}:{offset}".encode()).decode("ascii").rstrip("=")


def _offset_of(token: str, scope: str) -> int | None:
    """The offset a continuation token of the list ``scope`` holds, or ``None``."""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    head, _, number = text.rpartition(":")
    if head != scope or not _NUMBER.fullmatch(number):
        return None
    offset = int(number)
    return offset if _token_for(scope, offset) == token else None
