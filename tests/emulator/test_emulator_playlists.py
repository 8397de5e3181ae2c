"""Playlist edits against the raw HTTP contract (spec section 9.1): the documented examples,
appends, entry IDs, both playlist-ID forms, every refusal and limit (the CollectionStateToken
is in test_emulator_state_token.py, lost answers in test_emulator_lost_answers.py)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from groove_async.testing import catalog_track_id
from tests.emulator.conftest import (
    CREATE,
    DELETE_PLAYLIST,
    PLAYLISTS,
    UPDATE,
    Api,
    Reply,
    StartEmulator,
    adds,
    assert_refused,
    browse_form,
    catalog_ids,
    deletes,
    entry_ids,
    error_code,
    lookup_path,
)

TOKEN = "demo-token"
DOC_TRACK = "music.A83EB907-0100-11DB-89CA-0019B92A3933"
RANDOM_GUID = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"  # not in the default catalog
RANDOM_GUID_ECHO = "music.9BB2C5C5-455C-4C15-827C-F9BFD759A458"  # normalised (spec 3.1)
ARTIST = "music.8D6F0000-0200-11DB-89CA-0019B92A3933"
A, B, C = (catalog_track_id(i) for i in range(3))


def result_of(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()["PlaylistActionResult"]
    return result


def decode(some_id: str) -> bytes:
    rest = some_id.removeprefix("music.")
    assert "=" not in rest
    return base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4))


def assert_entry_id_layout(entry_id: str, catalog_id: str) -> None:
    """Spec 9.1: an entry ID has the 25-byte layout of collection IDs (spec section 7)."""
    raw = decode(entry_id)
    assert len(raw) == 25
    assert raw[:3] == b"\x01\x04\x1f" and raw[23:] == b"\x00\x01"
    assert raw[19:23] == bytes.fromhex(catalog_id.removeprefix("music.")[:8])[::-1]


# -- the documented examples --------------------------------------------------------------------


async def test_the_documented_create_with_tracks(api: Api) -> None:
    body = {
        "Name": "Groove APIs rock!",
        "IsPublished": False,
        "TrackActions": [{"Id": DOC_TRACK, "Action": "Add"}],
    }
    reply = await api.post(CREATE, body)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    answer = reply.json()
    result = answer["PlaylistActionResult"]
    playlist_id, entry_id = result["Id"], result["TrackActionResults"][0]["Id"]
    assert answer == {
        "PlaylistActionResult": {
            "Id": playlist_id,
            "Name": "Groove APIs rock!",
            "IsPublished": False,
            "TrackActionResults": [{"InputId": DOC_TRACK, "Id": entry_id}],
        }
    }
    # music.playlist.<lower-case guid>, as music.playlist.d7e2d6b8-8028-00fe-a58d-423bda374ad1.
    guid = playlist_id.removeprefix("music.playlist.")
    assert playlist_id.startswith("music.playlist.") and str(uuid.UUID(guid)) == guid
    assert len(entry_id) == len("music.AQQf4QwRv9XTc0enTqGcoGW-Dwe5PqgAAQ")
    assert_entry_id_layout(entry_id, DOC_TRACK)
    (stored,) = api.server.playlists(TOKEN)
    assert (stored.id, stored.name) == (playlist_id, "Groove APIs rock!")
    assert stored.is_published is False
    assert stored.entries == ((entry_id, DOC_TRACK),)
    assert api.server.collection(TOKEN) == {}  # a playlist's track need not be in the library


async def test_the_documented_delete(api: Api) -> None:
    playlist_id = await api.new_playlist("Doomed", A)
    reply = await api.post(DELETE_PLAYLIST, {"Id": playlist_id})
    assert (reply.status, reply.json()) == (200, {"PlaylistActionResult": {"Id": playlist_id}})
    assert api.server.playlists(TOKEN) == []
    assert (await api.get(lookup_path(playlist_id))).status == 404


# -- what an answer holds ----------------------------------------------------------------------


async def test_name_and_is_published_are_echoed_only_when_sent(api: Api) -> None:
    created = result_of(await api.create("Plain"))
    assert set(created) == {"Id", "Name"}
    playlist_id = created["Id"]
    assert result_of(await api.update(playlist_id)) == {"Id": playlist_id}
    assert result_of(await api.update(playlist_id, IsPublished=True)) == {
        "Id": playlist_id,
        "IsPublished": True,
    }
    assert result_of(await api.update(playlist_id, Name="Renamed", TrackActions=[])) == {
        "Id": playlist_id,
        "Name": "Renamed",
    }
    stored = api.server.playlist(TOKEN, playlist_id)
    assert stored is not None and (stored.name, stored.is_published) == ("Renamed", True)


async def test_no_answer_holds_a_null_or_the_state_token(api: Api) -> None:
    playlist_id = await api.new_playlist("P", A)
    replies = [
        await api.create("Q", A, RANDOM_GUID, IsPublished=True),
        await api.update(playlist_id, Name="R", TrackActions=[*adds(B), *deletes("music.x")]),
        await api.update(playlist_id, CollectionStateToken="stale"),
        await api.delete_playlist(playlist_id),
    ]
    for reply in replies:
        assert b"null" not in reply.body
        assert "CollectionStateToken" not in members(reply.json())  # spec 9.1: never in an edit


def members(value: Any) -> set[str]:
    """Every member name of a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value).union(*(members(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(members(v) for v in value))
    return set()


# -- Add and Delete -----------------------------------------------------------------------------


async def test_add_appends_in_order_with_duplicates_and_a_new_entry_id_each_time(
    api: Api,
) -> None:
    playlist_id = await api.new_playlist("Grows", A, B)
    result = result_of(await api.update(playlist_id, TrackActions=adds(A, C, A)))
    assert [r["InputId"] for r in result["TrackActionResults"]] == [A, C, A]
    assert catalog_ids(api.server, playlist_id) == [A, B, A, C, A]
    minted = entry_ids(api.server, playlist_id)
    assert len(set(minted)) == 5
    assert [r["Id"] for r in result["TrackActionResults"]] == minted[2:]
    for entry_id, catalog_id in zip(minted, [A, B, A, C, A], strict=True):
        assert_entry_id_layout(entry_id, catalog_id)


async def test_unknown_catalog_ids_fail_per_item_with_a_200(api: Api) -> None:
    reply = await api.create("Mixed", A, RANDOM_GUID, ARTIST, "music.nope")
    assert reply.status == 200
    answer = reply.json()
    assert answer["Error"] == {
        "ErrorCode": "COLLECTION_SOME_OPERATIONS_FAILED",
        "Description": "Some of the operations failed",
    }
    results = answer["PlaylistActionResult"]["TrackActionResults"]
    assert [r["InputId"] for r in results] == [A, RANDOM_GUID_ECHO, ARTIST, "music.nope"]
    assert "Id" in results[0] and "Error" not in results[0]
    for failed in results[1:]:
        assert set(failed) == {"InputId", "Error"}
        assert failed["Error"]["ErrorCode"] == "COLLECTION_INVALID_ID"
        assert failed["Error"]["Message"]  # the catalog rules of collection/add
    assert catalog_ids(api.server, answer["PlaylistActionResult"]["Id"]) == [A]


async def test_every_action_failing_is_still_a_200(api: Api) -> None:
    playlist_id = await api.new_playlist("Base", A)
    before = api.server.collection_state(TOKEN)
    reply = await api.update(playlist_id, TrackActions=[*adds(RANDOM_GUID), *deletes("music.x")])
    assert reply.status == 200
    assert reply.json()["Error"]["ErrorCode"] == "COLLECTION_SOME_OPERATIONS_FAILED"
    assert catalog_ids(api.server, playlist_id) == [A]
    assert api.server.collection_state(TOKEN) == before  # nothing changed


async def test_input_ids_are_normalised_as_by_collection_add(api: Api) -> None:
    result = result_of(await api.create("Case", A.lower()))
    assert result["TrackActionResults"][0]["InputId"] == A
    assert catalog_ids(api.server, result["Id"]) == [A]


async def test_delete_takes_entry_ids(api: Api) -> None:
    collection_id = (await api.add([B])).json()["TrackActionResults"][0]["Id"]
    playlist_id = await api.new_playlist("Three", A, B, A)
    first_a, entry_b, second_a = entry_ids(api.server, playlist_id)
    reply = await api.update(
        playlist_id, TrackActions=deletes(first_a, first_a, A, collection_id, "music.nope")
    )
    assert reply.status == 200
    results = reply.json()["PlaylistActionResult"]["TrackActionResults"]
    assert results[0] == {"InputId": first_a}
    refused = [first_a, A, collection_id, "music.nope"]
    for failed, input_id in zip(results[1:], refused, strict=True):
        assert failed["InputId"] == input_id
        # The per-item error of collection/delete: no Message.
        assert failed["Error"] == {
            "ErrorCode": "COLLECTION_INVALID_ID",
            "Description": "Invalid collection id for this operation",
        }
    assert reply.json()["Error"]["ErrorCode"] == "COLLECTION_SOME_OPERATIONS_FAILED"
    stored = api.server.playlist(TOKEN, playlist_id)
    assert stored is not None and stored.entries == ((entry_b, B), (second_a, A))


async def test_actions_apply_in_request_order_and_case_insensitively(api: Api) -> None:
    playlist_id = await api.new_playlist("Order", A, B)
    _, entry_b = entry_ids(api.server, playlist_id)
    actions = [
        {"Id": C, "Action": "add"},
        {"Id": entry_b, "Action": "DELETE"},
        {"Id": B, "Action": "Add"},
    ]
    result = result_of(await api.update(playlist_id, TrackActions=actions))
    assert [set(r) for r in result["TrackActionResults"]] == [
        {"InputId", "Id"},
        {"InputId"},
        {"InputId", "Id"},
    ]
    assert catalog_ids(api.server, playlist_id) == [A, C, B]


async def test_two_playlists_may_share_a_name(api: Api) -> None:
    first = await api.new_playlist("Same", A)
    second = await api.new_playlist("Same", A)
    assert first != second
    assert [p.id for p in api.server.playlists(TOKEN)] == [second, first]  # newest first


# -- both playlist-ID forms --------------------------------------------------------------------


async def test_both_id_forms_are_accepted_and_answered_in_the_edit_form(api: Api) -> None:
    playlist_id = await api.new_playlist("Forms", A)
    browse_id = browse_form(playlist_id)
    (stored,) = api.server.playlists(TOKEN)
    assert stored.browse_id == browse_id
    assert browse_id.startswith(("music.AQM", "music.AQN", "music.AQO", "music.AQP"))
    assert result_of(await api.update(browse_id, TrackActions=adds(B)))["Id"] == playlist_id
    upper = "music.playlist." + playlist_id.removeprefix("music.playlist.").upper()
    assert result_of(await api.update(upper, Name="Upper"))["Id"] == playlist_id
    assert catalog_ids(api.server, playlist_id) == [A, B]
    assert api.server.playlist(TOKEN, browse_id) == api.server.playlist(TOKEN, playlist_id)
    assert result_of(await api.delete_playlist(browse_id)) == {"Id": playlist_id}
    assert api.server.playlists(TOKEN) == []


def test_the_documented_browse_ids_decode_to_guids() -> None:
    # Spec 9.1: music.AQMhT-EZaoD-AHqGpBl9GuHQ and music.AQPRiQGUVID-ANj02JdwYA_R.
    for browse_id in ("music.AQMhT-EZaoD-AHqGpBl9GuHQ", "music.AQPRiQGUVID-ANj02JdwYA_R"):
        raw = decode(browse_id)
        assert len(raw) == 18 and raw[:2] == b"\x01\x03"
        edit_id = f"music.playlist.{uuid.UUID(bytes_le=raw[2:])}"
        assert browse_form(edit_id) == browse_id


# -- refusals: nothing applied -----------------------------------------------------------------


async def test_a_missing_id_is_invalid_playlist_info(api: Api) -> None:
    await api.new_playlist("Keep", A)
    before = api.server.playlists(TOKEN)
    for reply in (
        await api.update(None, Name="x", TrackActions=adds(B)),
        await api.delete_playlist(None),
        await api.request("POST", UPDATE, body=b""),
    ):
        assert_refused(reply, 400, "COLLECTION_INVALID_PLAYLIST_INFO")
    assert api.server.playlists(TOKEN) == before


@pytest.mark.parametrize("name", [None, "", "x" * 257])
async def test_create_needs_a_name_of_1_to_256_characters(api: Api, name: str | None) -> None:
    reply = await api.create(name, A)
    assert_refused(reply, 400, "COLLECTION_INVALID_PLAYLIST_INFO")
    assert api.server.playlists(TOKEN) == []
    assert result_of(await api.create("x" * 256))["Name"] == "x" * 256
    assert result_of(await api.create("y"))["Name"] == "y"


async def test_update_refuses_a_bad_name_and_applies_nothing(api: Api) -> None:
    playlist_id = await api.new_playlist("Keep", A)
    for name in ("", "z" * 257):
        reply = await api.update(playlist_id, Name=name, TrackActions=adds(B))
        assert_refused(reply, 400, "COLLECTION_INVALID_PLAYLIST_INFO")
    assert catalog_ids(api.server, playlist_id) == [A]
    stored = api.server.playlist(TOKEN, playlist_id)
    assert stored is not None and stored.name == "Keep"


@pytest.mark.parametrize(
    "playlist_id",
    [
        "music.playlist.00000000-0000-0000-0000-000000000000",
        "music.AQMAAAAAAAAAAAAAAAAAAAAA",
        "music.AQQAAAAAAAAAAAAAAAAAAAAA",  # 01 04: not a playlist's header
        "music.playlist.nope",
        "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ",  # a collection ID
        "nope",
    ],
)
async def test_an_unknown_playlist_is_no_result(api: Api, playlist_id: str) -> None:
    await api.new_playlist("Other", A)
    state = api.server.collection_state(TOKEN)
    for reply in (
        await api.update(playlist_id, TrackActions=adds(B)),
        await api.delete_playlist(playlist_id),
    ):
        assert_refused(reply, 404, "COLLECTION_NO_RESULT")
    assert api.server.collection_state(TOKEN) == state


async def test_more_than_100_actions_are_refused_whole(api: Api) -> None:
    playlist_id = await api.new_playlist("Limit", A)
    state = api.server.collection_state(TOKEN)
    many = [catalog_track_id(i) for i in range(101)]
    for reply in (
        await api.update(playlist_id, TrackActions=adds(*many)),
        await api.create("New", *many),
    ):
        assert (reply.status, reply.json()) == (
            400,
            {
                "Error": {
                    "ErrorCode": "COLLECTION_INVALID_OPERATION",
                    "Description": "This operation is not supported",
                    "Message": "Number of tracks for this operation is limited to 100",
                }
            },
        )
    assert catalog_ids(api.server, playlist_id) == [A]
    assert len(api.server.playlists(TOKEN)) == 1
    assert api.server.collection_state(TOKEN) == state
    # Exactly 100 is accepted.
    assert result_of(await api.update(playlist_id, TrackActions=adds(*many[:100])))
    assert len(catalog_ids(api.server, playlist_id)) == 101


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'"Name"',
        b'{"Name": 5}',
        b'{"Name": "x", "IsPublished": "yes"}',
        b'{"Name": "x", "CollectionStateToken": 3}',
        b'{"Name": "x", "Id": 1}',
        b'{"Name": "x", "TrackActions": {"Id": "music.x"}}',
        b'{"Name": "x", "TrackActions": ["music.x"]}',
        b'{"Name": "x", "TrackActions": [{"Id": "music.x"}]}',
        b'{"Name": "x", "TrackActions": [{"Action": "Add"}]}',
        b'{"Name": "x", "TrackActions": [{"Id": "music.x", "Action": "Move"}]}',
        b"<PlaylistAction><Name>x</Name></PlaylistAction>",  # not in the platform namespace
    ],
)
async def test_bodies_that_are_not_a_playlist_action(api: Api, body: bytes) -> None:
    reply = await api.request("POST", CREATE, body=body)
    assert_refused(reply, 400, "INVALID_INPUT_PARAMETER")
    assert reply.json()["Error"]["Message"]
    assert api.server.playlists(TOKEN) == []


