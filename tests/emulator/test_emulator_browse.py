"""Reading the library back against the raw HTTP contract (spec section 9.2): browse of tracks
and playlists with pagination, playlist lookup and sub-browse, the profile."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from groove_async.testing import FaultPlan, ScriptedResponse, catalog_track_id
from tests.emulator.conftest import (
    PLAYLISTS,
    PROFILE,
    TRACKS,
    Api,
    StartEmulator,
    adds,
    browse_form,
    deletes,
    entries_path,
    error_code,
    lookup_path,
)

TOKEN = "demo-token"
PARTNER = "?partnerID="


def ids(n: int, start: int = 0) -> list[str]:
    return [catalog_track_id(start + i) for i in range(n)]


def catalog_id_of(item: dict[str, Any]) -> str:
    """Spec 9.2: the catalog ID is the Link's last path segment, upper-cased, after music."""
    segment = urlsplit(item["Link"]).path.rpartition("/")[2]
    return f"music.{segment.upper()}"


async def add(api: Api, track_ids: list[str]) -> None:
    for start in range(0, len(track_ids), 100):
        assert (await api.add(track_ids[start : start + 100])).status == 200


async def block(api: Api, path: str, kind: str) -> dict[str, Any]:
    reply = await api.get(path)
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert set(answer) == {kind}
    result: dict[str, Any] = answer[kind]
    return result


async def follow(api: Api, path: str, kind: str) -> list[dict[str, Any]]:
    """Every item of a browse, page after page by continuation token."""
    items: list[dict[str, Any]] = []
    page = await block(api, path, kind)
    while True:
        items.extend(page["Items"])
        token = page.get("ContinuationToken")
        if token is None:
            return items
        separator = "&" if "?" in path else "?"
        page = await block(api, f"{path}{separator}continuationToken={token}", kind)


# -- the tracks browse -------------------------------------------------------------------------


async def test_an_empty_library(api: Api) -> None:
    assert (await api.get(TRACKS)).json() == {"Tracks": {"Items": [], "TotalItemCount": 0}}
    assert (await api.get(PLAYLISTS)).json() == {"Playlists": {"Items": [], "TotalItemCount": 0}}


async def test_tracks_page_by_25_in_the_order_added(api: Api) -> None:
    await add(api, ids(60))
    first = await block(api, TRACKS, "Tracks")
    assert len(first["Items"]) == 25 and first["TotalItemCount"] == 60
    assert list(first) == ["Items", "ContinuationToken", "TotalItemCount"]
    items = await follow(api, TRACKS, "Tracks")
    assert [catalog_id_of(item) for item in items] == ids(60) == api.server.collection_order(TOKEN)
    assert [item["Id"] for item in items] == list(api.server.collection(TOKEN).values())


async def test_a_track_item(api: Api) -> None:
    await add(api, [catalog_track_id(0xA83EB907)])
    (item,) = (await block(api, TRACKS, "Tracks"))["Items"]
    collection_id = api.server.collection(TOKEN)["music.A83EB907-0100-11DB-89CA-0019B92A3933"]
    assert set(item) == {"Id", "Name", "Link", "Source"}
    assert item["Id"] == collection_id
    assert item["Source"] == "Collection"
    assert item["Link"].startswith(
        "https://music.microsoft.com/Track/a83eb907-0100-11db-89ca-0019b92a3933" + PARTNER
    )
    assert isinstance(item["Name"], str) and item["Name"]


async def test_track_names_are_made_up_the_same_way_every_time(emulator: StartEmulator) -> None:
    first, second = await emulator(seed=1), await emulator(seed=2)
    await add(first, ids(30))
    await add(second, list(reversed(ids(30))))
    names = {catalog_id_of(i): i["Name"] for i in await follow(first, TRACKS, "Tracks")}
    again = {catalog_id_of(i): i["Name"] for i in await follow(second, TRACKS, "Tracks")}
    assert names == again
    assert len(set(names.values())) > 1


async def test_a_track_added_again_after_a_delete_comes_last(api: Api) -> None:
    await add(api, ids(3))
    collection_id = api.server.collection(TOKEN)[catalog_track_id(0)]
    await api.delete([collection_id])
    await add(api, ids(1))
    items = (await block(api, TRACKS, "Tracks"))["Items"]
    assert [catalog_id_of(i) for i in items] == [*ids(2, start=1), catalog_track_id(0)]


