"""Bulk versions of the emulator's ID helpers, for the benchmarks' server (``_bench_server``).

The emulator (:mod:`groove_async.testing._catalog`) checks and mints IDs one at a time, as the
contract reads (spec section 7). The benchmarks push thousands of requests per second through
a server, whose CPU per request is part of what they measure, so their server does a whole
request's IDs in a handful of C-level operations on joined buffers (strided ``memoryview``
copies, one base64 call, one split) instead of a Python loop per ID. Each function here gives
exactly what its one-by-one definition gives, and draws exactly the same random numbers:
``tests/emulator/test_bench_server_equivalence.py`` holds them to it.
"""

from __future__ import annotations

import array
import binascii
import random
from collections.abc import Set
from typing import Final

from groove_async.testing._catalog import (
    catalog_track_id,
    encode_collection_id,
    guid_head,
)

__all__ = [
    "are_documented_track_ids",
    "documented_heads",
    "documented_owner",
    "mint_collection_ids",
]

_PREFIX: Final = "music."
_PREFIX_LEN: Final = len(_PREFIX)
_TRACK_SUFFIX: Final = "-0100-11DB-89CA-0019B92A3933"
_FROM_URL_SAFE: Final = str.maketrans("-_", "+/")
_COLLECTION_HEAD: Final = b"\x01\x04\x1f"
_COLLECTION_TAIL: Final = b"\x00\x01"
_ENCODED_ID_LEN: Final = 34
_COLLECTION_ID_STR_LEN: Final = _PREFIX_LEN + _ENCODED_ID_LEN

# documented_heads lays the IDs out 48 characters apart, after 2 newlines and separated by 6, so
# that each ID's 8 leading hex digits fill one aligned 8-byte word: word 1 of every 6.
_HEADS_LEAD: Final = "\n\n"
_HEADS_GAP: Final = "\n" * 6
_HEADS_TAIL: Final = "\n" * 12
_HEADS_STRIDE: Final = 48
_HEADS_WORDS: Final = _HEADS_STRIDE // 8
_HEADS_TEMPLATES: dict[int, bytes] = {}


# _encode_documented: each 25-byte ID padded to a 48-byte record (64 base64 characters, the first
# 34 the ID's own unpadded base64), records 8-byte aligned from offset 5 of the buffer so that
# the 16 random bytes are words 1 and 2 of the record and the reversed GUID bytes half of word 3.
_RECORD: Final = _COLLECTION_HEAD + bytes(20) + _COLLECTION_TAIL + bytes(23)
_RECORD_LEN: Final = len(_RECORD)
_RECORD_WORDS: Final = _RECORD_LEN // 8
_ENCODED_RECORD_LEN: Final = _RECORD_LEN // 3 * 4
_RECORD_OFFSET: Final = 5
_RANDOM_WORD: Final = (_RECORD_OFFSET + 3) // 8  # in the buffer seen as 8-byte words
_HEAD_WORD: Final = (_RECORD_OFFSET + 19) // 4  # in the buffer seen as 4-byte words
# After the "music." words are put in, each ID's 34 characters are followed by 24 "A"s (the
# base64 of zero bytes) up to the next "music.": _encode_documented splits there.
_RECORD_GAP: Final = "A" * (_ENCODED_RECORD_LEN - _COLLECTION_ID_STR_LEN)
_MINT_BUFFERS: dict[int, tuple[bytes, memoryview]] = {}


def are_documented_track_ids(ids: list[str]) -> bool:
    """Tell whether every ID is already normalised and of the documented catalog track shape.

    Equivalent to ``all(normalise_id(i) == i and is_documented_track_id(i) for i in ids)``; see
    :func:`documented_heads`.
    """
    return documented_heads(ids) is not None


def documented_heads(ids: list[str]) -> bytes | None:
    """The first 4 bytes of each ID's GUID, when every ID is a normalised documented track ID.

    Args:
        ids: strings.

    Returns:
        ``None`` unless ``all(normalise_id(i) == i and is_documented_track_id(i) for i in ids)``;
        else the bytes of each ID's 8 leading hex digits, 4 per ID, in order (big-endian: the
        digits as written). ``b""`` for no IDs.
    """
    count = len(ids)
    if not count:
        return b""
    try:
        laid_out = (_HEADS_LEAD + _HEADS_GAP.join(ids) + _HEADS_TAIL).encode("ascii")
    except UnicodeEncodeError:
        return None
    template = _HEADS_TEMPLATES.get(count)
    if template is None:
        template = _HEADS_TEMPLATES[count] = (
            _HEADS_LEAD + _HEADS_GAP.join([catalog_track_id(0)] * count) + _HEADS_TAIL
        ).encode("ascii")
    if len(laid_out) != len(template):
        return None
    # Copy the 8 hex digits of each would-be ID into the template: if that gives the laid-out
    # IDs back, every character outside them is the template's. The newlines are then exactly
    # the template's (hex digits hold none), so they sit where the separators were put: no ID is
    # empty, none holds a newline, each is 42 characters long and is "music." + 8 characters +
    # the documented suffix.
    digits = memoryview(laid_out).cast("Q")[1::_HEADS_WORDS]
    rebuilt = bytearray(template)
    memoryview(rebuilt).cast("Q")[1::_HEADS_WORDS] = digits
    if rebuilt != laid_out:
        return None
    hex_digits = digits.tobytes()
    if hex_digits.upper() != hex_digits:  # a normalised GUID is upper-case
        return None
    try:
        return binascii.a2b_hex(hex_digits)  # strict: only hex digits
    except binascii.Error:
        return None