async def test_nulls_and_unknown_members_are_ignored(api: Api) -> None:
    body = {"Name": "x", "Id": None, "IsPublished": None, "TrackActions": None, "Other": [1]}
    assert result_of(await api.post(CREATE, body)) == {
        "Id": api.server.playlists(TOKEN)[0].id,
        "Name": "x",
    }


async def test_100_playlists_fill_a_collection(api: Api) -> None:
    for n in range(100):
        await api.new_playlist(f"P{n}")
    state = api.server.collection_state(TOKEN)
    reply = await api.create("One too many", A)
    assert_refused(reply, 400, "COLLECTION_FULL")
    assert len(api.server.playlists(TOKEN)) == 100
    assert api.server.collection_state(TOKEN) == state
    await api.delete_playlist(api.server.playlists(TOKEN)[-1].id)
    assert (await api.create("Fits again")).status == 200


async def test_1000_entries_fill_a_playlist(api: Api) -> None:
    playlist_id = await api.new_playlist("Big")
    for start in range(0, 1000, 100):
        batch = [catalog_track_id(i) for i in range(start, start + 100)]
        assert (await api.update(playlist_id, TrackActions=adds(*batch))).status == 200
    first, second = entry_ids(api.server, playlist_id)[:2]
    state = api.server.collection_state(TOKEN)
    # One entry more, even beside a valid delete that comes after it: refused whole.
    for actions in (adds(A), [*adds(A, B), *deletes(first)]):
        reply = await api.update(playlist_id, Name="Renamed", TrackActions=actions)
        assert_refused(reply, 400, "COLLECTION_PLAYLIST_FULL")
    stored = api.server.playlist(TOKEN, playlist_id)
    assert stored is not None and len(stored.entries) == 1000 and stored.name == "Big"
    assert api.server.collection_state(TOKEN) == state
    # Ending at 1,000 is fine, in any order.
    actions = [*adds(A), *deletes(first, second), *adds(B)]
    reply = await api.update(playlist_id, TrackActions=actions)
    assert reply.status == 200 and "Error" not in reply.json()
    assert len(entry_ids(api.server, playlist_id)) == 1000


