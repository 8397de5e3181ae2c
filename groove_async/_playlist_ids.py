"""The two forms of a playlist ID and the identity they share (spec 9.1).

A playlist's edit form is ``{namespace}.playlist.<guid>`` (what an edit answers, so what
``create_playlist`` returns); its browse form is ``{namespace}.AQM...`` (what a read lists):
URL-safe base64, unpadded, of ``01 03`` and the GUID's 16 bytes in .NET order. Both carry the
same GUID, which is the playlist's identity (:func:`playlist_guid`, lower-case). Stdlib only, so
that the public values of :mod:`groove_async._models` can offer every form.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Final

__all__ = ["browse_playlist_id", "edit_playlist_id", "playlist_guid"]

_EDIT_PREFIX: Final = "playlist."
_GUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_BROWSE_HEADER: Final = b"\x01\x03"


def playlist_guid(playlist_id: str) -> str | None:
    """The lower-case GUID either form of a playlist ID carries, or ``None`` for another shape."""
    _namespace, dot, rest = playlist_id.partition(".")
    if not dot:
        return None
    if rest.startswith(_EDIT_PREFIX):
        guid = rest.removeprefix(_EDIT_PREFIX)
        return guid.lower() if _GUID_RE.fullmatch(guid) else None
    try:
        raw = base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != 18 or not raw.startswith(_BROWSE_HEADER):
        return None
    return str(uuid.UUID(bytes_le=raw[2:]))


def edit_playlist_id(namespace: str, playlist_id: str) -> str:
    """The edit form ``{namespace}.playlist.<lower-case guid>`` of either form of a playlist ID.

    Anything else is returned as it is: the service judges it.
    """
    if not playlist_id.startswith(f"{namespace}."):
        return playlist_id
    guid = playlist_guid(playlist_id)
    return playlist_id if guid is None else f"{namespace}.{_EDIT_PREFIX}{guid}"


def browse_playlist_id(namespace: str, playlist_id: str) -> str:
    """The browse form ``{namespace}.AQM...`` of either form of a playlist ID.

    Anything else is returned as it is: the service judges it.
    """
    if not playlist_id.startswith(f"{namespace}."):
        return playlist_id
    guid = playlist_guid(playlist_id)
    if guid is None:
        return playlist_id
    raw = _BROWSE_HEADER + uuid.UUID(guid).bytes_le
    return f"{namespace}." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
