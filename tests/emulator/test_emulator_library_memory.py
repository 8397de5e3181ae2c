"""Section 9 over HTTP and in memory: the same answers, byte for byte, and the same state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from groove_async.testing import FaultPlan, ScriptedResponse, catalog_track_id
from tests.emulator.conftest import (
    CREATE,
    PLAYLISTS,
    PROFILE,
    TRACKS,
    Api,
    MemoryApi,
    Reply,
    StartEmulator,
    adds,
    deletes,
    entries_path,
    lookup_path,
)

TOKEN = "demo-token"
XML = {"Accept": "application/xml"}
XML_ACTION = (
    b'<PlaylistAction xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
    b'xmlns="http://schemas.microsoft.com/xboxmusic/2013/10/platform">'
    b"<IsPublished>true</IsPublished><Name>In XML</Name>"
    b"<TrackActions><TrackAction><Action>Add</Action>"
    b"<Id>music.00000007-0100-11DB-89CA-0019B92A3933</Id></TrackAction>"
    b"<TrackAction><Action>Add</Action><Id>music.nope</Id></TrackAction></TrackActions>"
    b"</PlaylistAction>"
)


def ids(n: int, start: int = 0) -> list[str]:
    return [catalog_track_id(start + i) for i in range(n)]


def seen(reply: Reply) -> tuple[Any, ...]:
    """What must be the same either way: status, body and the headers the service sets."""
    headers = {k: reply.headers[k] for k in ("Content-Type", "Retry-After") if k in reply.headers}
    return reply.status, headers, reply.body


async def scenario(api: Api) -> list[tuple[Any, ...]]:
    replies: list[Reply] = [await api.profile()]
    replies.append(await api.create("First", *ids(3), "music.nope", IsPublished=False))
    first = replies[-1].json()["PlaylistActionResult"]["Id"]
    entries = [
        r.get("Id") for r in replies[-1].json()["PlaylistActionResult"]["TrackActionResults"]
    ]
    replies.append(
        await api.request(
            "POST", CREATE, body=XML_ACTION, headers={"Content-Type": "application/xml", **XML}
        )
    )
    token = api.server.collection_state(TOKEN)
    replies += [
        await api.update(first, TrackActions=[*adds(*ids(2, 10)), *deletes(entries[0])]),
        await api.update(first, CollectionStateToken=token, Name="Stale"),
        await api.update(first, TrackActions=adds(*ids(101))),
        await api.update(None),
        await api.add(ids(60, 100)),
        await api.get(TRACKS),
        await api.get(f"{TRACKS}?maxItems=7&page=3"),
        await api.get(f"{TRACKS}?maxItems=26"),
        await api.get(f"{TRACKS}?continuationToken=nope"),
        await api.get(PLAYLISTS, headers=XML),
        await api.get(lookup_path(first)),
        await api.get(entries_path(first, "maxItems=2")),
        await api.request("HEAD", PLAYLISTS),
    ]
    page = replies[-2].json()["Playlists"]["Items"][0]
    replies.append(
        await api.get(entries_path(page["Id"], f"continuationToken={_token(replies[-2])}"))
    )
    api.server.faults = FaultPlan(
        p_lost_500=0.25, p_missing_item=0.25, p_truncated=0.2, p_500=0.1, seed=4
    )
    for n in range(8):
        replies.append(await api.update(first, TrackActions=adds(*ids(3, 200 + n * 3))))
    api.server.faults = FaultPlan()
    api.server.script(ScriptedResponse(500, apply=True), ScriptedResponse(429))
    replies += [
        await api.create("Scripted", *ids(2)),
        await api.create("Throttled"),
        await api.delete_playlist(first),
        await api.profile(),
        await api.get(PROFILE, headers=XML),
    ]
    return [seen(reply) for reply in replies]


def _token(reply: Reply) -> str:
    token: str = reply.json()["Playlists"]["Items"][0]["Tracks"]["ContinuationToken"]
    return token


async def test_the_same_answers_over_http_and_in_memory(emulator: StartEmulator) -> None:
    over_http = await emulator(seed=21)
    in_memory = await emulator(seed=21)
    in_memory = MemoryApi(in_memory.session, in_memory.server)
    expected = await scenario(over_http)
    assert await scenario(in_memory) == expected
    assert {status for status, _, _ in expected} >= {200, 400, 409, 500, 429}
    assert over_http.server.playlists(TOKEN) == in_memory.server.playlists(TOKEN)
    assert over_http.server.collection_state(TOKEN) == in_memory.server.collection_state(TOKEN)
    faults = [r.fault for r in over_http.server.requests]
    assert faults == [r.fault for r in in_memory.server.requests]
    assert {"lost_500", "missing_item", "scripted"} <= set(faults)


async def test_the_xml_playlist_action(api: Api) -> None:
    headers = {"Content-Type": "application/xml", **XML}
    reply = await api.request("POST", CREATE, body=XML_ACTION, headers=headers)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/xml")
    body = reply.body.decode()
    assert body.startswith("<PlaylistActionResponse ")
    assert "<IsPublished>true</IsPublished>" in body and "<Name>In XML</Name>" in body
    assert body.count("<TrackActionResult>") == 2
    assert "COLLECTION_SOME_OPERATIONS_FAILED" in body
    (stored,) = api.server.playlists(TOKEN)
    assert (stored.name, stored.is_published) == ("In XML", True)
    assert [c for _, c in stored.entries] == [catalog_track_id(7)]
    # A JSON answer to an XML request, and nil members left out.
    nil = XML_ACTION.replace(b"<IsPublished>true</IsPublished>", b'<IsPublished i:nil="true"/>')
    reply = await api.request("POST", CREATE, body=nil, headers={"Content-Type": "text/xml"})
    assert set(reply.json()["PlaylistActionResult"]) == {"Id", "Name", "TrackActionResults"}


async def test_one_state_whichever_way_requests_come(api: Api) -> None:
    memory = MemoryApi(api.session, api.server)
    playlist_id = await memory.new_playlist("Made in memory", *ids(2))
    reply = await api.get(lookup_path(playlist_id))
    assert reply.json()["Playlists"]["Items"][0]["Name"] == "Made in memory"
    await api.update(playlist_id, TrackActions=adds(*ids(1, 5)))
    (playlist,) = (await memory.get(entries_path(playlist_id))).json()["Playlists"]["Items"]
    assert playlist["TrackCount"] == 3
    assert (await memory.profile()).json() == (await api.profile()).json()
    assert [(r.method, r.status) for r in api.server.requests] == [
        ("POST", 200),
        ("GET", 200),
        ("POST", 200),
        ("GET", 200),
        ("GET", 200),
        ("GET", 200),
    ]
    assert json.loads((await memory.get(PLAYLISTS)).body) == (await api.get(PLAYLISTS)).json()


_ROOT = (
    b'<PlaylistAction xmlns="http://schemas.microsoft.com/groovemusic/2016/09/api">%s'
    b"</PlaylistAction>"
)


@pytest.mark.parametrize(
    "members",
    [
        b"<Name>x<b>y</b></Name>",
        b"<Name>x</Name><TrackActions/><TrackActions/>",
        b"<Name>x</Name><IsPublished>maybe</IsPublished>",
        b"<Name>x</Name><TrackActions><TrackAction><Id>music.x</Id></TrackAction></TrackActions>",
        b"<Name>x",
        b"<TrackActions>" + b"<a>" * 20 + b"</a>" * 20 + b"</TrackActions>",
    ],
)
async def test_xml_playlist_actions_that_are_refused(api: Api, members: bytes) -> None:
    reply = await api.request("POST", CREATE, body=_ROOT % members)
    assert reply.status == 400
    assert reply.json()["Error"]["ErrorCode"] == "INVALID_INPUT_PARAMETER"
    assert api.server.playlists(TOKEN) == []


async def test_an_xml_dtd_is_refused(api: Api) -> None:
    body = b'<!DOCTYPE x [<!ENTITY e "x">]>' + _ROOT % b"<Name>&e;</Name>"
    assert (await api.request("POST", CREATE, body=body)).status == 400


async def test_xml_members_read_as_json_ones(api: Api) -> None:
    members = (
        b"<Other><Name>ignored</Name></Other><Name>Deep</Name><IsPublished>1</IsPublished>"
        b"<TrackActions><TrackAction><Action>add</Action><InsertBeforeTrackId>z"
        b"</InsertBeforeTrackId><Id>music.00000003-0100-11DB-89CA-0019B92A3933</Id>"
        b"</TrackAction></TrackActions>"
    )
    reply = await api.request("POST", CREATE, body=_ROOT % members)
    result = reply.json()["PlaylistActionResult"]
    assert (result["Name"], result["IsPublished"]) == ("Deep", True)
    (stored,) = api.server.playlists(TOKEN)
    assert [c for _, c in stored.entries] == [catalog_track_id(3)]
