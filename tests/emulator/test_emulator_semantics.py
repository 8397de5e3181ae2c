"""The collection contract as the emulator implements it (spec sections 2-5 and 7)."""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
import pytest

from groove_async.testing import FakeGrooveServer, catalog_track_id
from tests.emulator.conftest import ADD, DELETE, PROFILE, Api, StartEmulator

LOWER = "music.a83eb907-0100-11db-89ca-0019b92a3933"
UPPER = "music.A83EB907-0100-11DB-89CA-0019B92A3933"
RANDOM_GUID = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"
ARTIST = "music.6F0A0600-0200-11DB-89CA-0019B92A3933"

INVALID_ADD_ITEM = {
    "ErrorCode": "COLLECTION_INVALID_ID",
    "Description": "Invalid collection id for this operation",
    "Message": "Collection ErrorCode=ArgumentInvalid, Details=ContentId",
}
INVALID_DELETE_ITEM = {
    "ErrorCode": "COLLECTION_INVALID_ID",
    "Description": "Invalid collection id for this operation",
}
SOME_FAILED = {
    "ErrorCode": "COLLECTION_SOME_OPERATIONS_FAILED",
    "Description": "Some of the operations failed",
}


def results(reply_body: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = reply_body["TrackActionResults"]
    return items


def error_code(reply_body: Any) -> str:
    code: str = reply_body["Error"]["ErrorCode"]
    return code


# -- add -------------------------------------------------------------------------------------


async def test_guid_input_ids_come_back_upper_cased(api: Api) -> None:
    reply = await api.add([LOWER, RANDOM_GUID, "music.not-a-guid", "plain"])
    body = reply.json()
    assert [item["InputId"] for item in results(body)] == [
        UPPER,
        RANDOM_GUID.upper().replace("MUSIC.", "music."),
        "music.not-a-guid",
        "plain",
    ]
    assert "Id" in results(body)[0]
    assert [item["Error"] for item in results(body)[1:]] == [INVALID_ADD_ITEM] * 3
    assert api.server.collection("demo-token") == {UPPER: results(body)[0]["Id"]}


async def test_minted_ids_have_the_documented_layout(api: Api) -> None:
    ids = [catalog_track_id(n) for n in (0, 0x12345678, 0xFFFFFFFF)]
    body = (await api.add(ids)).json()
    for catalog_id, item in zip(ids, results(body), strict=True):
        collection_id = item["Id"]
        assert collection_id.startswith("music.") and len(collection_id) == 40
        encoded = collection_id[len("music.") :]
        assert set(encoded) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        raw = base64.urlsafe_b64decode(encoded + "==")
        assert len(raw) == 25
        assert raw[:3] == b"\x01\x04\x1f" and raw[23:] == b"\x00\x01"
        assert raw[19:23] == bytes.fromhex(catalog_id[6:14])[::-1]
        assert collection_id != catalog_id


async def test_re_adding_returns_the_existing_id(api: Api) -> None:
    first = results((await api.add([UPPER])).json())[0]["Id"]
    again = results((await api.add([LOWER, UPPER, LOWER])).json())
    assert again == [{"InputId": UPPER, "Id": first}] * 3
    assert api.server.collection("demo-token") == {UPPER: first}


async def test_artists_and_random_guids_are_not_in_the_default_catalog(api: Api) -> None:
    body = (await api.add([ARTIST, RANDOM_GUID, catalog_track_id(7)])).json()
    assert [("Error" in item, "Id" in item) for item in results(body)] == [
        (True, False),
        (True, False),
        (False, True),
    ]
    assert body["Error"] == SOME_FAILED


async def test_full_success_has_no_top_level_error(api: Api) -> None:
    body = (await api.add([catalog_track_id(1), catalog_track_id(2)])).json()
    assert set(body) == {"TrackActionResults"}
    assert all(set(item) == {"InputId", "Id"} for item in results(body))


async def test_a_collection_of_ids_is_the_exact_catalog(emulator: StartEmulator) -> None:
    api = await emulator(catalog=[LOWER, "music.custom-track"])
    body = (await api.add([UPPER, "music.custom-track", catalog_track_id(1)])).json()
    assert ["Id" in item for item in results(body)] == [True, True, False]
    minted = results(body)[1]["Id"]
    raw = base64.urlsafe_b64decode(minted[len("music.") :] + "==")
    assert raw[19:23] == b"\x00\x00\x00\x00"  # no GUID to take the bytes from


async def test_a_callable_catalog_sees_normalised_ids(emulator: StartEmulator) -> None:
    seen: list[str] = []

    def exists(track_id: str) -> bool:
        seen.append(track_id)
        return track_id.endswith("1")

    api = await emulator(catalog=exists)
    body = (await api.add(["music.00000001-0100-11db-89ca-0019b92a3931", "music.x2"])).json()
    assert ["Id" in item for item in results(body)] == [True, False]
    assert seen == ["music.00000001-0100-11DB-89CA-0019B92A3931", "music.x2"]


def test_a_single_string_is_refused_as_catalog_or_tokens() -> None:
    with pytest.raises(TypeError):
        FakeGrooveServer(catalog="music.x")
    with pytest.raises(TypeError):
        FakeGrooveServer(tokens="demo-token")


# -- delete ----------------------------------------------------------------------------------


async def test_delete_takes_collection_ids(api: Api) -> None:
    added = results((await api.add([catalog_track_id(1), catalog_track_id(2)])).json())
    first, second = added[0]["Id"], added[1]["Id"]
    reply = await api.delete(
        [first, catalog_track_id(2), "music.AQQfAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ"]
    )
    body = reply.json()
    assert reply.status == 200
    assert body == {
        "TrackActionResults": [
            {"InputId": first},
            {"InputId": catalog_track_id(2), "Error": INVALID_DELETE_ITEM},
            {"InputId": "music.AQQfAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ", "Error": INVALID_DELETE_ITEM},
        ],
        "Error": SOME_FAILED,
    }
    assert api.server.collection("demo-token") == {catalog_track_id(2): second}

    # Deleting again fails; adding again mints a new ID.
    assert error_code(results((await api.delete([first])).json())[0]) == "COLLECTION_INVALID_ID"
    again = results((await api.add([catalog_track_id(1)])).json())[0]["Id"]
    assert again != first


async def test_delete_success_only(api: Api) -> None:
    added = [item["Id"] for item in results((await api.add([catalog_track_id(1)])).json())]
    body = (await api.delete(added)).json()
    assert body == {"TrackActionResults": [{"InputId": added[0]}]}
    assert api.server.collection("demo-token") == {}


# -- capacity --------------------------------------------------------------------------------


async def test_a_full_collection_rejects_items_that_do_not_fit(emulator: StartEmulator) -> None:
    api = await emulator(capacity=2)
    body = (await api.add([catalog_track_id(i) for i in range(3)])).json()
    assert ["Id" in item for item in results(body)] == [True, True, False]
    assert results(body)[2]["Error"] == {
        "ErrorCode": "COLLECTION_FULL",
        "Description": "The collection is full",
        "Message": "A collection holds at most 2 tracks",
    }
    assert body["Error"] == SOME_FAILED

    # Re-adds still succeed when full; invalid IDs are reported as invalid, not as full.
    body = (await api.add([catalog_track_id(0), RANDOM_GUID])).json()
    assert "Id" in results(body)[0]
    assert results(body)[1]["Error"]["ErrorCode"] == "COLLECTION_INVALID_ID"

    # Deleting frees room.
    await api.delete([results(body)[0]["Id"]])
    body = (await api.add([catalog_track_id(2)])).json()
    assert "Error" not in body
    assert len(api.server.collection("demo-token")) == 2


# -- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["add", "Add", "ADD", "aDd"])
async def test_the_action_segment_is_case_insensitive(api: Api, action: str) -> None:
    reply = await api.post(f"/1/content/music/collection/{action}", {"TrackIds": [UPPER]})
    assert reply.status == 200
    collection_id = api.server.collection("demo-token")[UPPER]
    reply = await api.post("/1/content/music/collection/Delete", {"TrackIds": [collection_id]})
    assert reply.json() == {"TrackActionResults": [{"InputId": collection_id}]}


@pytest.mark.parametrize("namespace", ["video", "Music", "xbox"])
async def test_other_namespaces_are_invalid(api: Api, namespace: str) -> None:
    reply = await api.post(f"/1/content/{namespace}/collection/add", {"TrackIds": [UPPER]})
    assert reply.status == 400
    assert error_code(reply.json()) == "INVALID_INPUT_PARAMETER"
    assert set(reply.json()) == {"Error"}
    assert api.server.collection("demo-token") == {}


async def test_unknown_actions_and_methods(api: Api) -> None:
    assert (await api.post("/1/content/music/collection/move", {"TrackIds": [UPPER]})).status == 404
    assert (await api.request("GET", ADD)).status == 405
    assert (await api.request("GET", "/1/content/music/lookup")).status == 404


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "MISSING_INPUT_PARAMETER"),
        (b"{}", "MISSING_INPUT_PARAMETER"),
        (b'{"TrackIds": []}', "MISSING_INPUT_PARAMETER"),
        (b'{"TrackIds": null}', "MISSING_INPUT_PARAMETER"),
        (b'{"trackIds": ["music.x"]}', "MISSING_INPUT_PARAMETER"),
        (b"not json", "INVALID_INPUT_PARAMETER"),
        (b'{"TrackIds": ["music.x"', "INVALID_INPUT_PARAMETER"),
        (b"\xff\xfe", "INVALID_INPUT_PARAMETER"),
        (b"[]", "INVALID_INPUT_PARAMETER"),
        (b'"TrackIds"', "INVALID_INPUT_PARAMETER"),
        (b'{"TrackIds": "music.x"}', "INVALID_INPUT_PARAMETER"),
        (b'{"TrackIds": [1, 2]}', "INVALID_INPUT_PARAMETER"),
        (b'{"TrackIds": ["music.x", null]}', "INVALID_INPUT_PARAMETER"),
        (b"<TrackActionRequest/>", "INVALID_INPUT_PARAMETER"),
    ],
)
async def test_bad_bodies(api: Api, body: bytes, code: str) -> None:
    for path in (ADD, DELETE):
        reply = await api.request("POST", path, body=body)
        assert reply.status == 400
        assert error_code(reply.json()) == code
        assert set(reply.json()) == {"Error"}
    assert api.server.collection("demo-token") == {}


