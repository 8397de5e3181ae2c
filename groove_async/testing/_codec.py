"""The emulator's wire formats: reading a TrackActionRequest or a PlaylistAction, writing a
response object.

Written apart from the client's codec on purpose (nothing here comes from ``groove_async._wire``),
so that one misreading of the spec cannot hide in both sides. JSON is read and written with the
standard library; XML (spec section 6) with the emulator's own :mod:`._xml`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from ._xml import XML_CONTENT_TYPE, XmlRequestError, encode_xml
from ._xml import read_playlist_action as read_xml_action
from ._xml import read_track_ids as read_xml_ids

__all__ = [
    "HTML_CONTENT_TYPE",
    "INVALID",
    "JSON_CONTENT_TYPE",
    "MISSING",
    "XML_CONTENT_TYPE",
    "encode_body",
    "read_playlist_action",
    "read_track_ids",
    "wants_xml",
]

JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
HTML_CONTENT_TYPE: Final = "text/html; charset=utf-8"

MISSING: Final = "missing"
"""A request with no IDs: empty body, no ``TrackIds``, or an empty list (spec section 3.1)."""
INVALID: Final = "invalid"
"""A request body that is not a TrackActionRequest at all."""

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_XML_MEDIA_TYPES: Final = frozenset({"application/xml", "text/xml"})
_JSON_MEDIA_TYPES: Final = frozenset({"application/json", "text/json"})

# Non-ASCII goes out as UTF-8, as a .NET service writes it; the payloads are built by the
# emulator and hold no cycles.
_encode_json: Final = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode
_encode_json_ascii: Final = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def read_track_ids(body: bytes, content_type: str = "") -> tuple[list[str] | None, str | None]:
    """Read a TrackActionRequest (spec section 4): ``(ids, None)``, or ``(ids or None, problem)``.

    XML (spec section 6) when the ``Content-Type`` says so or the body starts with ``<``; JSON
    otherwise, as :func:`json.loads` reads it (a UTF-8 BOM, spec section 1, and UTF-16/32 are
    accepted). ``problem`` is :data:`MISSING` (no body, no ``TrackIds``, an empty list) or
    :data:`INVALID` (not a TrackActionRequest: ``TrackIds`` must be a list of strings), or, for
    an unreadable XML body, :data:`INVALID` followed by ``": "`` and what is wrong with it; the
    IDs are still returned when they were readable, for the request log.
    """
    stripped = body.strip()
    if not stripped:
        return None, MISSING
    if "xml" in content_type.lower() or _looks_like_xml(stripped):
        return _read_xml(body)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError
        return None, INVALID
    return track_ids_of(data)


def track_ids_of(data: object) -> tuple[list[str] | None, str | None]:
    """The ``TrackIds`` of a decoded JSON TrackActionRequest, as :func:`read_track_ids` says."""
    if type(data) is not dict:
        return None, INVALID
    ids = data.get("TrackIds")
    if ids is None:
        return None, MISSING
    if type(ids) is not list or not all(type(item) is str for item in ids):
        return None, INVALID
    if not ids:
        return ids, MISSING
    return ids, None


def read_playlist_action(body: bytes, content_type: str = "") -> dict[str, Any] | None:
    """Read a PlaylistAction (spec section 9.1) into its JSON members; ``None`` when the body is
    not one (not JSON, not an object, not a readable XML PlaylistAction).

    An empty body is an empty PlaylistAction (``{}``): what it lacks is judged by the service.
    XML (spec section 6) when the ``Content-Type`` says so or the body starts with ``<``.
    """
    stripped = body.strip()
    if not stripped:
        return {}
    if "xml" in content_type.lower() or _looks_like_xml(stripped):
        try:
            return read_xml_action(body)
        except XmlRequestError:
            return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if type(data) is dict else None


def _looks_like_xml(stripped: bytes) -> bool:
    if stripped.startswith(_UTF8_BOM):  # spec section 1: a body may start with a BOM
        stripped = stripped[len(_UTF8_BOM) :].lstrip()
    return stripped.startswith(b"<")


def _read_xml(body: bytes) -> tuple[list[str] | None, str | None]:
    try:
        ids = read_xml_ids(body)
    except XmlRequestError as exc:
        return None, f"{INVALID}: {exc}"  # what is wrong, for the answer to say
    if ids is None:
        return None, MISSING
    if not ids:
        return ids, MISSING
    return ids, None


def wants_xml(query: str, accept: str | None) -> bool:
    """Whether to answer in XML (spec section 1): ``?contentType=xml``, or ``Accept`` asks for it.

    ``contentType`` (for clients that cannot set headers) wins over ``Accept``. In ``Accept``
    the first JSON or XML media type listed decides; quality values are not weighed.

    Args:
        query: the query string of the request target, without the ``?``.
        accept: the ``Accept`` header, if any.
    """
    if query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name == "contentType":
                return value.lower() == "xml"
    if not accept:
        return False
    for part in accept.split(","):
        media = part.partition(";")[0].strip().lower()
        if media in _XML_MEDIA_TYPES:
            return True
        if media in _JSON_MEDIA_TYPES:
            return False
    return False


def encode_body(
    type_name: str, payload: Mapping[str, Any], *, xml: bool = False
) -> tuple[bytes, str]:
    """Encode a response object; returns ``(body, content type)``.

    ``type_name`` is the object's type (``TrackActionResponse``, ``UserProfileResponse``), the
    root element of the XML form (spec section 6); JSON does not use it.
    """
    if xml:
        return encode_xml(type_name, payload), XML_CONTENT_TYPE
    try:
        return _encode_json(payload).encode("utf-8"), JSON_CONTENT_TYPE
    except UnicodeEncodeError:  # a lone surrogate sent as "\ud800" comes back escaped
        return _encode_json_ascii(payload).encode("ascii"), JSON_CONTENT_TYPE