# -- the common checks: user, namespace, routing -------------------------------------------------


async def test_edits_need_a_user(emulator: StartEmulator) -> None:
    api = await emulator(tokens=["t", "old"])
    api.server.expire_token("old")
    for token, code in [
        (None, "INVALID_AUTHORIZATION_HEADER"),
        ("bad", "INVALID_AUTHORIZATION_HEADER"),
        ("old", "AUTHORIZATION_TOKEN_EXPIRED"),
    ]:
        reply = await api.create("x", A, token=token)
        assert_refused(reply, 401, code)
    assert api.server.playlists("t") == api.server.playlists("old") == []
    record = api.server.requests[-1]
    assert (record.path, record.status, record.token) == (CREATE, 401, "token#2")


async def test_other_namespaces_are_refused(api: Api) -> None:
    reply = await api.post("/1/content/video/collection/playlists/create", {"Name": "x"})
    assert_refused(reply, 400, "INVALID_INPUT_PARAMETER")
    assert api.server.playlists(TOKEN) == []


@pytest.mark.parametrize("verb", ["Create", "CREATE", "create"])
async def test_the_verb_is_case_insensitive(api: Api, verb: str) -> None:
    reply = await api.post(f"/1/content/music/collection/playlists/{verb}", {"Name": "x"})
    assert reply.status == 200