async def test_a_body_with_a_bom_and_extra_members_is_read(api: Api) -> None:
    body = b"\xef\xbb\xbf" + json.dumps({"TrackIds": [UPPER], "Extra": 1}).encode()
    reply = await api.request("POST", ADD, body=body)
    assert reply.status == 200
    assert list(api.server.collection("demo-token")) == [UPPER]


async def test_more_than_100_ids_change_nothing_even_with_duplicates(api: Api) -> None:
    reply = await api.add([UPPER] * 101)
    assert reply.status == 400 and error_code(reply.json()) == "COLLECTION_INVALID_OPERATION"
    assert api.server.collection("demo-token") == {}
    assert api.server.requests[-1].id_count == 101


async def test_no_member_is_ever_null(api: Api) -> None:
    replies = [
        await api.add([UPPER, RANDOM_GUID]),
        await api.delete(["music.nope"]),
        await api.add([]),
        await api.add([UPPER], token="bad"),
        await api.profile(),
    ]
    for reply in replies:
        assert b"null" not in reply.body


# -- authentication --------------------------------------------------------------------------


async def test_each_token_is_its_own_user(emulator: StartEmulator) -> None:
    api = await emulator(tokens=["t1", "t2"])
    await api.add([catalog_track_id(1)], token="t1")
    await api.add([catalog_track_id(2), catalog_track_id(3)], token="t2")
    assert list(api.server.collection("t1")) == [catalog_track_id(1)]
    assert list(api.server.collection("t2")) == [catalog_track_id(2), catalog_track_id(3)]


