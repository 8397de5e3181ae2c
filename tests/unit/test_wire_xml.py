"""The XML wire format (spec section 6): golden bodies, round trips, readers' leniency, attacks."""

from __future__ import annotations

import re
import time
import tracemalloc
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groove_async import DecodeError, ErrorInfo, HTTPStatusError
from groove_async._protocol import (
    UnauthorizedResponse,
    build_request,
    read_response,
)
from groove_async._routes import collection_path
from groove_async._wire import (
    MAX_XML_BODY,
    WireItem,
    WireResponse,
    decode_error_body,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    media_type,
)
from tests.conftest import doc_bytes, doc_json
from tests.wire_helpers import strict_converter

PLATFORM = "http://schemas.microsoft.com/xboxmusic/2013/10/platform"
SDK = "http://schemas.microsoft.com/groovemusic/2016/09/api"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
DOC_ID = "music.873FB507-0100-11DB-89CA-0019B92A3933"
DOC_RESPONSE = WireResponse([WireItem(DOC_ID, "music.AQQfuiqlXWaDzk-j0Ht9qB6EWwe1P4cAAQ")])

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def squeeze(xml: bytes) -> bytes:
    """The document without the whitespace between tags (the docs' indentation)."""
    return re.sub(rb">\s+<", b"><", xml).strip()


def response_xml(inner: str, *, root: str = "TrackActionResponse", ns: str = PLATFORM) -> bytes:
    return f'<{root} xmlns:i="{XSI}" xmlns="{ns}">{inner}</{root}>'.encode()


def request_xml(items: str, *, ns: str = PLATFORM) -> bytes:
    return (
        f'<TrackActionRequest xmlns:i="{XSI}" xmlns="{ns}">'
        f'<TrackIds xmlns:d2p1="{ARRAYS}">{items}</TrackIds></TrackActionRequest>'
    ).encode()


# -- golden: the documentation's XML example ------------------------------------------------------


def test_documented_request_is_produced_byte_for_byte_modulo_whitespace() -> None:
    body = encode_request([DOC_ID], "xml")
    assert body == squeeze(doc_bytes("add-xml.request.xml"))
    assert body.startswith(b"<TrackActionRequest ")  # no XML declaration, like the docs


def test_documented_response_parses_to_the_documented_result() -> None:
    body = doc_bytes("add-xml.response.xml")
    assert decode_response(body) == DOC_RESPONSE
    assert decode_response(body, content_type="application/xml; charset=utf-8") == DOC_RESPONSE
    assert decode_response(body, structure=strict_converter().structure) == DOC_RESPONSE


def test_documented_response_is_written_as_documented() -> None:
    assert encode_response(DOC_RESPONSE, "xml") == squeeze(doc_bytes("add-xml.response.xml"))


def test_the_json_and_xml_examples_agree() -> None:
    # The JSON partial-failure example, restated in XML in DataContract order (spec section 6).
    xml = response_xml(
        "<Error><Description>Some of the operations failed</Description>"
        "<ErrorCode>COLLECTION-SOME-OPERATIONS-FAILED</ErrorCode></Error>"
        "<TrackActionResults>"
        "<TrackActionResult><Error><Description>Invalid collection id for this operation"
        "</Description><ErrorCode>COLLECTION-INVALID-ID</ErrorCode>"
        "<Message>Collection ErrorCode=ArgumentInvalid, Details=ContentId</Message></Error>"
        "<InputId>music.9BB2C5C5-455C-4C15-827C-F9BFD759A458</InputId></TrackActionResult>"
        "<TrackActionResult><Id>music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ</Id>"
        "<InputId>music.A83EB907-0100-11DB-89CA-0019B92A3933</InputId></TrackActionResult>"
        "</TrackActionResults>"
    )
    from_json = decode_response(doc_bytes("add-partial.response.json"))
    assert decode_response(xml) == from_json
    assert from_json.error is not None
    assert from_json.error.code == "COLLECTION_SOME_OPERATIONS_FAILED"  # underscores, both ways
    underscored = re.sub(
        rb"<ErrorCode>[A-Z-]+</ErrorCode>", lambda m: m[0].replace(b"-", b"_"), xml
    )
    assert encode_response(from_json, "xml") == underscored


