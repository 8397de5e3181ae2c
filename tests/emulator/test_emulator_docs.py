"""Every example of the documentation page, replayed against the emulator (spec section 8).

The fixtures keep the page's hyphenated error codes; the emulator sends them that way with
``hyphen_codes=True`` and with underscores by default (spec section 5). Minted collection IDs
are random, so they are compared by layout, not by value. The XML examples are replayed in
test_emulator_xml.py.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from groove_async.testing import catalog_track_id
from tests.conftest import doc_bytes, doc_json
from tests.emulator.conftest import ADD, StartEmulator

DOC_COLLECTION_ID = "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ"


def underscored(value: Any) -> Any:
    """The fixture with every ErrorCode in the wire's underscore spelling."""
    if isinstance(value, dict):
        return {
            k: (v.replace("-", "_") if k == "ErrorCode" else underscored(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [underscored(v) for v in value]
    return value


def decode_collection_id(collection_id: str) -> bytes:
    assert collection_id.startswith("music.")
    encoded = collection_id[len("music.") :]
    assert "=" not in encoded
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def test_the_documented_collection_id_has_the_inferred_layout() -> None:
    # Spec section 7: 01 04 1F | 16 random bytes | catalog GUID bytes 0-3 reversed | 00 01.
    raw = decode_collection_id(DOC_COLLECTION_ID)
    assert len(raw) == 25
    assert raw[:3] == b"\x01\x04\x1f"
    assert raw[19:23] == bytes.fromhex("A83EB907")[::-1]
    assert raw[23:] == b"\x00\x01"


@pytest.mark.parametrize("hyphen_codes", [True, False], ids=["doc-spelling", "wire-spelling"])
async def test_add_partial_failure(emulator: StartEmulator, hyphen_codes: bool) -> None:
    api = await emulator(hyphen_codes=hyphen_codes, seed=3)
    reply = await api.request("POST", ADD, body=doc_bytes("add-partial.request.json"))
    expected = doc_json("add-partial.response.json")
    if not hyphen_codes:
        expected = underscored(expected)

    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    minted = body["TrackActionResults"][1]["Id"]
    body["TrackActionResults"][1]["Id"] = DOC_COLLECTION_ID
    assert body == expected

    # The minted ID has the documented shape: same length, same fixed bytes, same GUID bytes.
    assert len(minted) == len(DOC_COLLECTION_ID)
    ours, theirs = decode_collection_id(minted), decode_collection_id(DOC_COLLECTION_ID)
    assert ours[:3] == theirs[:3] and ours[19:] == theirs[19:]
    assert ours[3:19] != theirs[3:19]
    assert api.server.collection("demo-token") == {
        "music.A83EB907-0100-11DB-89CA-0019B92A3933": minted
    }


@pytest.mark.parametrize("hyphen_codes", [True, False], ids=["doc-spelling", "wire-spelling"])
async def test_add_too_many(emulator: StartEmulator, hyphen_codes: bool) -> None:
    # The page's "too many" request holds exactly 100 IDs (tests/fixtures/docs/README.md), which
    # the service accepts: the documented 400 is for 101.
    api = await emulator(hyphen_codes=hyphen_codes)
    expected = doc_json("add-too-many.response.json")
    if not hyphen_codes:
        expected = underscored(expected)
    reply = await api.add([catalog_track_id(i) for i in range(101)])
    assert (reply.status, reply.json()) == (400, expected)
    assert api.server.collection("demo-token") == {}

    reply = await api.add([catalog_track_id(i) for i in range(100)])
    assert reply.status == 200
    assert len(api.server.collection("demo-token")) == 100


@pytest.mark.parametrize("hyphen_codes", [True, False], ids=["doc-spelling", "wire-spelling"])
@pytest.mark.parametrize("token", [None, "not-a-known-token"], ids=["missing", "unknown"])
async def test_add_unauthorized(
    emulator: StartEmulator, hyphen_codes: bool, token: str | None
) -> None:
    api = await emulator(hyphen_codes=hyphen_codes)
    expected = doc_json("add-unauthorized.response.json")
    if not hyphen_codes:
        expected = underscored(expected)
    reply = await api.request("POST", ADD, body=doc_bytes("add-partial.request.json"), token=token)
    assert (reply.status, reply.json()) == (401, expected)
    assert api.server.collection("demo-token") == {}