@pytest.mark.parametrize(
    "authorization",
    ["Basic ZGVtby10b2tlbg==", "Bearer", "Bearer ", "demo-token", "Bearer demo-token2"],
)
async def test_malformed_authorization_is_refused(api: Api, authorization: str) -> None:
    reply = await api.add([UPPER], token=None, headers={"Authorization": authorization})
    assert reply.status == 401
    assert error_code(reply.json()) == "INVALID_AUTHORIZATION_HEADER"


async def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    reply = await api.add([UPPER], token=None, headers={"Authorization": "bearer demo-token"})
    assert reply.status == 200


async def test_two_authorization_headers_are_refused(api: Api) -> None:
    async with api.session.post(
        api.server.url + ADD,
        json={"TrackIds": [UPPER]},
        headers=[("Authorization", "Bearer demo-token"), ("Authorization", "Bearer demo-token")],
    ) as response:
        assert response.status == 401


async def test_expired_tokens(emulator: StartEmulator) -> None:
    api = await emulator(tokens=["old"])
    await api.add([catalog_track_id(1)], token="old")
    api.server.expire_token("old")
    for reply in (
        await api.add([catalog_track_id(2)], token="old"),
        await api.profile(token="old"),
    ):
        assert reply.status == 401
        assert reply.json() == {
            "Error": {
                "ErrorCode": "AUTHORIZATION_TOKEN_EXPIRED",
                "Description": "The authorization token has expired",
                "Message": "Refresh the user token and retry",
            }
        }
    assert list(api.server.collection("old")) == [catalog_track_id(1)]

    # A refreshed token of the same user sees the same collection.
    api.server.add_token("new", same_user_as="old")
    assert (await api.add([catalog_track_id(2)], token="new")).status == 200
    assert api.server.collection("new") == api.server.collection("old")
    assert len(api.server.collection("new")) == 2

    # Accepting the old token again revives it.
    api.server.add_token("old")
    assert (await api.add([catalog_track_id(3)], token="old")).status == 200