def test_members_are_written_alphabetically() -> None:
    response = WireResponse(
        [WireItem("music.A", "music.B", ErrorInfo("C", "d", "m"))], ErrorInfo("E", "f")
    )
    names = re.findall(rb"<([A-Za-z]+)[ >]", encode_response(response, "xml"))
    assert names == [
        b"TrackActionResponse",
        b"Error",
        b"Description",
        b"ErrorCode",
        b"TrackActionResults",
        b"TrackActionResult",
        b"Error",
        b"Description",
        b"ErrorCode",
        b"Message",
        b"Id",
        b"InputId",
    ]


def test_absent_members_are_omitted_and_empty_ones_kept() -> None:
    body = encode_response(WireResponse([WireItem("music.A", error=ErrorInfo("X"))]), "xml")
    assert b"<Id>" not in body and b"<Message>" not in body and b"nil" not in body
    assert b"<Description></Description>" in body
    assert encode_response(WireResponse(), "xml") == response_xml("")
    assert decode_response(encode_response(WireResponse([]), "xml")) == WireResponse([])


# -- what the reader accepts --------------------------------------------------------------------


@pytest.mark.parametrize(
    "items",
    [
        "<d2p1:string>music.A</d2p1:string><d2p1:string>music.B</d2p1:string>",  # WCF, documented
        "<TrackId>music.A</TrackId><TrackId>music.B</TrackId>",  # the SDKs' contracts
        "<d2p1:string>music.A</d2p1:string><TrackId>music.B</TrackId>",
    ],
)
@pytest.mark.parametrize("ns", [PLATFORM, SDK])
def test_both_item_forms_and_both_namespaces(items: str, ns: str) -> None:
    assert decode_request(request_xml(items, ns=ns)) == ["music.A", "music.B"]


def test_any_element_order() -> None:
    body = response_xml(
        "<TrackActionResults><TrackActionResult><InputId>music.A</InputId><Error>"
        "<Message>m</Message><ErrorCode>C</ErrorCode><Description>d</Description></Error>"
        "</TrackActionResult><TrackActionResult><InputId>music.B</InputId><Id>music.C</Id>"
        "</TrackActionResult></TrackActionResults><Error><ErrorCode>E</ErrorCode>"
        "<Description>f</Description></Error>"
    )
    assert decode_response(body) == WireResponse(
        [WireItem("music.A", None, ErrorInfo("C", "d", "m")), WireItem("music.B", "music.C")],
        ErrorInfo("E", "f"),
    )


def test_later_sdk_namespace_and_prefixed_elements() -> None:
    body = (
        f'<g:TrackActionResponse xmlns:g="{SDK}"><g:TrackActionResults><g:TrackActionResult>'
        "<g:InputId>music.A</g:InputId></g:TrackActionResult></g:TrackActionResults>"
        "</g:TrackActionResponse>"
    ).encode()
    assert decode_response(body) == WireResponse([WireItem("music.A")])


def test_nil_members_count_as_absent() -> None:
    body = response_xml(
        '<Error i:nil="true"/><TrackActionResults><TrackActionResult><Id i:nil="true"/>'
        "<InputId>music.A</InputId></TrackActionResult></TrackActionResults>"
    )
    assert decode_response(body) == WireResponse([WireItem("music.A")])


def test_unknown_members_are_ignored_but_the_strict_converter_sees_them() -> None:
    body = response_xml(
        "<Extra><Deep>1</Deep></Extra><TrackActionResults><TrackActionResult>"
        "<InputId>music.A</InputId><Rank>3</Rank></TrackActionResult></TrackActionResults>"
    )
    assert decode_response(body) == WireResponse([WireItem("music.A")])
    with pytest.raises(DecodeError, match="ForbiddenExtraKeys"):
        decode_response(body, structure=strict_converter().structure)


def test_bom_leading_whitespace_declaration_and_utf16() -> None:
    body = doc_bytes("add-xml.response.xml")
    assert decode_response(b"\xef\xbb\xbf \r\n" + body) == DOC_RESPONSE
    declared = b'<?xml version="1.0" encoding="utf-8"?>\n' + body
    assert decode_response(declared) == DOC_RESPONSE
    assert decode_response(body.decode().encode("utf-16")) == DOC_RESPONSE


