"""ID shapes of the Groove catalog and of user collections (spec sections 3.1 and 7).

The emulator is an independent implementation of the server side: nothing here comes from the
client's modules, so a bug shared by both sides of a codec cannot hide.

* A catalog track ID is ``music.`` + an upper-case GUID ``XXXXXXXX-0100-11DB-89CA-0019B92A3933``;
  artists use ``-0200-`` and the documentation's "random, invalid" IDs are lower-case v4 GUIDs.
* The service normalises an input ID before echoing it as ``InputId``: when the part after
  ``music.`` is a GUID it is upper-cased, anything else comes back unchanged (spec section 3.1).
* A collection track ID is ``music.`` + URL-safe base64 without padding of 25 bytes:
  ``01 04 1F``, 16 random bytes, the catalog GUID's first 4 bytes reversed, ``00 01``.
"""

from __future__ import annotations

import binascii
import random
import re
from collections.abc import Set
from typing import Final

__all__ = [
    "COLLECTION_ID_LENGTH",
    "NAMESPACE",
    "are_documented_track_ids",
    "catalog_track_id",
    "is_documented_track_id",
    "mint_collection_id",
    "mint_collection_ids",
    "normalise_id",
]

NAMESPACE: Final = "music"
"""The only namespace of the service (spec section 1)."""

_PREFIX: Final = "music."
_PREFIX_LEN: Final = len(_PREFIX)
_GUID_LEN: Final = 36

_GUID_RE: Final = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)
# Applied to normalised IDs only, so the GUID is already upper-case (spec section 7).
_TRACK_ID_RE: Final = re.compile(r"music\.[0-9A-F]{8}-0100-11DB-89CA-0019B92A3933")
# The same shape, each ID followed by "\n": one match checks a whole request's IDs.
_TRACK_ID_LINES_RE: Final = re.compile(r"(?:music\.[0-9A-F]{8}-0100-11DB-89CA-0019B92A3933\n)*")
_TRACK_ID_LINE_LEN: Final = _PREFIX_LEN + _GUID_LEN + 1

_COLLECTION_HEAD: Final = b"\x01\x04\x1f"
_COLLECTION_TAIL: Final = b"\x00\x01"
_NO_GUID: Final = b"\x00\x00\x00\x00"
_URL_SAFE: Final = bytes.maketrans(b"+/", b"-_")
# A 25-byte ID plus 2 zero bytes is 27 bytes, 36 base64 characters without padding whose first
# 34 are the ID's own unpadded base64: IDs laid end to end encode in one call (_encode_many).
_RECORD_LEN: Final = 27
_ENCODED_RECORD_LEN: Final = 36
_ENCODED_ID_LEN: Final = 34

COLLECTION_ID_LENGTH: Final = 25
"""Bytes in a decoded collection track ID (spec section 7)."""


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


def are_documented_track_ids(ids: list[str]) -> bool:
    """Tell whether every ID is already normalised and of the documented catalog track shape.

    Equivalent to ``all(normalise_id(i) == i and is_documented_track_id(i) for i in ids)``, in
    one regex match over the joined IDs.
    """
    joined = "\n".join(ids) + "\n"
    # The pattern puts a "\n" exactly every 43 characters; with this length the only ones are
    # the separators, so no ID can smuggle a newline (or a second ID) into the match.
    return (
        len(joined) == _TRACK_ID_LINE_LEN * len(ids)
        and _TRACK_ID_LINES_RE.fullmatch(joined) is not None
    )


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
    # what Random.randbytes(16) does
    return _encode_one(rng.getrandbits(128).to_bytes(16, "little"), catalog_id)


def _encode_one(random_bytes: bytes, catalog_id: str) -> str:
    if catalog_id.startswith(_PREFIX) and _GUID_RE.fullmatch(catalog_id, _PREFIX_LEN):
        # The GUID's first 4 bytes (its first 8 hex digits, big-endian) reversed.
        guid_head = int(catalog_id[_PREFIX_LEN : _PREFIX_LEN + 8], 16).to_bytes(4, "little")
    else:
        guid_head = _NO_GUID
    raw = _COLLECTION_HEAD + random_bytes + guid_head + _COLLECTION_TAIL
    # 25 bytes -> 36 base64 characters whose last 2 are "=" padding.
    encoded = binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE)[:-2]
    return _PREFIX + encoded.decode("ascii")


def mint_collection_ids(rng: random.Random, catalog_ids: list[str], taken: Set[str]) -> list[str]:
    """Mint new collection IDs for several catalog IDs at once, as the server's bulk add does.

    The result, and the generator's state afterwards, are exactly those of calling
    :func:`mint_collection_id` for each catalog ID in order and minting again whenever the new ID
    is in ``taken`` or was minted earlier in the same call; only cheaper.

    Args:
        rng: the server's seeded generator.
        catalog_ids: distinct IDs, each of the documented track shape
            (:func:`are_documented_track_ids`).
        taken: the collection IDs already in use.

    Returns:
        One new collection ID per catalog ID, in order.
    """
    count = len(catalog_ids)
    if not count:
        return []
    # getrandbits fills 32-bit words from the least significant up, so this is the 16-byte draws
    # of `count` getrandbits(128) calls laid end to end.
    random_bytes = rng.getrandbits(128 * count).to_bytes(16 * count, "little")
    minted = _encode_many(random_bytes, catalog_ids)
    unique = set(minted)
    if len(unique) == count and taken.isdisjoint(unique):
        return minted
    # A collision (128 random bits: never): replay one draw per attempt, as the one-by-one path
    # would, taking the draws already made first.
    out: list[str] = []
    mine: set[str] = set()
    draw = 0
    for catalog_id in catalog_ids:
        while True:
            if draw < count:
                chunk = random_bytes[16 * draw : 16 * draw + 16]
            else:
                chunk = rng.getrandbits(128).to_bytes(16, "little")
            draw += 1
            new_id = _encode_one(chunk, catalog_id)
            if new_id not in taken and new_id not in mine:
                break
        mine.add(new_id)
        out.append(new_id)
    return out


def _encode_many(random_bytes: bytes, catalog_ids: list[str]) -> list[str]:
    """``_encode_one`` for each catalog ID (documented track shape) and its 16 random bytes."""
    count = len(catalog_ids)
    # Each record: 01 04 1F | 16 random bytes | GUID bytes 0-3 reversed | 00 01 | 00 00, filled
    # one byte column at a time with strided slices.
    records = bytearray(_RECORD_LEN * count)
    records[0::_RECORD_LEN] = b"\x01" * count
    records[1::_RECORD_LEN] = b"\x04" * count
    records[2::_RECORD_LEN] = b"\x1f" * count
    for column in range(16):
        records[3 + column :: _RECORD_LEN] = random_bytes[column::16]
    heads = bytes.fromhex("".join([i[_PREFIX_LEN : _PREFIX_LEN + 8] for i in catalog_ids]))
    for column in range(4):
        records[19 + column :: _RECORD_LEN] = heads[3 - column :: 4]
    records[24::_RECORD_LEN] = b"\x01" * count
    encoded = binascii.b2a_base64(records, newline=False).translate(_URL_SAFE).decode("ascii")
    return [
        _PREFIX + encoded[start : start + _ENCODED_ID_LEN]
        for start in range(0, _ENCODED_RECORD_LEN * count, _ENCODED_RECORD_LEN)
    ]
