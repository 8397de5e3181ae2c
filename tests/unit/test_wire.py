from __future__ import annotations

import json

import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from groove_async import DecodeError, ErrorInfo
from groove_async._wire import (
    WireItem,
    WireResponse,
    converter,
    decode_error_body,
    decode_response,
    encode_request,
    encode_response,
)
from tests.conftest import doc_bytes, doc_json
from tests.wire_helpers import strict_converter


def test_request_matches_the_documented_body() -> None:
    expected = doc_json("add-partial.request.json")
    body = encode_request(expected["TrackIds"])
    assert json.loads(body) == expected


def test_documented_partial_response_decodes_with_underscore_codes() -> None:
    response = decode_response(doc_bytes("add-partial.response.json"))
    assert response.error == ErrorInfo(
        "COLLECTION_SOME_OPERATIONS_FAILED", "Some of the operations failed", None
    )
    assert response.results == [
        WireItem(
            "music.9BB2C5C5-455C-4C15-827C-F9BFD759A458",
            None,
            ErrorInfo(
                "COLLECTION_INVALID_ID",
                "Invalid collection id for this operation",
                "Collection ErrorCode=ArgumentInvalid, Details=ContentId",
            ),
        ),
        WireItem(
            "music.A83EB907-0100-11DB-89CA-0019B92A3933",
            "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ",
        ),
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("add-too-many.response.json", "COLLECTION_INVALID_OPERATION"),
        ("add-unauthorized.response.json", "INVALID_AUTHORIZATION_HEADER"),
    ],
)
def test_documented_error_bodies(name: str, code: str) -> None:
    info = decode_error_body(doc_bytes(name))
    assert info is not None and info.code == code and info.message


def test_strict_converter_accepts_the_documented_bodies() -> None:
    for name in ("add-partial.response.json", "add-too-many.response.json"):
        strict_converter().structure(doc_json(name), WireResponse)


def test_strict_converter_rejects_unknown_members_production_ignores_them() -> None:
    data = {"TrackActionResults": [{"InputId": "music.X", "Id": "music.Y", "Extra": 1}]}
    with pytest.raises(cattrs.errors.ForbiddenExtraKeysError):
        strict_converter().structure(data, WireResponse)
    assert converter().structure(data, WireResponse).results == [WireItem("music.X", "music.Y")]


def test_bom_is_tolerated() -> None:
    body = b"\xef\xbb\xbf" + doc_bytes("add-partial.response.json")
    assert decode_response(body).results is not None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"TrackActionResults": [{"InputId": "music.X"',  # truncated
        b"[1, 2]",
        b'{"TrackActionResults": {"InputId": "x"}}',
        b'{"TrackActionResults": ["music.X"]}',
        b'{"TrackActionResults": [{"Id": "music.X"}]}',
        b'{"TrackActionResults": [{"InputId": 5}]}',
        b'{"TrackActionResults": [{"InputId": "a", "Error": "bad"}]}',
        b'{"TrackActionResults": [{"InputId": "a", "Error": {"Description": "no code"}}]}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe\x00garbage",
    ],
)
def test_malformed_bodies_are_decode_errors(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_response(body)


def test_error_body_that_is_not_json_gives_none() -> None:
    assert decode_error_body(b"<html>oops</html>") is None
    assert decode_error_body(b"") is None


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_errors = st.builds(
    ErrorInfo,
    code=st.from_regex(r"[A-Z_]{1,20}", fullmatch=True),
    description=_text,
    message=st.none() | _text,
)
_items = st.builds(WireItem, input_id=_text, id=st.none() | _text, error=st.none() | _errors)


@given(results=st.none() | st.lists(_items, max_size=5), error=st.none() | _errors)
def test_json_round_trip(results: list[WireItem] | None, error: ErrorInfo | None) -> None:
    response = WireResponse(results, error)
    body = encode_response(response)
    assert decode_response(body) == response
    assert strict_converter().structure(json.loads(body), WireResponse) == response