@pytest.mark.parametrize("size", ["1", "7", "25", "05"])
async def test_max_items_from_1_to_25(api: Api, size: str) -> None:
    await add(api, ids(30))
    page = await block(api, f"{TRACKS}?maxItems={size}", "Tracks")
    assert len(page["Items"]) == int(size) and page["TotalItemCount"] == 30
    assert [catalog_id_of(i) for i in await follow(api, f"{TRACKS}?maxItems={size}", "Tracks")] == (
        ids(30)
    )


@pytest.mark.parametrize("size", ["0", "26", "100", "-1", "abc", "", "1.5", "9999999999"])
@pytest.mark.parametrize("path", [TRACKS, PLAYLISTS])
async def test_other_max_items_are_invalid(api: Api, size: str, path: str) -> None:
    reply = await api.get(f"{path}?maxItems={size}")
    assert (reply.status, error_code(reply)) == (400, "INVALID_INPUT_PARAMETER")


async def test_pages_are_zero_based_offsets(api: Api) -> None:
    await add(api, ids(30))
    page = await block(api, f"{TRACKS}?maxItems=10&page=1", "Tracks")
    assert [catalog_id_of(i) for i in page["Items"]] == ids(10, start=10)
    assert "ContinuationToken" in page
    last = await block(api, f"{TRACKS}?maxItems=10&page=2", "Tracks")
    assert [catalog_id_of(i) for i in last["Items"]] == ids(10, start=20)
    assert set(last) == {"Items", "TotalItemCount"}  # nothing follows
    default = await block(api, f"{TRACKS}?page=1", "Tracks")
    assert [catalog_id_of(i) for i in default["Items"]] == ids(5, start=25)
    assert await block(api, f"{TRACKS}?page=3&maxItems=10", "Tracks") == {
        "Items": [],
        "TotalItemCount": 30,
    }
    for page_number in ("-1", "x", ""):
        reply = await api.get(f"{TRACKS}?page={page_number}")
        assert (reply.status, error_code(reply)) == (400, "INVALID_INPUT_PARAMETER")


async def test_parameter_names_are_case_insensitive(api: Api) -> None:
    await add(api, ids(5))
    page = await block(api, f"{TRACKS}?MAXITEMS=2&Page=1", "Tracks")
    assert [catalog_id_of(i) for i in page["Items"]] == ids(2, start=2)


async def test_continuation_tokens_are_stateless_offsets(api: Api) -> None:
    await add(api, ids(30))
    first = await block(api, f"{TRACKS}?maxItems=10", "Tracks")
    token = first["ContinuationToken"]
    # The token wins over page, and may be used again.
    for path in (f"{TRACKS}?maxItems=10&continuationToken={token}&page=2",) * 2:
        page = await block(api, path, "Tracks")
        assert [catalog_id_of(i) for i in page["Items"]] == ids(10, start=10)
    # maxItems comes from the request that uses the token.
    page = await block(api, f"{TRACKS}?maxItems=3&continuationToken={token}", "Tracks")
    assert [catalog_id_of(i) for i in page["Items"]] == ids(3, start=10)
    # The collection changes: the same offset now shows other tracks (spec 9.2: pages shift).
    await api.delete([api.server.collection(TOKEN)[catalog_track_id(0)]])
    page = await block(api, f"{TRACKS}?maxItems=10&continuationToken={token}", "Tracks")
    assert [catalog_id_of(i) for i in page["Items"]] == ids(10, start=11)
    assert page["TotalItemCount"] == 29
    # An empty token is no token.
    page = await block(api, f"{TRACKS}?maxItems=2&continuationToken=", "Tracks")
    assert [catalog_id_of(i) for i in page["Items"]] == ids(2, start=1)


async def test_bad_continuation_tokens(api: Api) -> None:
    await add(api, ids(30))
    for n in range(3):
        await api.new_playlist(f"P{n}", catalog_track_id(n))
    tracks_token = (await block(api, f"{TRACKS}?maxItems=10", "Tracks"))["ContinuationToken"]
    playlists_token = (await block(api, f"{PLAYLISTS}?maxItems=1", "Playlists"))[
        "ContinuationToken"
    ]
    tampered = tracks_token[:-1] + ("A" if tracks_token[-1] != "A" else "B")
    forged = base64.urlsafe_b64encode(b"tracks:x").decode().rstrip("=")
    for path, token in [
        (TRACKS, "garbage!"),
        (TRACKS, "Zm9v"),
        (TRACKS, tampered),
        (TRACKS, forged),
        (TRACKS, playlists_token),
        (PLAYLISTS, tracks_token),
        (TRACKS, "x" * 300),
    ]:
        reply = await api.get(f"{path}?continuationToken={quote(token)}")
        assert (reply.status, error_code(reply)) == (400, "CONTINUATION_TOKEN_INVALID_ERROR")
        assert reply.json()["Error"]["Description"]