def test_non_ascii_text_survives() -> None:
    body = response_xml(
        "<Error><Description>Zoë &amp; 東京 🎵</Description><ErrorCode>X</ErrorCode></Error>"
    )
    assert decode_response(body).error == ErrorInfo("X", "Zoë & 東京 🎵")


# -- format selection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        (None, doc_bytes("add-xml.response.xml")),  # sniffed: "<"
        ("text/xml", doc_bytes("add-xml.response.xml")),
        ("application/xml; charset=utf-8", doc_bytes("add-xml.response.xml")),
        ("text/plain", doc_bytes("add-xml.response.xml")),  # says neither: sniffed
        (None, encode_response(DOC_RESPONSE)),
        ("application/json; charset=utf-8", encode_response(DOC_RESPONSE)),
    ],
)
def test_the_format_follows_the_content_type_or_the_body(
    media_type: str | None, body: bytes
) -> None:
    assert decode_response(body, content_type=media_type) == DOC_RESPONSE


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        ("application/json", doc_bytes("add-xml.response.xml")),  # the label is trusted
        ("application/xml", doc_bytes("add-partial.response.json")),
        ("application/xml", b"OK"),
    ],
)
def test_a_body_that_contradicts_its_label_is_a_decode_error(media_type: str, body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_response(body, content_type=media_type)


def test_unknown_wire_format_is_refused() -> None:
    with pytest.raises(ValueError, match="wire_format"):
        media_type("yaml")
    with pytest.raises(ValueError, match="wire_format"):
        encode_request(["music.A"], "yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wire_format"):
        build_request("POST", "https://h" + collection_path("music", "add"), "t", b"", "yaml")  # type: ignore[arg-type]


# -- error bodies and the protocol ---------------------------------------------------------------

UNAUTHORIZED_XML = response_xml(
    "<Error><Description>Missing or invalid authorization header</Description>"
    "<ErrorCode>INVALID-AUTHORIZATION-HEADER</ErrorCode>"
    "<Message>You need user authentication to use this API</Message></Error>"
)


def test_whole_request_error_documents() -> None:
    expected = ErrorInfo(
        "INVALID_AUTHORIZATION_HEADER",
        "Missing or invalid authorization header",
        "You need user authentication to use this API",
    )
    assert decode_error_body(UNAUTHORIZED_XML) == expected
    assert decode_error_body(UNAUTHORIZED_XML, "application/xml") == expected
    other_root = UNAUTHORIZED_XML.replace(b"TrackActionResponse", b"ErrorResponse")
    assert decode_error_body(other_root) == expected
    assert decode_error_body(response_xml("")) is None
    json_error = doc_json("add-unauthorized.response.json")["Error"]
    assert decode_error_body(doc_bytes("add-unauthorized.response.json")) == ErrorInfo(
        json_error["ErrorCode"].replace("-", "_"), json_error["Description"], json_error["Message"]
    )


def test_build_request_in_xml() -> None:
    request = build_request(
        "POST", "https://h" + collection_path("music", "add"), "secret", b"<x/>", "xml"
    )
    assert request.headers["Content-Type"] == "application/xml"
    assert request.headers["Accept"] == "application/xml"
    json_request = build_request(
        "POST", "https://h" + collection_path("music", "add"), "secret", b"{}"
    )
    assert json_request.headers["Content-Type"] == json_request.headers["Accept"]
    assert json_request.headers["Accept"] == "application/json"


def test_read_response_reads_xml_statuses() -> None:
    xml = {"content-type": "application/xml"}  # a plain dict, lower-case: still found
    assert read_response(200, xml, doc_bytes("add-xml.response.xml"), now=NOW) == DOC_RESPONSE
    with pytest.raises(UnauthorizedResponse) as unauthorized:
        read_response(401, xml, UNAUTHORIZED_XML, now=NOW)
    assert unauthorized.value.code == "INVALID_AUTHORIZATION_HEADER"
    throttled = response_xml(
        "<Error><Description>Too many requests</Description>"
        "<ErrorCode>TOO_MANY_REQUESTS</ErrorCode></Error>"
    )
    with pytest.raises(HTTPStatusError) as info:
        read_response(429, {**xml, "retry-after": "2"}, throttled, now=NOW)
    assert (info.value.code, info.value.retry_after, info.value.transient) == (
        "TOO_MANY_REQUESTS",
        2.0,
        True,
    )
    with pytest.raises(DecodeError) as broken:
        read_response(200, xml, doc_bytes("add-xml.response.xml")[:100], now=NOW)
    assert broken.value.transient  # retried as an unreadable body (spec section 5)


# -- malformed bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<",
        doc_bytes("add-xml.response.xml")[:150],  # truncated
        b"<html><body>502 Bad Gateway</body></html>",
        b"<!DOCTYPE html><html><body>502</body></html>",
        b"<TrackActionResponse/>",  # no namespace
        b'<TrackActionResponse xmlns="urn:other"/>',
        response_xml("", root="TrackActionRequest"),
        response_xml("", root="ErrorResponse"),  # an error document is not a 200's answer
        response_xml("<Error><ErrorCode>X</ErrorCode></Error>") + b"<junk/>",
        response_xml("<TrackActionResults><TrackActionResult/></TrackActionResults>"),
        response_xml(
            "<TrackActionResults><TrackActionResult><InputId><b>x</b></InputId>"
            "</TrackActionResult></TrackActionResults>"
        ),
        response_xml("<Error>stray text<ErrorCode>X</ErrorCode></Error>"),
        response_xml(
            "<Error><ErrorCode>X</ErrorCode></Error><Error><ErrorCode>Y</ErrorCode></Error>"
        ),
        response_xml("<Error><ErrorCode>&undefined;</ErrorCode></Error>"),
        response_xml("<Error><ErrorCode>&#0;</ErrorCode></Error>"),
        response_xml("<g:Error><ErrorCode>X</ErrorCode></g:Error>"),  # unbound prefix
        b"\x00\x01garbage",
        "<TrackActionResponse xmlns='x'>\udcff</TrackActionResponse>".encode(
            "utf-8", "surrogateescape"
        ),
    ],
)
def test_malformed_xml_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_response(body, content_type="application/xml")
    assert info.value.code == "UNREADABLE_RESPONSE" and info.value.transient
    assert decode_error_body(body, "application/xml") is None


