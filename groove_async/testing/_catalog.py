"""ID shapes of the Groove catalog and of user collections (spec sections 3.1 and 7).

The emulator is an independent implementation of the server side: nothing here comes from the
client's modules, so a bug shared by both sides of a codec cannot hide.

* A catalog track ID is ``music.`` + an upper-case GUID ``XXXXXXXX-0100-11DB-89CA-0019B92A3933``;
  artists use ``-0200-`` and the documentation's "random, invalid" IDs are lower-case v4 GUIDs.
* The service normalises an input ID before echoing it as ``InputId``: when the part after
  ``music.`` is a GUID it is upper-cased, anything else comes back unchanged (spec section 3.1).
* A collection track ID is ``music.`` + URL-safe base64 without padding of 25 bytes:
  ``01 04 1F``, 16 random bytes, the catalog GUID's first 4 bytes reversed, ``00 01``. A
  playlist-entry ID has the same layout (spec section 9.1).
* A playlist ID comes in two forms carrying the same GUID (spec section 9.1): the edit form
  ``music.playlist.<lower-case guid>`` and the browse form ``music.`` + URL-safe base64 without
  padding of ``01 03`` and the GUID's 16 bytes in .NET order (``music.AQM...``).
"""

from __future__ import annotations

import base64
import random
import re
import uuid
from typing import Final

__all__ = [
    "COLLECTION_ID_LENGTH",
    "NAMESPACE",
    "catalog_track_id",
    "is_documented_track_id",
    "mint_collection_id",
    "mint_playlist_guid",
    "normalise_id",
    "parse_playlist_id",
    "playlist_browse_id",
    "playlist_edit_id",
]

NAMESPACE: Final = "music"
"""The only namespace of the service (spec section 1)."""

COLLECTION_ID_LENGTH: Final = 25
"""Bytes in a decoded collection track ID (spec section 7)."""

_PREFIX: Final = "music."
_PREFIX_LEN: Final = len(_PREFIX)
_GUID_LEN: Final = 36

_GUID_RE: Final = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)
# Applied to normalised IDs only, so the GUID is already upper-case (spec section 7).
_TRACK_ID_RE: Final = re.compile(r"music\.[0-9A-F]{8}-0100-11DB-89CA-0019B92A3933")

_COLLECTION_HEAD: Final = b"\x01\x04\x1f"
_COLLECTION_TAIL: Final = b"\x00\x01"
_NO_GUID: Final = b"\x00\x00\x00\x00"

_EDIT_PREFIX: Final = "music.playlist."
_BROWSE_HEAD: Final = b"\x01\x03"
_BROWSE_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{24}")
# The third group of the GUIDs of the documentation's playlists (``d7e2d6b8-8028-00fe-...``).
_PLAYLIST_GUID_GROUP: Final = 0x00FE
_GROUP_SHIFT: Final = 64


def normalise_id(raw: str) -> str:
    """Return an input ID the way the service echoes it in ``InputId`` (spec section 3.1).

    Args:
        raw: an ID as the client sent it.

    Returns:
        ``raw`` with the part after ``music.`` upper-cased when that part is a GUID, else ``raw``
        unchanged (collection IDs are case-sensitive base64 and are never touched).
    """
    if (
        len(raw) == _PREFIX_LEN + _GUID_LEN
        and raw.startswith(_PREFIX)
        and _GUID_RE.fullmatch(raw, _PREFIX_LEN)
    ):
        return _PREFIX + raw[_PREFIX_LEN:].upper()
    return raw


def catalog_track_id(n: int) -> str:
    """Return the ``n``-th catalog track ID of the documented shape (spec section 7).

    With the default catalog of :class:`~groove_async.testing.FakeGrooveServer` every such ID
    exists, which makes this the easy way to produce valid test data::

        ids = [catalog_track_id(i) for i in range(250)]

    Args:
        n: a number from 0 to 2**32 - 1; it becomes the first 8 hex digits of the GUID.

    Returns:
        ``music.{n:08X}-0100-11DB-89CA-0019B92A3933``.

    Raises:
        ValueError: ``n`` does not fit in 32 bits.
    """
    if not 0 <= n <= 0xFFFFFFFF:
        raise ValueError(f"n must be between 0 and 2**32 - 1, got {n}")
    return f"music.{n:08X}-0100-11DB-89CA-0019B92A3933"