async def test_edit_routes(api: Api) -> None:
    assert (await api.get(CREATE)).status == 405
    assert (await api.get(CREATE)).headers["Allow"] == "POST"
    assert (await api.post("/1/content/music/collection/playlists/move", {})).status == 404
    assert (await api.post(PLAYLISTS, {})).status == 405


async def test_hyphen_codes_apply_to_the_playlist_codes(emulator: StartEmulator) -> None:
    api = await emulator(hyphen_codes=True)
    playlist_id = await api.new_playlist("x", A)
    codes = [
        error_code(await api.update(None)),
        error_code(await api.update("music.playlist.00000000-0000-0000-0000-000000000000")),
        error_code(await api.update(playlist_id, CollectionStateToken="stale")),
        error_code(await api.update(playlist_id, TrackActions=adds(*[A] * 101))),
    ]
    assert codes == [
        "COLLECTION-INVALID-PLAYLIST-INFO",
        "COLLECTION-NO-RESULT",
        "COLLECTION-CONCURRENT-UPDATE",
        "COLLECTION-INVALID-OPERATION",
    ]
    answer = (await api.update(playlist_id, TrackActions=adds(RANDOM_GUID))).json()
    assert answer["Error"]["ErrorCode"] == "COLLECTION-SOME-OPERATIONS-FAILED"
    item = answer["PlaylistActionResult"]["TrackActionResults"][0]
    assert item["Error"]["ErrorCode"] == "COLLECTION-INVALID-ID"


async def test_the_request_log_counts_the_track_actions(api: Api) -> None:
    playlist_id = await api.new_playlist("Log", A, RANDOM_GUID)
    await api.update(playlist_id, TrackActions=[*adds(B), *deletes("music.x")])
    await api.request("POST", UPDATE, body=b"nope")
    await api.get(lookup_path(playlist_id))
    records = api.server.requests
    assert [(r.method, r.path, r.status, r.id_count) for r in records] == [
        ("POST", CREATE, 200, 2),
        ("POST", UPDATE, 200, 2),
        ("POST", UPDATE, 400, 0),
        ("GET", f"/1/content/{playlist_id}/lookup", 200, 0),
    ]
    assert records[0].ids == (A, RANDOM_GUID) and records[1].ids == (B, "music.x")
    assert {r.token for r in records} == {"token#1"} and {r.fault for r in records} == {None}