def test_wrong_root_says_what_was_expected() -> None:
    with pytest.raises(DecodeError, match=r"expected <TrackActionResponse>.*got <html>"):
        decode_response(b"<html><body>oops</body></html>")


def test_the_writer_refuses_characters_xml_cannot_carry() -> None:
    with pytest.raises(ValueError, match="U\\+0001"):
        encode_response(WireResponse([WireItem("music.\x01")]), "xml")
    with pytest.raises(ValueError, match="U\\+FFFE"):
        encode_request(["music.\ufffe"], "xml")


# -- round trips ------------------------------------------------------------------------------

# XML 1.0 cannot carry most C0 controls, U+FFFE/U+FFFF or lone surrogates (not even escaped), so
# the strategy leaves them out; IDs are printable ASCII anyway (the client validates them).
_ILLEGAL = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
_xml_char = st.characters(codec="utf-8", exclude_characters=_ILLEGAL)
_AWKWARD = ["&", "<", ">", '"', "'", "]]>", "\r\n", "\r", " ", "\t", "&amp;", "<![CDATA[x]]>"]
_text = st.lists(st.sampled_from(_AWKWARD) | _xml_char, max_size=12).map("".join)
_ascii_id = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=50)
_errors = st.builds(
    ErrorInfo,
    code=st.from_regex(r"[A-Z_]{1,20}", fullmatch=True),
    description=_text,
    message=st.none() | _text,
)
_items = st.builds(WireItem, input_id=_text, id=st.none() | _text, error=st.none() | _errors)


@given(results=st.none() | st.lists(_items, max_size=5), error=st.none() | _errors)
def test_xml_round_trip(results: list[WireItem] | None, error: ErrorInfo | None) -> None:
    response = WireResponse(results, error)
    body = encode_response(response, "xml")
    assert decode_response(body) == response
    assert decode_response(body, structure=strict_converter().structure) == response
    assert decode_response(encode_response(response, "json")) == response  # same models