async def test_a_token_past_the_end_gives_an_empty_page(api: Api) -> None:
    await add(api, ids(30))
    token = (await block(api, f"{TRACKS}?maxItems=25", "Tracks"))["ContinuationToken"]
    await api.delete([api.server.collection(TOKEN)[c] for c in ids(10)])
    assert await block(api, f"{TRACKS}?continuationToken={token}", "Tracks") == {
        "Items": [],
        "TotalItemCount": 20,
    }


# -- the playlists browse ----------------------------------------------------------------------


async def test_playlists_newest_first_with_pages(api: Api) -> None:
    made = [await api.new_playlist(f"P{n}", *ids(n)) for n in range(30)]
    await api.update(made[0], Name="Renamed")  # an update does not move a playlist
    items = await follow(api, PLAYLISTS, "Playlists")
    assert [i["Id"] for i in items] == [browse_form(m) for m in reversed(made)]
    assert [i["TrackCount"] for i in items] == list(range(29, -1, -1))
    assert items[-1]["Name"] == "Renamed"
    first = await block(api, f"{PLAYLISTS}?maxItems=5&page=1", "Playlists")
    assert [i["Name"] for i in first["Items"]] == [f"P{n}" for n in range(24, 19, -1)]
    assert first["TotalItemCount"] == 30
    assert [p.browse_id for p in api.server.playlists(TOKEN)] == [i["Id"] for i in items]


async def test_a_playlist_object(api: Api) -> None:
    playlist_id = await api.new_playlist("Empty")
    (item,) = (await block(api, PLAYLISTS, "Playlists"))["Items"]
    guid = playlist_id.removeprefix("music.playlist.")
    assert item == {
        "Id": browse_form(playlist_id),
        "Name": "Empty",
        "TrackCount": 0,  # 0 included
        "IsPublished": False,
        "UserIsOwner": True,
        "CollectionStateToken": api.server.collection_state(TOKEN),
        "Link": item["Link"],
        "Source": "Collection",
    }
    assert item["Link"].startswith(f"https://music.microsoft.com/Playlist/{guid}{PARTNER}")
    await api.update(playlist_id, IsPublished=True)
    (item,) = (await block(api, PLAYLISTS, "Playlists"))["Items"]
    assert item["IsPublished"] is True


# -- lookup and sub-browse ---------------------------------------------------------------------


async def test_lookup_by_either_form(api: Api) -> None:
    playlist_id = await api.new_playlist("Found", *ids(3))
    (browsed,) = (await block(api, PLAYLISTS, "Playlists"))["Items"]
    for some_id in (playlist_id, browse_form(playlist_id)):
        reply = await api.get(lookup_path(some_id))
        assert reply.status == 200
        assert reply.json() == {"Playlists": {"Items": [browsed]}}
    reply = await api.get(f"/1/content/{playlist_id}/lookup?source=Collection")
    assert reply.status == 200


async def test_lookup_refusals(api: Api) -> None:
    playlist_id = await api.new_playlist("Found")
    for path, status, code in [
        (f"/1/content/{playlist_id}/lookup", 400, "INVALID_INPUT_PARAMETER"),
        (f"/1/content/{playlist_id}/lookup?source=catalog", 400, "INVALID_INPUT_PARAMETER"),
        (lookup_path("music.playlist.00000000-0000-0000-0000-000000000000"), 404,
         "COLLECTION_NO_RESULT"),
        (lookup_path(catalog_track_id(1)), 404, "COLLECTION_NO_RESULT"),
        (lookup_path("music.AQMAAAAAAAAAAAAAAAAAAAAA"), 404, "COLLECTION_NO_RESULT"),
        (lookup_path("video.AQMAAAAAAAAAAAAAAAAAAAAA"), 400, "INVALID_INPUT_PARAMETER"),
    ]:  # fmt: skip
        reply = await api.get(path)
        assert (reply.status, error_code(reply)) == (status, code), path


