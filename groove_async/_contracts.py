"""The wire types and the one table of their wire names (spec sections 4, 6 and 9).

Nothing else in the package spells a wire member's name: the converter of
:mod:`groove_async._wire` and the XML schema below are both derived from :data:`CONTRACTS` (one
entry per wire type: its DataContract name and its member names) and the attrs field types.
Section 9 (playlists, browses, lookups, the profile) is JSON only: its types are in the table
for the converter, not in the XML schema (:data:`XML_TYPES`).

The attrs field types say what a member must be: a ``str`` is a string (never a number read as
one), an ``int`` a JSON integer (never a bool), a validated count is ``>= 0``, and an ``Id`` that
names something is not empty. Anything else fails to structure, which the readers turn into a
:class:`~groove_async.DecodeError`.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

import attrs

from ._models import ErrorInfo

__all__ = [
    "CONTRACTS",
    "ERROR_ROOTS",
    "OBJECT",
    "OBJECTS",
    "REQUEST_ROOTS",
    "RESPONSE_ROOTS",
    "SHAPES",
    "STRINGS",
    "TEXT",
    "TRACK_ACTION_ADD",
    "XML_TYPES",
    "Contract",
    "Member",
    "WireCollection",
    "WireEditAnswer",
    "WireEditResult",
    "WireItem",
    "WirePlaylist",
    "WirePlaylistAction",
    "WirePlaylistBlock",
    "WirePlaylists",
    "WireProfile",
    "WireRequest",
    "WireResponse",
    "WireTrack",
    "WireTrackAction",
    "WireTrackBlock",
    "WireTracks",
]

#: The ``Action`` of a playlist edit's Add (spec 9.1; Delete and Move are not sent).
TRACK_ACTION_ADD: Final = "Add"

_count: Final[Any] = attrs.validators.ge(0)
_named: Final[Any] = attrs.validators.min_len(1)


@attrs.frozen(slots=True)
class WireItem:
    """One TrackActionResult as the service sent it (``InputId`` is the service's echo)."""

    input_id: str
    id: str | None = None
    error: ErrorInfo | None = None


@attrs.frozen(slots=True)
class WireResponse:
    """A TrackActionResponse. ``results`` is ``None`` when the member was absent."""

    results: list[WireItem] | None = None
    error: ErrorInfo | None = None


@attrs.frozen(slots=True)
class WireRequest:
    """A TrackActionRequest."""

    track_ids: Sequence[str]


# -- section 9: playlists and the library read back (JSON only) -------------------------------


@attrs.frozen(slots=True)
class WireTrackAction:
    """One action of a PlaylistAction (spec 9.1)."""

    id: str
    action: str = TRACK_ACTION_ADD


@attrs.frozen(slots=True)
class WirePlaylistAction:
    """A PlaylistAction: the body of a create, update or delete (spec 9.1)."""

    id: str | None = None
    state_token: str | None = None
    name: str | None = None
    published: bool | None = None
    actions: list[WireTrackAction] | None = None


@attrs.frozen(slots=True)
class WireEditResult:
    """A PlaylistActionResult; ``results`` (one per action sent) is ``None`` when absent."""

    id: str = attrs.field(validator=_named)
    name: str | None = None
    published: bool | None = None
    results: list[WireItem] | None = None


@attrs.frozen(slots=True)
class WireEditAnswer:
    """The 200 answer to a PlaylistAction."""

    result: WireEditResult
    error: ErrorInfo | None = None


@attrs.frozen(slots=True)
class WireTrack:
    """A track item of a browse: a library track or a playlist entry (spec 9.2)."""

    id: str = attrs.field(validator=_named)
    name: str | None = None
    link: str | None = None


@attrs.frozen(slots=True)
class WireTrackBlock:
    """A page of track items, its continuation token and the (estimated) total."""

    items: list[WireTrack] = attrs.Factory(list)
    continuation: str | None = None
    total: int | None = attrs.field(default=None, validator=attrs.validators.optional(_count))


@attrs.frozen(slots=True)
class WirePlaylist:
    """A Playlist object (spec 9.2); ``tracks`` only in a sub-browse (omitted when empty)."""

    id: str = attrs.field(validator=_named)
    name: str = ""
    track_count: int = attrs.field(default=0, validator=_count)
    published: bool | None = None
    state_token: str | None = None
    tracks: WireTrackBlock | None = None


@attrs.frozen(slots=True)
class WirePlaylistBlock:
    """A page of playlists, its continuation token and the (estimated) total."""

    items: list[WirePlaylist] = attrs.Factory(list)
    continuation: str | None = None
    total: int | None = attrs.field(default=None, validator=attrs.validators.optional(_count))


@attrs.frozen(slots=True)
class WireTracks:
    """A browse of the library's tracks."""

    block: WireTrackBlock


@attrs.frozen(slots=True)
class WirePlaylists:
    """A browse of the playlists, a lookup, or a sub-browse (one playlist holding a page)."""

    block: WirePlaylistBlock


@attrs.frozen(slots=True)
class WireCollection:
    """The profile's ``Collection`` (zero counts are omitted, spec 9.2)."""

    token: str | None = None
    track_count: int = attrs.field(default=0, validator=_count)
    playlist_count: int = attrs.field(default=0, validator=_count)
    remaining_track_count: int = attrs.field(default=0, validator=_count)


@attrs.frozen(slots=True)
class WireProfile:
    """The user's profile: only its ``Collection`` is read."""

    collection: WireCollection | None = None


@attrs.frozen(slots=True)
class Contract:
    """A wire type: its DataContract name (XML root or list item element) and its members."""

    name: str
    members: Mapping[str, str]  # Python field -> wire member


# The one table of wire names (spec sections 4 and 6), in dependency order: a type's hooks are
# generated after those of the types it holds. The converter and the XML schema both come from it.
CONTRACTS: Final[Mapping[type, Contract]] = {
    ErrorInfo: Contract(
        "Error", {"code": "ErrorCode", "description": "Description", "message": "Message"}
    ),
    WireItem: Contract("TrackActionResult", {"input_id": "InputId", "id": "Id", "error": "Error"}),
    WireResponse: Contract(
        "TrackActionResponse", {"results": "TrackActionResults", "error": "Error"}
    ),
    WireRequest: Contract("TrackActionRequest", {"track_ids": "TrackIds"}),
    # Section 9 (JSON only; the names are the members' wire names, no XML root is written).
    WireTrackAction: Contract("TrackAction", {"id": "Id", "action": "Action"}),
    WirePlaylistAction: Contract(
        "PlaylistAction",
        {
            "id": "Id",
            "state_token": "CollectionStateToken",
            "name": "Name",
            "published": "IsPublished",
            "actions": "TrackActions",
        },
    ),
    WireEditResult: Contract(
        "PlaylistActionResult",
        {"id": "Id", "name": "Name", "published": "IsPublished", "results": "TrackActionResults"},
    ),
    WireEditAnswer: Contract(
        "PlaylistActionResponse", {"result": "PlaylistActionResult", "error": "Error"}
    ),
    WireTrack: Contract("Track", {"id": "Id", "name": "Name", "link": "Link"}),
    WireTrackBlock: Contract(
        "Tracks",
        {"items": "Items", "continuation": "ContinuationToken", "total": "TotalItemCount"},
    ),
    WirePlaylist: Contract(
        "Playlist",
        {
            "id": "Id",
            "name": "Name",
            "track_count": "TrackCount",
            "published": "IsPublished",
            "state_token": "CollectionStateToken",
            "tracks": "Tracks",
        },
    ),
    WirePlaylistBlock: Contract(
        "Playlists",
        {"items": "Items", "continuation": "ContinuationToken", "total": "TotalItemCount"},
    ),
    WireTracks: Contract("TracksBrowse", {"block": "Tracks"}),
    WirePlaylists: Contract("PlaylistsBrowse", {"block": "Playlists"}),
    WireCollection: Contract(
        "Collection",
        {
            "token": "Token",
            "track_count": "TrackCount",
            "playlist_count": "PlaylistCount",
            "remaining_track_count": "RemainingTrackCount",
        },
    ),
    WireProfile: Contract("Profile", {"collection": "Collection"}),
}

#: The types with an XML form (spec section 6): section 4's. Section 9 is JSON only.
XML_TYPES: Final = (ErrorInfo, WireItem, WireResponse, WireRequest)


# -- the XML schema, derived from the contracts and the attrs field types --------------------------

TEXT: Final = "text"
OBJECT: Final = "object"
STRINGS: Final = "strings"  # WCF List<string>: items are d2p1:string in the Arrays namespace
OBJECTS: Final = "objects"  # a wrapper holding one element per item, named after the item type


@attrs.frozen(slots=True)
class Member:
    """How one wire member looks in XML: its kind and, for objects, the attrs class held."""

    kind: str
    cls: type | None = None


def _member_shape(annotation: Any) -> Member:
    if get_origin(annotation) in (Union, types.UnionType):  # X | None: absent members are omitted
        (annotation,) = (arg for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) in (list, Sequence):
        (item,) = get_args(annotation)
        if item is str:
            return Member(STRINGS)
        if item in CONTRACTS:
            return Member(OBJECTS, item)
    elif annotation in CONTRACTS:
        return Member(OBJECT, annotation)
    elif annotation is str:
        return Member(TEXT)
    raise TypeError(f"no XML rule for a member of type {annotation!r}")  # pragma: no cover


def _schema(cls: type) -> Mapping[str, Member]:
    hints = get_type_hints(cls)
    return {wire: _member_shape(hints[name]) for name, wire in CONTRACTS[cls].members.items()}


SHAPES: Final[Mapping[type, Mapping[str, Member]]] = {cls: _schema(cls) for cls in XML_TYPES}

RESPONSE_ROOTS: Final[Mapping[str, type]] = {CONTRACTS[WireResponse].name: WireResponse}
REQUEST_ROOTS: Final[Mapping[str, type]] = {CONTRACTS[WireRequest].name: WireRequest}
# A whole-request error document: the response type holding only Error, or (other endpoints,
# filters in front of the service) an ErrorResponse with the same Error member.
ERROR_ROOTS: Final[Mapping[str, type]] = {**RESPONSE_ROOTS, "ErrorResponse": WireResponse}