@given(ids=st.lists(_text, max_size=10))
def test_request_round_trip(ids: list[str]) -> None:
    assert decode_request(encode_request(ids, "xml")) == ids
    assert decode_request(encode_request(ids)) == ids


@given(ids=st.lists(_ascii_id, min_size=1, max_size=100))
def test_printable_ascii_ids_round_trip_escaped(ids: list[str]) -> None:
    body = encode_request(ids, "xml")
    assert decode_request(body, "application/xml") == ids
    assert b"&" not in body.replace(b"&amp;", b"").replace(b"&lt;", b"").replace(b"&gt;", b"")


def test_markup_characters_in_ids_are_escaped() -> None:
    body = encode_request(["music.a&b<c>\"d'e"], "xml")
    assert b"<d2p1:string>music.a&amp;b&lt;c&gt;\"d'e</d2p1:string>" in body
    assert decode_request(body) == ["music.a&b<c>\"d'e"]


# -- attacks: each refused quickly, with bounded memory --------------------------------------------


def billion_laughs(levels: int = 10) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE TrackActionResponse [' + "".join(entities) + "]>"
    ).encode() + response_xml(
        f"<TrackActionResults><TrackActionResult><InputId>&lol{levels - 1};</InputId>"
        "</TrackActionResult></TrackActionResults>"
    )


ATTACKS: dict[str, bytes] = {
    "billion laughs": billion_laughs(),
    "external entity": (
        b'<!DOCTYPE TrackActionResponse [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + response_xml("<Error><ErrorCode>&xxe;</ErrorCode></Error>")
    ),
    "external DTD": b'<!DOCTYPE TrackActionResponse SYSTEM "http://127.0.0.1:9/evil.dtd">'
    + response_xml(""),
    "parameter entity": (
        b'<!DOCTYPE TrackActionResponse [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
        + response_xml("")
    ),
    "quadratic blowup": (
        b'<!DOCTYPE TrackActionResponse [<!ENTITY a "'
        + b"x" * 50_000
        + b'">]>'
        + response_xml("<Error><ErrorCode>" + "&a;" * 50_000 + "</ErrorCode></Error>")
    ),
    "deep nesting": response_xml("<Extra>" + "<a>" * 200_000),
    "deep nesting, wrong root": b"<a>" * 200_000,
    "50 MB": b"<" + b"a" * (50 * 1024 * 1024),
    "just over the cap": response_xml("<Extra>" + "x" * MAX_XML_BODY + "</Extra>"),
    "too many elements": response_xml(
        "<TrackActionResults>" + "<TrackActionResult/>" * 150_000 + "</TrackActionResults>"
    ),
}


def refuse_measured(body: bytes) -> tuple[DecodeError, float, int]:
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(DecodeError) as info:
            decode_response(body)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return info.value, elapsed, peak


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attacks_are_refused_quickly_with_bounded_memory(name: str) -> None:
    body = ATTACKS[name]
    error, elapsed, peak = refuse_measured(body)
    assert elapsed < 1.0, f"{name} took {elapsed:.2f}s"
    # A few MB at most: never the body's size again, never an expansion.
    assert peak < 4 * 1024 * 1024, f"{name} peaked at {peak / 2**20:.1f} MiB"
    assert "root:" not in str(error)  # nothing of /etc/passwd leaks into the message


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("billion laughs", "DTD"),
        ("external entity", "DTD"),
        ("external DTD", "DTD"),
        ("parameter entity", "DTD"),
        ("deep nesting", "deeper than"),
        ("50 MB", "over the 8388608-byte limit"),
        ("too many elements", "more than"),
    ],
)
def test_attacks_are_refused_for_the_right_reason(name: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_response(ATTACKS[name])


def test_small_attacks_are_refused_in_little_memory() -> None:
    for name in ("billion laughs", "external entity", "external DTD", "parameter entity"):
        _, _, peak = refuse_measured(ATTACKS[name])
        assert peak < 256 * 1024, name


def test_attacks_in_error_bodies_are_just_unreadable() -> None:
    for body in ATTACKS.values():
        assert decode_error_body(body) is None