async def test_sub_browse_gives_the_entries_in_playlist_order(api: Api) -> None:
    playlist_id = await api.new_playlist("Long", *ids(40))
    await api.update(playlist_id, TrackActions=adds(catalog_track_id(0)))
    stored = api.server.playlist(TOKEN, playlist_id)
    assert stored is not None
    reply = await api.get(entries_path(browse_form(playlist_id)))
    assert reply.status == 200
    (playlist,) = reply.json()["Playlists"]["Items"]
    tracks = playlist.pop("Tracks")
    assert playlist == (await api.get(lookup_path(playlist_id))).json()["Playlists"]["Items"][0]
    assert playlist["TrackCount"] == 41
    assert len(tracks["Items"]) == 25 and tracks["TotalItemCount"] == 41
    every: list[dict[str, Any]] = list(tracks["Items"])
    token = tracks["ContinuationToken"]
    while token:
        page = (await api.get(entries_path(playlist_id, f"continuationToken={token}"))).json()
        tracks = page["Playlists"]["Items"][0]["Tracks"]
        every.extend(tracks["Items"])
        token = tracks.get("ContinuationToken")
    assert [i["Id"] for i in every] == [e for e, _ in stored.entries]
    assert [catalog_id_of(i) for i in every] == [*ids(40), catalog_track_id(0)]
    assert {i["Source"] for i in every} == {"Collection"}
    page = (await api.get(entries_path(playlist_id, "maxItems=10&page=4"))).json()
    assert [catalog_id_of(i) for i in page["Playlists"]["Items"][0]["Tracks"]["Items"]] == [
        catalog_track_id(0)
    ]


async def test_sub_browse_omits_tracks_when_there_are_none(api: Api) -> None:
    playlist_id = await api.new_playlist("Empty")
    (empty,) = (await api.get(entries_path(playlist_id))).json()["Playlists"]["Items"]
    assert "Tracks" not in empty and empty["TrackCount"] == 0
    await api.update(playlist_id, TrackActions=adds(*ids(3)))
    (past,) = (await api.get(entries_path(playlist_id, "page=1"))).json()["Playlists"]["Items"]
    assert "Tracks" not in past and past["TrackCount"] == 3
    (first,) = (await api.get(entries_path(playlist_id))).json()["Playlists"]["Items"]
    assert set(first["Tracks"]) == {"Items", "TotalItemCount"}


async def test_sub_browse_refusals(api: Api) -> None:
    first = await api.new_playlist("First", *ids(30))
    second = await api.new_playlist("Second", *ids(30))
    reply = await api.get(entries_path(first, "maxItems=10"))
    token = reply.json()["Playlists"]["Items"][0]["Tracks"]["ContinuationToken"]
    tracks_token = (await block(api, f"{TRACKS}?maxItems=1", "Tracks")).get("ContinuationToken")
    for path, status, code in [
        (entries_path(second, f"continuationToken={token}"), 400,
         "CONTINUATION_TOKEN_INVALID_ERROR"),
        (entries_path(first, "continuationToken=nope"), 400, "CONTINUATION_TOKEN_INVALID_ERROR"),
        (entries_path(first, "maxItems=26"), 400, "INVALID_INPUT_PARAMETER"),
        (entries_path("music.playlist.00000000-0000-0000-0000-000000000000"), 404,
         "COLLECTION_NO_RESULT"),
    ]:  # fmt: skip
        reply = await api.get(path)
        assert (reply.status, error_code(reply)) == (status, code), path
    assert tracks_token is None  # the library is empty: nothing to page
    page = (await api.get(entries_path(first, f"continuationToken={token}"))).json()
    assert len(page["Playlists"]["Items"][0]["Tracks"]["Items"]) == 20


async def test_a_deleted_entry_leaves_the_sub_browse(api: Api) -> None:
    playlist_id = await api.new_playlist("P", *ids(3))
    stored = api.server.playlist(TOKEN, playlist_id)
    assert stored is not None
    await api.update(playlist_id, TrackActions=deletes(stored.entries[1][0]))
    (playlist,) = (await api.get(entries_path(playlist_id))).json()["Playlists"]["Items"]
    assert [catalog_id_of(i) for i in playlist["Tracks"]["Items"]] == [
        catalog_track_id(0),
        catalog_track_id(2),
    ]


