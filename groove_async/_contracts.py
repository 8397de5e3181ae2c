"""The wire types and the one table of their wire names (spec sections 4 and 6).

Nothing else in the package spells ``TrackActionResults``: the converter of
:mod:`groove_async._wire` and the XML schema below are both derived from :data:`CONTRACTS` (one
entry per wire type: its DataContract name and its member names) and the attrs field types.
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
    "Contract",
    "Member",
    "WireItem",
    "WireRequest",
    "WireResponse",
]


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
}


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


SHAPES: Final[Mapping[type, Mapping[str, Member]]] = {cls: _schema(cls) for cls in CONTRACTS}

RESPONSE_ROOTS: Final[Mapping[str, type]] = {CONTRACTS[WireResponse].name: WireResponse}
REQUEST_ROOTS: Final[Mapping[str, type]] = {CONTRACTS[WireRequest].name: WireRequest}
# A whole-request error document: the response type holding only Error, or (other endpoints,
# filters in front of the service) an ErrorResponse with the same Error member.
ERROR_ROOTS: Final[Mapping[str, type]] = {**RESPONSE_ROOTS, "ErrorResponse": WireResponse}
