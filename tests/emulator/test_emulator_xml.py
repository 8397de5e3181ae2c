"""The emulator's XML (spec section 6), pinned with a bare HTTP client and the stdlib parser.

Like the other emulator tests, these do not use the client library: the documented XML bodies
and ElementTree are the reference.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from groove_async.testing import FaultPlan, catalog_track_id
from groove_async.testing._xml import XmlRequestError, encode_xml, read_track_ids
from tests.conftest import doc_bytes
from tests.emulator.conftest import ADD, DELETE, PROFILE, Api, Reply, StartEmulator

PLATFORM = "http://schemas.microsoft.com/xboxmusic/2013/10/platform"
SDK = "http://schemas.microsoft.com/groovemusic/2016/09/api"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
XML_IN_OUT = {"Content-Type": "application/xml", "Accept": "application/xml"}
DOC_ID = "music.873FB507-0100-11DB-89CA-0019B92A3933"
DOC_COLLECTION_ID = "music.AQQfuiqlXWaDzk-j0Ht9qB6EWwe1P4cAAQ"


def squeeze(xml: bytes) -> bytes:
    return re.sub(rb">\s+<", b"><", xml).strip()


def request_xml(ids: list[str], *, item: str = "d2p1:string", ns: str = PLATFORM) -> bytes:
    escaped = [i.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for i in ids]
    items = "".join(f"<{item}>{i}</{item}>" for i in escaped)
    return (
        f'<TrackActionRequest xmlns:i="{XSI}" xmlns="{ns}">'
        f'<TrackIds xmlns:d2p1="{ARRAYS}">{items}</TrackIds></TrackActionRequest>'
    ).encode()


def parse(reply: Reply) -> Any:
    """The reply as nested dicts (lists for the item wrappers), checking it is the XML we expect."""
    assert reply.headers["Content-Type"].startswith("application/xml")
    assert not reply.body.startswith(b"<?xml")  # like the documented bodies: no declaration
    # Our own emulator's output, in a test: the stdlib parser is fine here.
    root = ET.fromstring(reply.body)  # noqa: S314
    assert root.tag.startswith("{" + PLATFORM + "}")
    return root.tag.split("}")[1], _value(root)


def _value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    names = [child.tag.split("}")[1] for child in children]
    # DataContractSerializer order (spec section 6): members alphabetical.
    if element.tag.endswith("TrackActionResults"):
        return [_value(child) for child in children]
    assert names == sorted(names), names
    return {name: _value(child) for name, child in zip(names, children, strict=True)}


async def post_xml(api: Api, path: str, body: bytes, **kwargs: Any) -> Reply:
    headers = {**XML_IN_OUT, **kwargs.pop("headers", {})}
    return await api.request("POST", path, body=body, headers=headers, **kwargs)


# -- the documentation's XML example ----------------------------------------------------------


async def test_documented_xml_request_gets_the_documented_xml_response(api: Api) -> None:
    reply = await post_xml(api, ADD, doc_bytes("add-xml.request.xml"))
    assert reply.status == 200
    minted = re.search(rb"<Id>([^<]+)</Id>", reply.body)
    assert minted is not None
    assert len(minted[1]) == len(DOC_COLLECTION_ID) and minted[1].startswith(b"music.AQQf")
    body = reply.body.replace(minted[1], DOC_COLLECTION_ID.encode())
    assert body == squeeze(doc_bytes("add-xml.response.xml"))
    assert api.server.collection("demo-token") == {DOC_ID: minted[1].decode()}
    record = api.server.requests[-1]
    assert (record.status, record.ids) == (200, (DOC_ID,))


@pytest.mark.parametrize("item", ["d2p1:string", "TrackId"])
@pytest.mark.parametrize("ns", [PLATFORM, SDK])
async def test_both_item_forms_and_namespaces_are_read(api: Api, item: str, ns: str) -> None:
    ids = [catalog_track_id(1), catalog_track_id(2)]
    reply = await post_xml(api, ADD, request_xml(ids, item=item, ns=ns))
    name, body = parse(reply)
    assert name == "TrackActionResponse"
    assert [r["InputId"] for r in body["TrackActionResults"]] == ids
    assert set(api.server.collection("demo-token")) == set(ids)


async def test_xml_request_without_accept_gets_json(api: Api) -> None:
    reply = await api.request(
        "POST", ADD, body=doc_bytes("add-xml.request.xml"), headers={"Content-Type": "text/xml"}
    )
    assert reply.status == 200
    assert reply.json()["TrackActionResults"][0]["InputId"] == DOC_ID


async def test_xml_body_is_recognised_by_its_first_byte(api: Api) -> None:
    body = b"\xef\xbb\xbf\n" + doc_bytes("add-xml.request.xml")
    reply = await api.request("POST", ADD, body=body)  # labelled application/json by the fixture
    assert reply.status == 200 and reply.json()["TrackActionResults"][0]["InputId"] == DOC_ID


@pytest.mark.parametrize(
    ("query", "accept", "xml"),
    [
        ("?contentType=xml", None, True),
        ("?contentType=XML&language=en", "application/json", True),
        ("?contentType=json", "application/xml", False),
        ("", "text/xml", True),
        ("", "application/xml;q=0.9, application/json;q=0.8", True),
        ("", "application/json, application/xml", False),
        ("", "*/*", False),
    ],
)
async def test_the_answer_format_follows_content_type_query_and_accept(
    api: Api, query: str, accept: str | None, xml: bool
) -> None:
    headers = {"Accept": accept} if accept else {}
    body = b'{"TrackIds": ["%s"]}' % DOC_ID.encode()
    reply = await api.request("POST", ADD + query, body=body, headers=headers)
    assert reply.status == 200
    if xml:
        assert parse(reply)[1]["TrackActionResults"][0]["InputId"] == DOC_ID
    else:
        assert reply.headers["Content-Type"].startswith("application/json")


# -- results and errors in XML ----------------------------------------------------------------


@pytest.mark.parametrize("hyphen_codes", [False, True])
async def test_partial_failure_in_xml(emulator: StartEmulator, hyphen_codes: bool) -> None:
    api = await emulator(hyphen_codes=hyphen_codes)
    unknown = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"
    reply = await post_xml(api, ADD, request_xml([unknown, DOC_ID]))
    _, body = parse(reply)
    dash = "-" if hyphen_codes else "_"
    assert body["Error"] == {
        "Description": "Some of the operations failed",
        "ErrorCode": f"COLLECTION{dash}SOME{dash}OPERATIONS{dash}FAILED",
    }
    bad, good = body["TrackActionResults"]
    assert bad == {
        "Error": {
            "Description": "Invalid collection id for this operation",
            "ErrorCode": f"COLLECTION{dash}INVALID{dash}ID",
            "Message": "Collection ErrorCode=ArgumentInvalid, Details=ContentId",
        },
        "InputId": unknown.upper().replace("MUSIC.", "music."),
    }
    assert set(good) == {"Id", "InputId"}
    # Error first, then TrackActionResults (spec section 6), and no i:nil anywhere.
    assert reply.body.index(b"<Error>") < reply.body.index(b"<TrackActionResults>")
    assert b"nil" not in reply.body


async def test_delete_in_xml(api: Api) -> None:
    added = parse(await post_xml(api, ADD, request_xml([DOC_ID])))[1]
    collection_id = added["TrackActionResults"][0]["Id"]
    _, body = parse(await post_xml(api, DELETE, request_xml([collection_id, collection_id])))
    assert body["TrackActionResults"][0] == {"InputId": collection_id}
    assert body["TrackActionResults"][1]["Error"]["ErrorCode"] == "COLLECTION_INVALID_ID"
    assert api.server.collection("demo-token") == {}


async def test_markup_characters_are_escaped(api: Api) -> None:
    odd = "music.a&b<c>\"d'e"
    reply = await post_xml(api, ADD, request_xml([odd]))
    assert b"<InputId>music.a&amp;b&lt;c&gt;\"d'e</InputId>" in reply.body
    assert parse(reply)[1]["TrackActionResults"][0]["InputId"] == odd


async def test_unrepresentable_characters_become_replacement_characters(api: Api) -> None:
    # Sent in JSON with ?contentType=xml: XML 1.0 cannot carry U+0001 at all.
    reply = await api.request(
        "POST",
        ADD + "?contentType=xml",
        body=b'{"TrackIds": ["music.\\u0001x"]}',
    )
    assert parse(reply)[1]["TrackActionResults"][0]["InputId"] == "music.\ufffdx"


@pytest.mark.parametrize(
    ("kwargs", "body", "status", "code"),
    [
        ({"token": None}, None, 401, "INVALID_AUTHORIZATION_HEADER"),
        ({"token": "wrong"}, None, 401, "INVALID_AUTHORIZATION_HEADER"),
        (
            {},
            request_xml([catalog_track_id(i) for i in range(101)]),
            400,
            "COLLECTION_INVALID_OPERATION",
        ),
        ({}, request_xml([]), 400, "MISSING_INPUT_PARAMETER"),
        (
            {},
            f'<TrackActionRequest xmlns="{PLATFORM}"/>'.encode(),
            400,
            "MISSING_INPUT_PARAMETER",
        ),
        ({}, b"<TrackActionRequest><TrackIds>", 400, "INVALID_INPUT_PARAMETER"),
        ({}, b"<TrackActionRequest/>", 400, "INVALID_INPUT_PARAMETER"),  # no namespace
        (
            {},
            request_xml(["x"]).replace(b"TrackActionRequest", b"Other"),
            400,
            "INVALID_INPUT_PARAMETER",
        ),
        (
            {},
            request_xml(["x"]).replace(b"<d2p1:string>x", b"<d2p1:string><b/>x"),
            400,
            "INVALID_INPUT_PARAMETER",
        ),
    ],
)
async def test_whole_request_errors_in_xml(
    api: Api, kwargs: dict[str, Any], body: bytes | None, status: int, code: str
) -> None:
    reply = await post_xml(api, ADD, body if body is not None else request_xml([DOC_ID]), **kwargs)
    assert reply.status == status
    name, payload = parse(reply)
    assert name == "TrackActionResponse"
    assert set(payload) == {"Error"}
    assert payload["Error"]["ErrorCode"] == code and payload["Error"]["Description"]
    assert api.server.collection("demo-token") == {}


@pytest.mark.parametrize(
    "body",
    [
        # Billion laughs, external entity, external DTD: all refused with a 400, nothing fetched.
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' + request_xml(["&c;"]),
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + request_xml(["&x;"]),
        b'<!DOCTYPE TrackActionRequest SYSTEM "http://127.0.0.1:9/x.dtd">' + request_xml(["x"]),
        request_xml(["x"]).replace(b"<d2p1:string>x", b"<d2p1:string>" + b"<a>" * 100),
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "deep"],
)
async def test_hostile_xml_requests_are_refused(api: Api, body: bytes) -> None:
    reply = await post_xml(api, ADD, body)
    assert reply.status == 400
    assert parse(reply)[1]["Error"]["ErrorCode"] == "INVALID_INPUT_PARAMETER"
    assert b"root:" not in reply.body


async def test_error_faults_in_xml(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(p_429=1.0, retry_after=2))
    reply = await post_xml(api, ADD, request_xml([DOC_ID]))
    assert reply.status == 429 and reply.headers["Retry-After"] == "2"
    assert parse(reply)[1]["Error"]["ErrorCode"] == "TOO_MANY_REQUESTS"


async def test_truncated_fault_cuts_the_xml(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(p_truncated=1.0))
    reply = await post_xml(api, ADD, request_xml([DOC_ID]))
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/xml")
    assert reply.body.startswith(b"<TrackActionResponse ")
    with pytest.raises(ET.ParseError):
        ET.fromstring(reply.body)  # noqa: S314  (our own emulator's output)


async def test_profile_in_xml(api: Api) -> None:
    await post_xml(api, ADD, request_xml([DOC_ID]))
    name, body = parse(await api.profile(headers={"Accept": "application/xml"}))
    assert name == "UserProfileResponse"
    assert body["HasSubscription"] == "false"
    assert body["IsSubscriptionAvailableForPurchase"] == "true"
    assert body["Collection"]["TrackCount"] == "1"
    name, body = parse(await api.request("GET", PROFILE + "?contentType=xml", token="nope"))
    assert name == "ErrorResponse"
    assert body["Error"]["ErrorCode"] == "INVALID_AUTHORIZATION_HEADER"


# -- the emulator's XML helpers on their own -----------------------------------------------------


def test_writer_rules() -> None:
    body = encode_xml("Thing", {"Tags": ["a&b", "c"], "Skipped": None, "Count": 3, "On": True})
    assert (
        body
        == (
            f'<Thing xmlns:i="{XSI}" xmlns="{PLATFORM}"><Count>3</Count><On>true</On>'
            f'<Tags xmlns:d2p1="{ARRAYS}"><d2p1:string>a&amp;b</d2p1:string>'
            "<d2p1:string>c</d2p1:string></Tags></Thing>"
        ).encode()
    )
    with pytest.raises(ValueError, match="no XML item element"):
        encode_xml("Thing", {"Things": [{"A": "b"}]})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            request_xml(["a"]).replace(
                b"</TrackActionRequest>", b"<TrackIds/></TrackActionRequest>"
            ),
            "twice",
        ),
        (
            request_xml(["a"]).replace(
                b"</TrackActionRequest>", b"<X>" * 20 + b"</TrackActionRequest>"
            ),
            "deep",
        ),
        (b'{"TrackIds": ["a"]}', "not well-formed"),
    ],
)
def test_reader_refusals(body: bytes, problem: str) -> None:
    with pytest.raises(XmlRequestError, match=problem):
        read_track_ids(body)


def test_reader_ignores_other_members() -> None:
    body = request_xml(["a", "b"]).replace(
        b"<TrackIds", b"<Other><Nested>x</Nested></Other><TrackIds"
    )
    assert read_track_ids(body) == ["a", "b"]
    assert (
        read_track_ids(f'<TrackActionRequest xmlns="{SDK}"><X/></TrackActionRequest>'.encode())
        is None
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            request_xml([DOC_ID]).replace(
                b"http://schemas.microsoft.com/xboxmusic/2013/10/platform", b"urn:wrong"
            ),
            "not <TrackActionRequest> in the namespace urn:wrong",
        ),
        (
            b"<TrackActionRequest><TrackIds><TrackId>x</TrackId></TrackIds></TrackActionRequest>",
            "not <TrackActionRequest> in no namespace",
        ),
        (
            request_xml([DOC_ID]).replace(b"TrackActionRequest", b"TrackRequest"),
            "must be <TrackActionRequest>",
        ),
    ],
    ids=["wrong-namespace", "no-namespace", "wrong-root"],
)
async def test_a_wrong_root_or_namespace_is_named_in_the_answer(
    api: Api, body: bytes, said: str
) -> None:
    # It said "TrackIds must be a list of strings", which sent users looking at their IDs.
    reply = await post_xml(api, ADD, body)
    assert reply.status == 400
    message = parse(reply)[1]["Error"]["Message"]
    assert said in message
    assert "list of strings" not in message
