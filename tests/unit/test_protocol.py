from __future__ import annotations

from datetime import UTC, datetime

import pytest

from groove_async import DecodeError, ErrorInfo, HTTPStatusError, TransportError
from groove_async._errors import ResultMismatchError
from groove_async._protocol import (
    TRANSIENT_STATUSES,
    UnauthorizedResponse,
    build_request,
    error_info_for,
    failure_outcome,
    outcome_unknown,
    parse_retry_after,
    read_response,
    validate_base_url,
    validate_namespace,
)
from groove_async._routes import collection_path
from tests.conftest import doc_bytes

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("3", 3.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("0", 0.0),
        ("nan", None),
        ("inf", float("inf")),
        ("soon", None),
        ("Fri, 27 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),
        ("Friday, 27-Nov-26 12:01:00 GMT", 60.0),
        ("99999999999999999999", 1e20),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


TRANSIENT = [408, 409, 425, 429, 500, 501, 502, 503, 504, 505, 507, 508, 520, 524, 529, 599]


def test_status_table() -> None:
    assert {408, 409, 425, 429} == TRANSIENT_STATUSES
    for status in (400, 403, 404, 301, 302, 304, 405, 410, 422, 600, 999):
        with pytest.raises(HTTPStatusError) as info:
            read_response(status, {}, b"", now=NOW)
        assert not info.value.transient
    for status in TRANSIENT:
        with pytest.raises(HTTPStatusError) as info:
            read_response(status, {"Retry-After": "2"}, b"<html>busy</html>", now=NOW)
        assert info.value.transient and info.value.retry_after == 2.0 and info.value.code is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(400, "REJECTED"), (403, "REJECTED"), (404, "REJECTED")]
    + [(s, "FAILED") for s in (300, 301, 307, 308, 405, 410, 413, 415, 422, 451, 999, *TRANSIENT)],
)
def test_only_the_contracts_refusals_are_rejected(status: int, outcome: str) -> None:
    with pytest.raises(HTTPStatusError) as info:
        read_response(status, {}, b"", now=NOW)
    assert failure_outcome(info.value) == outcome


@pytest.mark.parametrize(
    ("exc", "unknown"),
    [
        (HTTPStatusError(500, transient=True), True),
        (HTTPStatusError(599, transient=True), True),
        (HTTPStatusError(202, transient=True), True),
        (HTTPStatusError(429, transient=True), False),
        (HTTPStatusError(409, transient=True), False),
        (HTTPStatusError(408, transient=True), False),
        (HTTPStatusError(400), False),
        (TransportError("dropped"), True),
        (TransportError("slow", code="TIMEOUT"), True),
        (DecodeError("truncated"), True),
        (ResultMismatchError("swapped"), True),
    ],
)
def test_which_failures_leave_the_outcome_unknown(exc: Exception, unknown: bool) -> None:
    assert outcome_unknown(exc) is unknown


def test_an_empty_error_code_in_an_error_body_is_no_code() -> None:
    body = b'{"Error":{"ErrorCode":"","Description":"?"}}'
    with pytest.raises(HTTPStatusError) as info:
        read_response(400, {}, body, now=NOW)
    assert info.value.code is None
    assert error_info_for(info.value).code == "HTTP_400"


def test_error_body_code_is_read_and_normalised() -> None:
    with pytest.raises(HTTPStatusError) as info:
        read_response(400, {}, doc_bytes("add-too-many.response.json"), now=NOW)
    assert info.value.code == "COLLECTION_INVALID_OPERATION"
    assert info.value.message == "Number of tracks for this operation is limited to 100"


def test_401_is_a_signal_with_its_code() -> None:
    with pytest.raises(UnauthorizedResponse) as info:
        read_response(401, {}, doc_bytes("add-unauthorized.response.json"), now=NOW)
    assert info.value.code == "INVALID_AUTHORIZATION_HEADER" and info.value.refreshable
    body = b'{"Error":{"ErrorCode":"MSA_SCOPE_REQUIRES_USER_CONSENT","Description":"x"}}'
    with pytest.raises(UnauthorizedResponse) as info:
        read_response(401, {}, body, now=NOW)
    assert not info.value.refreshable


def test_unreadable_200_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as info:
        read_response(200, {}, b'{"TrackActionResults": [', now=NOW)
    assert info.value.transient


def test_build_request_puts_the_token_in_the_header_only() -> None:
    request = build_request(
        "POST", "https://h" + collection_path("music", "add"), "secret-token", b"{}"
    )
    assert request.url == "https://h/1/content/music/collection/add"
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert "secret-token" not in repr(request)


@pytest.mark.parametrize(
    "url",
    [
        "https://music.xboxlive.com",
        "https://h:8443/prefix/",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
        "http://127.5.6.7",
        "http://127.255.255.254:1",
        "http://LOCALHOST:1",
    ],
)
def test_base_url_accepted(url: str) -> None:
    assert not validate_base_url(url).endswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h",
        "music.xboxlive.com",
        "https://",
        "https://h?x=1",
        "https://u:p@h",
        "http://example.com",
        "http://10.0.0.1",
        # Loopback is an IP literal in 127.0.0.0/8, ::1, or exactly localhost: never a DNS
        # name that merely starts like one (the token would go in clear text to it).
        "http://127.0.0.1.evil.example",
        "http://127.0.0.1.nip.io:8080",
        "http://localhost.evil.example",
        "http://127.evil.example",
        "http://[::ffff:7f00:1]",
        "http://[::2]",
        "http://128.0.0.1",
        "https://h/\r\nX-Injected: 1",
        "https://h#f",
    ],
)
def test_base_url_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"base_url|plain http"):
        validate_base_url(url)


def test_plain_http_opt_in() -> None:
    assert validate_base_url("http://example.com", allow_insecure_http=True)


@pytest.mark.parametrize("namespace", ["", "mu/sic", "..", "music/../x", "a b", "ns\n"])
def test_namespace_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        validate_namespace(namespace)


def test_namespace_type() -> None:
    with pytest.raises(TypeError):
        validate_namespace(5)


def test_error_info_for_batch_errors() -> None:
    assert error_info_for(HTTPStatusError(503)).code == "HTTP_503"
    assert error_info_for(HTTPStatusError(400, "COLLECTION_FULL", "full")) == ErrorInfo(
        "COLLECTION_FULL", "full", None
    )
    assert error_info_for(TransportError("t", code="TIMEOUT")).code == "TIMEOUT"
    assert error_info_for(DecodeError("x")).code == "UNREADABLE_RESPONSE"
    assert error_info_for(ResultMismatchError("x")).code == "RESULT_MISMATCH"


@pytest.mark.parametrize("status", [201, 202, 204, 299])
def test_other_2xx_is_transient_not_a_refusal(status: int) -> None:
    with pytest.raises(HTTPStatusError) as info:
        read_response(status, {}, b"", now=NOW)
    assert info.value.transient