# -- the profile -------------------------------------------------------------------------------


async def test_the_profile_counts_tracks_and_playlists(emulator: StartEmulator) -> None:
    api = await emulator(capacity=5)
    collection = (await api.profile()).json()["Collection"]
    assert collection == {
        "Token": api.server.collection_state(TOKEN),
        "RemainingTrackCount": 5,
        "RemainingPlaylistCount": 100,
    }
    await add(api, ids(5))
    await api.new_playlist("P", *ids(2))
    answer = (await api.profile()).json()
    assert answer["Collection"] == {
        "Token": api.server.collection_state(TOKEN),
        "TrackCount": 5,  # a playlist's entries are not library tracks
        "PlaylistCount": 1,
        "RemainingPlaylistCount": 99,
    }  # RemainingTrackCount 0 is omitted
    assert set(answer) == {
        "HasSubscription",
        "IsSubscriptionAvailableForPurchase",
        "Culture",
        "Collection",
    }


# -- what every read shares --------------------------------------------------------------------


async def read_paths(api: Api) -> list[str]:
    playlist_id = await api.new_playlist("P", catalog_track_id(1))
    return [TRACKS, PLAYLISTS, lookup_path(playlist_id), entries_path(playlist_id), PROFILE]


async def test_reads_need_a_user(emulator: StartEmulator) -> None:
    api = await emulator(tokens=[TOKEN, "old"])
    api.server.expire_token("old")
    for path in await read_paths(api):
        for token, code in [
            (None, "INVALID_AUTHORIZATION_HEADER"),
            ("nope", "INVALID_AUTHORIZATION_HEADER"),
            ("old", "AUTHORIZATION_TOKEN_EXPIRED"),
        ]:
            reply = await api.get(path, token=token)
            assert (reply.status, error_code(reply)) == (401, code), path


async def test_reads_route_get_and_head_only(api: Api) -> None:
    for path in await read_paths(api):
        head = await api.request("HEAD", path)
        assert (head.status, head.body) == (200, b"")
        reply = await api.post(path, {})
        assert (reply.status, reply.headers["Allow"]) == (405, "GET,HEAD")
    reply = await api.get("/1/content/video/collection/tracks/browse")
    assert (reply.status, error_code(reply)) == (400, "INVALID_INPUT_PARAMETER")
    assert (await api.get("/1/content/music/collection/albums/browse")).status == 404
    assert (await api.get("/1/content/music/lookup")).status == 404  # not a content ID


async def test_reads_are_never_faulted_nor_scripted_and_are_logged(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(p_500=1.0))
    api.server.script(ScriptedResponse(503))
    paths = [TRACKS, PLAYLISTS, PROFILE]
    for path in paths:
        assert (await api.get(path)).status == 200
    assert api.server.pending_scripts == 1
    assert [(r.method, r.path, r.status, r.fault, r.id_count) for r in api.server.requests] == [
        ("GET", path, 200, None, 0) for path in paths
    ]


async def test_reads_wait_the_latency_and_draw_nothing(emulator: StartEmulator) -> None:
    # Reads between two adds do not change the IDs a seed mints, and they wait the latency.
    plain, reading = await emulator(seed=9), await emulator(seed=9)
    plan = FaultPlan(latency=0.05, latency_jitter=0.01)
    plain.server.faults = reading.server.faults = plan
    await plain.add(ids(1))
    await plain.add(ids(1, start=1))
    await reading.add(ids(1))
    started = time.monotonic()
    assert (await reading.get(TRACKS)).status == 200
    assert time.monotonic() - started >= 0.05
    await reading.add(ids(1, start=1))
    assert plain.server.collection(TOKEN) == reading.server.collection(TOKEN)


async def test_reads_in_xml(api: Api) -> None:
    playlist_id = await api.new_playlist("X", catalog_track_id(1))
    xml = {"Accept": "application/xml"}
    reply = await api.get(entries_path(playlist_id), headers=xml)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/xml")
    body = reply.body.decode()
    assert body.startswith("<ContentResponse ")
    assert "<Playlists><Items><Playlist>" in body
    assert "<Tracks><Items><Track>" in body and "<IsPublished>false</IsPublished>" in body
    reply = await api.get(f"{TRACKS}?maxItems=0", headers=xml)
    assert reply.status == 400 and reply.body.startswith(b"<ErrorResponse ")