def test_token_management_errors_never_show_the_token() -> None:
    server = FakeGrooveServer(tokens=["t1"])
    for call in (
        lambda: server.collection("secret-1"),
        lambda: server.expire_token("secret-1"),
        lambda: server.add_token("t2", same_user_as="secret-1"),
    ):
        with pytest.raises(KeyError) as info:
            call()
        assert "secret-1" not in str(info.value)
    for bad in ("", "has space", "tab\there", "new\nline"):
        with pytest.raises(ValueError, match="token") as error:
            server.add_token(bad)
        assert bad not in str(error.value) or not bad


# -- profile ---------------------------------------------------------------------------------


async def test_profile_reports_counts_and_remaining_capacity(emulator: StartEmulator) -> None:
    api = await emulator(capacity=10)
    before = (await api.profile()).json()
    assert before == {
        "HasSubscription": False,
        "IsSubscriptionAvailableForPurchase": True,
        "Culture": "en-US",
        "Collection": {
            "Token": before["Collection"]["Token"],
            "RemainingPlaylistCount": 100,
            "RemainingTrackCount": 10,
        },
    }  # spec section 9.2: zero counts are omitted
    await api.add([catalog_track_id(i) for i in range(3)])
    after = (await api.profile()).json()["Collection"]
    assert (after["TrackCount"], after["RemainingTrackCount"]) == (3, 7)
    assert after["Token"] != before["Collection"]["Token"]


async def test_profile_needs_a_user_and_the_music_namespace(api: Api) -> None:
    reply = await api.profile(token=None)
    assert reply.status == 401 and error_code(reply.json()) == "INVALID_AUTHORIZATION_HEADER"
    reply = await api.request("GET", PROFILE.replace("music", "video"))
    assert reply.status == 400 and error_code(reply.json()) == "INVALID_INPUT_PARAMETER"
    assert (await api.request("POST", PROFILE)).status == 405