def documented_owner(collection_id: str) -> str | None:
    """The documented catalog track ID a collection ID was minted for, if it was minted for one.

    A collection ID holds the first 4 bytes of its catalog ID's GUID, and a documented track ID
    is that GUID head and a constant (spec section 7), so this is a candidate only: the caller
    checks the collection. ``None`` when ``collection_id`` does not have the collection ID shape.

    Args:
        collection_id: any string.

    Returns:
        ``music.XXXXXXXX-0100-11DB-89CA-0019B92A3933`` with the GUID head the ID holds, or None.
    """
    if len(collection_id) != _COLLECTION_ID_STR_LEN or not collection_id.startswith(_PREFIX):
        return None
    # Characters 24-31 of the base64 are bytes 18-23: a random byte, the 4 reversed GUID bytes
    # and 00.
    group = collection_id[_PREFIX_LEN + 24 : _PREFIX_LEN + 32].translate(_FROM_URL_SAFE)
    try:
        raw = binascii.a2b_base64(group.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    if len(raw) != 6:
        return None
    return f"music.{int.from_bytes(raw[1:5], 'little'):08X}{_TRACK_SUFFIX}"


def mint_collection_ids(
    rng: random.Random, catalog_ids: list[str], taken: Set[str], heads: bytes | None = None
) -> list[str]:
    """Mint new collection IDs for several catalog IDs at once, as the server's bulk add does.

    The result, and the generator's state afterwards, are exactly those of calling
    :func:`mint_collection_id` for each catalog ID in order and minting again whenever the new ID
    is in ``taken`` or was minted earlier in the same call; only cheaper. (Distinct documented
    IDs hold distinct GUID heads, so IDs minted for them in one call never repeat.)

    Args:
        rng: the server's seeded generator.
        catalog_ids: distinct IDs, each of the documented track shape
            (:func:`are_documented_track_ids`).
        taken: the collection IDs already in use.
        heads: ``documented_heads(catalog_ids)`` when the caller has it.

    Returns:
        One new collection ID per catalog ID, in order.

    Raises:
        ValueError: an ID is not of the documented track shape.
    """
    count = len(catalog_ids)
    if not count:
        return []
    if heads is None:
        heads = documented_heads(catalog_ids)
        if heads is None:
            raise ValueError("mint_collection_ids takes documented track IDs only")
    # getrandbits fills 32-bit words from the least significant up, so this is the 16-byte draws
    # of `count` getrandbits(128) calls laid end to end.
    random_bytes = rng.getrandbits(128 * count).to_bytes(16 * count, "little")
    minted = _encode_documented(random_bytes, heads, count)
    if not taken or taken.isdisjoint(minted):
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
            new_id = encode_collection_id(chunk, guid_head(catalog_id))
            if new_id not in taken and new_id not in mine:
                break
        mine.add(new_id)
        out.append(new_id)
    return out


def _encode_documented(random_bytes: bytes, heads: bytes, count: int) -> list[str]:
    """``_encode_one`` for each documented catalog ID (given by its GUID head) and its 16 bytes."""
    buffers = _MINT_BUFFERS.get(count)
    if buffers is None:
        # Zero bytes around the records keep the buffer a whole number of aligned words; the
        # "music.AQ" words are put over the base64 of each record's padding, which is followed
        # by the next ID (its base64 starts with "AQ", from 01 04).
        template = bytes(_RECORD_OFFSET) + _RECORD * count + bytes(8 - _RECORD_OFFSET)
        prefixes = memoryview(b"music.AQ" * count).cast("Q")
        buffers = _MINT_BUFFERS[count] = (template, prefixes)
    template, prefixes = buffers
    records = bytearray(template)
    words = memoryview(records).cast("Q")
    draws = memoryview(random_bytes).cast("Q")
    words[_RANDOM_WORD::_RECORD_WORDS] = draws[0::2]
    words[_RANDOM_WORD + 1 :: _RECORD_WORDS] = draws[1::2]
    reversed_heads = array.array("I", heads)
    reversed_heads.byteswap()  # each head's 4 bytes reversed, whatever the machine's byte order
    memoryview(records).cast("I")[_HEAD_WORD :: _RECORD_LEN // 4] = memoryview(reversed_heads)
    end = _RECORD_OFFSET + _RECORD_LEN * count
    encoded = binascii.b2a_base64(memoryview(records)[_RECORD_OFFSET:end], newline=False)
    # "music." + the base64, URL-safe, padded to whole words: record k's text starts at 64 k + 6.
    text = bytearray(b"music." + encoded.replace(b"+", b"-").replace(b"/", b"_") + b"\0\0")
    memoryview(text).cast("Q")[_ENCODED_RECORD_LEN // 8 :: _ENCODED_RECORD_LEN // 8] = prefixes
    # Now "music.<ID>" + gap + ... + "music.<ID>" + gap + "music.AQ". No gap can overlap an ID
    # (IDs end in "Q"); one inside an ID takes 18 zero bytes in a row (2**-120 or so), and then
    # there are more pieces than IDs: build them one by one.
    minted = str(text, "ascii").split(_RECORD_GAP)
    if len(minted) != count + 1:
        guid_heads = reversed_heads.tobytes()
        return [
            encode_collection_id(random_bytes[16 * k : 16 * k + 16], guid_heads[4 * k : 4 * k + 4])
            for k in range(count)
        ]
    minted.pop()
    return minted