def is_documented_track_id(normalised: str) -> bool:
    """Tell whether a normalised ID has the documented catalog track shape (spec section 7).

    Args:
        normalised: an ID as returned by :func:`normalise_id`.

    Returns:
        True for ``music.XXXXXXXX-0100-11DB-89CA-0019B92A3933``; False for artists (``-0200-``),
        random GUIDs and anything else.
    """
    return _TRACK_ID_RE.fullmatch(normalised) is not None


def mint_collection_id(rng: random.Random, catalog_id: str) -> str:
    """Mint a new collection track ID for a catalog ID (spec section 7).

    Args:
        rng: the server's seeded generator; it supplies the 16 random bytes, so a given seed and
            request sequence always mints the same IDs.
        catalog_id: the normalised catalog ID being added. When it is not ``music.`` + GUID (a
            custom catalog may hold any string) the 4 GUID bytes are zeros.

    Returns:
        ``music.`` + URL-safe base64 without padding of the 25-byte layout
        ``01 04 1F | 16 random bytes | GUID bytes 0-3 reversed | 00 01``.
    """
    random_bytes = rng.getrandbits(128).to_bytes(16, "little")  # what Random.randbytes(16) does
    return encode_collection_id(random_bytes, guid_head(catalog_id))


def guid_head(catalog_id: str) -> bytes:
    """The first 4 bytes of a catalog ID's GUID, reversed, as a collection ID holds them.

    Zeros when the ID is not ``music.`` + GUID (a custom catalog may hold any string).
    """
    if catalog_id.startswith(_PREFIX) and _GUID_RE.fullmatch(catalog_id, _PREFIX_LEN):
        # The GUID's first 4 bytes are its first 8 hex digits, big-endian.
        return bytes.fromhex(catalog_id[_PREFIX_LEN : _PREFIX_LEN + 8])[::-1]
    return _NO_GUID


def encode_collection_id(random_bytes: bytes, reversed_guid_head: bytes) -> str:
    """``music.`` + the unpadded URL-safe base64 of the 25-byte collection ID layout."""
    raw = _COLLECTION_HEAD + random_bytes + reversed_guid_head + _COLLECTION_TAIL
    return _PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


# -- playlist IDs (spec section 9.1) ---------------------------------------------------------


def mint_playlist_guid(rng: random.Random) -> uuid.UUID:
    """Mint a new playlist's GUID: 128 random bits from the server's seeded generator, the third
    group set to ``00fe`` as in every playlist GUID the documentation shows."""
    bits = rng.getrandbits(128) & ~(0xFFFF << _GROUP_SHIFT)
    return uuid.UUID(int=bits | (_PLAYLIST_GUID_GROUP << _GROUP_SHIFT))


def playlist_edit_id(guid: uuid.UUID) -> str:
    """The edit form of a playlist ID: ``music.playlist.<lower-case guid>`` (spec 9.1)."""
    return f"{_EDIT_PREFIX}{guid}"


def playlist_browse_id(guid: uuid.UUID) -> str:
    """The browse form of a playlist ID (spec 9.1): ``music.`` + URL-safe base64 without
    padding of ``01 03`` and the GUID's 16 bytes in .NET order (``music.AQM...``)."""
    raw = _BROWSE_HEAD + guid.bytes_le
    return _PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_playlist_id(raw: str) -> uuid.UUID | None:
    """The GUID a playlist ID of either form carries (spec 9.1), or ``None`` for anything else.

    The edit form's GUID is read case-insensitively; the browse form must be exactly the
    24 characters that encode ``01 03`` and 16 bytes (so ``music.AQQ...``, a collection ID, is
    not one).
    """
    if raw.startswith(_EDIT_PREFIX):
        guid = raw[len(_EDIT_PREFIX) :]
        if len(guid) == _GUID_LEN and _GUID_RE.fullmatch(guid):
            return uuid.UUID(guid)
        return None
    if not (raw.startswith(_PREFIX) and _BROWSE_ID_RE.fullmatch(raw, _PREFIX_LEN)):
        return None
    decoded = base64.urlsafe_b64decode(raw[_PREFIX_LEN:])  # 24 characters: exactly 18 bytes
    if not decoded.startswith(_BROWSE_HEAD):
        return None
    return uuid.UUID(bytes_le=decoded[len(_BROWSE_HEAD) :])