# -- spelling --------------------------------------------------------------------------------


async def test_hyphen_codes_apply_to_every_code(emulator: StartEmulator) -> None:
    api = await emulator(hyphen_codes=True, capacity=1, tokens=["t", "x"])
    api.server.expire_token("x")
    replies = [
        await api.add([catalog_track_id(1), catalog_track_id(2), RANDOM_GUID], token="t"),
        await api.delete(["music.nope"], token="t"),
        await api.add([], token="t"),
        await api.request("POST", ADD, body=b"nope", token="t"),
        await api.add([UPPER] * 101, token="t"),
        await api.add([UPPER], token="x"),
        await api.add([UPPER], token="bad"),
    ]
    codes: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "ErrorCode":
                    codes.append(item)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for reply in replies:
        collect(reply.json())
    assert len(codes) >= 10
    assert all("_" not in code and "-" in code for code in codes)
    assert "COLLECTION-FULL" in codes and "AUTHORIZATION-TOKEN-EXPIRED" in codes
    assert api.server.hyphen_codes


# -- request log -----------------------------------------------------------------------------


async def test_the_request_log(emulator: StartEmulator) -> None:
    api = await emulator(tokens=["first-secret-token", "second-secret-token"])
    await api.add([LOWER, catalog_track_id(1)], token="second-secret-token")
    await api.add([UPPER], token="another-secret-token")
    await api.add([UPPER], token=None)
    await api.request(
        "POST",
        ADD + "?accessToken=Bearer+query-secret-token",
        body=b"{}",
        token="first-secret-token",
    )
    await api.profile(token="first-secret-token")

    records = api.server.requests
    assert [(r.method, r.path, r.status, r.id_count, r.token, r.fault) for r in records] == [
        ("POST", ADD, 200, 2, "token#2", None),
        ("POST", ADD, 401, 1, "unknown", None),
        ("POST", ADD, 401, 1, "missing", None),
        ("POST", ADD, 400, 0, "token#1", None),
        ("GET", PROFILE, 200, 0, "token#1", None),
    ]
    assert records[0].ids == (LOWER, catalog_track_id(1))  # as received
    times = [r.time for r in records]
    assert times == sorted(times)

    text = repr(records) + repr(api.server) + str([attrs.asdict(r) for r in records])
    for secret in ("secret-token", "first-secret", "second-secret", "query-secret"):
        assert secret not in text

    api.server.clear_requests()
    assert api.server.requests == []


async def test_the_log_is_bounded(emulator: StartEmulator) -> None:
    api = await emulator(log_limit=2)
    for i in range(3):
        await api.add([catalog_track_id(i)])
    assert [r.ids for r in api.server.requests] == [(catalog_track_id(1),), (catalog_track_id(2),)]

    quiet = await emulator(log_limit=0)
    await quiet.add([UPPER])
    assert quiet.server.requests == []


# -- construction ----------------------------------------------------------------------------


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="capacity"):
        FakeGrooveServer(capacity=-1)
    with pytest.raises(ValueError, match="log_limit"):
        FakeGrooveServer(log_limit=-1)
    with pytest.raises(TypeError):
        FakeGrooveServer(faults="none")  # type: ignore[arg-type]
    assert FakeGrooveServer(tokens=[]).capacity == 50_000


async def test_non_ascii_and_lone_surrogate_ids_are_echoed(api: Api) -> None:
    reply = await api.add(["music.café"])
    assert "music.café".encode() in reply.body  # raw UTF-8, as a .NET service writes it
    assert reply.json()["TrackActionResults"][0]["InputId"] == "music.café"
    reply = await api.request("POST", ADD, body=b'{"TrackIds": ["music.\\ud800"]}')
    assert reply.status == 200
    assert reply.json()["TrackActionResults"][0]["InputId"] == "music.\ud800"
