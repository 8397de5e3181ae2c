"""Edits that commit and then fail (spec section 9.1: "a server may still commit and then fail
to answer: the client cannot tell"), through scripted responses and the fault plan, over HTTP
and in memory; and the CollectionStateToken that makes a resend safe."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from groove_async import TransportError
from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse, catalog_track_id
from groove_async.testing._faults import FAULT_NAMES
from tests.emulator.conftest import (
    ADD,
    UPDATE,
    Api,
    MemoryApi,
    StartEmulator,
    adds,
)

TOKEN = "demo-token"
A, B, C = (catalog_track_id(i) for i in range(3))
LOST = (aiohttp.ClientError, TransportError)  # a dropped connection, over HTTP or in memory
TIMED_OUT = (TimeoutError, asyncio.TimeoutError)


def held(server: FakeGrooveServer, playlist_id: str) -> list[str]:
    stored = server.playlist(TOKEN, playlist_id)
    assert stored is not None
    return [catalog for _, catalog in stored.entries]


@pytest.fixture(params=["http", "memory"])
def carried(request: pytest.FixtureRequest, emulator: StartEmulator) -> Any:
    """``await carried(**server kwargs)``: an Api over HTTP, or the same over memory."""

    async def start(**kwargs: Any) -> Api:
        api = await emulator(**kwargs)
        if request.param == "memory":
            return MemoryApi(api.session, api.server)
        return api

    return start


# -- scripted: commit, then lose the answer ------------------------------------------------------


async def test_commit_then_500(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.script(ScriptedResponse(500, apply=True))
    reply = await api.update(playlist_id, TrackActions=adds(B, C))
    assert (reply.status, reply.body) == (500, b"")
    assert held(api.server, playlist_id) == [A, B, C]
    record = api.server.requests[-1]
    assert (record.path, record.status, record.fault, record.ids) == (
        UPDATE,
        500,
        "scripted",
        (B, C),
    )


async def test_a_create_committed_then_500(carried: Any) -> None:
    api = await carried(seed=1)
    api.server.script(ScriptedResponse(500, apply=True))
    assert (await api.create("Lost", A)).status == 500
    (stored,) = api.server.playlists(TOKEN)
    assert stored.name == "Lost" and [c for _, c in stored.entries] == [A]


async def test_commit_then_drop(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.script(ScriptedResponse(drop=True, apply=True))
    with pytest.raises(LOST):
        await api.update(playlist_id, TrackActions=adds(B))
    assert held(api.server, playlist_id) == [A, B]
    assert api.server.requests[-1].status is None


async def test_commit_then_answer_too_late(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.script(ScriptedResponse(200, apply=True, delay=0.5))
    with pytest.raises(TIMED_OUT):
        await api.update(playlist_id, TrackActions=adds(B), timeout=0.05)
    assert held(api.server, playlist_id) == [A, B]  # committed on arrival


async def test_a_scripted_failure_without_apply_applies_nothing(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.script(
        ScriptedResponse(429, headers={"Retry-After": "0.05"}),
        ScriptedResponse(500),
        ScriptedResponse(drop=True),
    )
    reply = await api.update(playlist_id, TrackActions=adds(B))
    assert (reply.status, reply.headers["Retry-After"]) == (429, "0.05")
    assert (await api.update(playlist_id, TrackActions=adds(B))).status == 500
    with pytest.raises(LOST):
        await api.update(playlist_id, TrackActions=adds(B))
    assert held(api.server, playlist_id) == [A]
    assert (await api.update(playlist_id, TrackActions=adds(B))).status == 200
    assert held(api.server, playlist_id) == [A, B]


async def test_the_script_serves_every_post_in_order_and_no_read(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.script(ScriptedResponse(500, apply=True), ScriptedResponse(503, apply=True))
    assert (await api.get(f"/1/content/{playlist_id}/lookup?source=collection")).status == 200
    assert (await api.add([C])).status == 500
    assert (await api.update(playlist_id, TrackActions=adds(B))).status == 503
    assert api.server.pending_scripts == 0
    assert list(api.server.collection(TOKEN)) == [C]
    assert held(api.server, playlist_id) == [A, B]
    assert [r.path for r in api.server.requests if r.fault == "scripted"] == [ADD, UPDATE]


async def test_scripted_reads_answer_the_next_reads_of_their_endpoint_only(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    lagging = ScriptedResponse(404, {"Error": {"ErrorCode": "COLLECTION_NO_RESULT"}})
    api.server.script_reads("playlist_tracks", lagging)
    tracks = f"/1/content/{playlist_id}/collection/playlist/tracks/browse"
    assert (await api.get(f"/1/content/{playlist_id}/lookup?source=collection")).status == 200
    refused = await api.get(tracks)
    assert (refused.status, refused.json()["Error"]["ErrorCode"]) == (404, "COLLECTION_NO_RESULT")
    assert (await api.get(tracks)).status == 200  # once: the next read is answered
    assert api.server.pending_scripts == 0 and held(api.server, playlist_id) == [A]
    assert [r.fault for r in api.server.requests if r.method == "GET"] == [None, "scripted", None]
    with pytest.raises(ValueError, match="endpoint"):
        api.server.script_reads("update", lagging)
    with pytest.raises(TypeError, match="ScriptedResponse"):
        api.server.script_reads("lookup", 404)


async def test_a_commit_that_lands_after_the_client_gave_up(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.script(ScriptedResponse(drop=True, delay=0.3, apply=True, apply_late=True))
    with pytest.raises(TIMED_OUT):
        await api.update(playlist_id, TrackActions=adds(B), timeout=0.05)
    assert held(api.server, playlist_id) == [A]  # not yet
    await asyncio.sleep(0.45)
    assert held(api.server, playlist_id) == [A, B]  # there it is


async def test_the_state_token_makes_a_resend_exactly_once(carried: Any) -> None:
    # The client reads the token, sends, loses the answer, sends the same edit again with the
    # same token. Whichever of the two commits first, the other gets 409: exactly once.
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    token = api.server.collection_state(TOKEN)
    api.server.script(ScriptedResponse(drop=True, delay=0.3, apply=True, apply_late=True))
    with pytest.raises(TIMED_OUT):
        await api.update(
            playlist_id, CollectionStateToken=token, TrackActions=adds(B), timeout=0.05
        )
    resent = await api.update(playlist_id, CollectionStateToken=token, TrackActions=adds(B))
    assert resent.status == 200  # the first attempt has not committed yet
    await asyncio.sleep(0.45)  # now it tries to, with a stale token
    assert held(api.server, playlist_id) == [A, B]
    assert api.server.requests[-1].fault == "scripted"
    # And in the other order: the first attempt committed, the resend is refused.
    token = api.server.collection_state(TOKEN)
    api.server.script(ScriptedResponse(500, apply=True))
    await api.update(playlist_id, CollectionStateToken=token, TrackActions=adds(C))
    resent = await api.update(playlist_id, CollectionStateToken=token, TrackActions=adds(C))
    assert resent.status == 409
    assert held(api.server, playlist_id) == [A, B, C]


# -- the fault plan: commit, then lose the answer ----------------------------------------------


async def test_lost_500_and_504(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.faults = FaultPlan(p_lost_500=1.0)
    reply = await api.update(playlist_id, TrackActions=adds(B))
    assert reply.status == 500
    assert reply.json()["Error"]["ErrorCode"] == "INTERNAL_SERVER_ERROR"
    api.server.faults = FaultPlan(p_lost_504=1.0)
    reply = await api.update(playlist_id, TrackActions=adds(C))
    assert reply.status == 504 and reply.headers["Content-Type"].startswith("text/html")
    assert held(api.server, playlist_id) == [A, B, C]
    assert [r.fault for r in api.server.requests[-2:]] == ["lost_500", "lost_504"]


async def test_lost_drop(carried: Any) -> None:
    api = await carried(seed=1, faults=FaultPlan(p_lost_drop=1.0))
    with pytest.raises(LOST):
        await api.create("P", A)
    assert [p.name for p in api.server.playlists(TOKEN)] == ["P"]
    record = api.server.requests[-1]
    assert (record.status, record.fault) == (None, "lost_drop")


async def test_late(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.faults = FaultPlan(p_late=1.0, late_delay=0.3)
    with pytest.raises(TIMED_OUT):
        await api.update(playlist_id, TrackActions=adds(B), timeout=0.05)
    assert held(api.server, playlist_id) == [A]  # carried out when the delay is over
    await asyncio.sleep(0.45)
    assert held(api.server, playlist_id) == [A, B]
    record = api.server.requests[-1]
    assert (record.status, record.fault) == (200, "late")
    api.server.faults = FaultPlan(p_late=1.0, late_delay=0.01)
    reply = await api.update(playlist_id, TrackActions=adds(C))
    assert reply.status == 200 and "TrackActionResults" in reply.json()["PlaylistActionResult"]


async def test_lost_answers_hit_track_actions_too(carried: Any) -> None:
    api = await carried(seed=1, faults=FaultPlan(p_lost_500=1.0))
    assert (await api.add([A])).status == 500
    assert list(api.server.collection(TOKEN)) == [A]


async def test_a_refusal_is_never_lost(carried: Any) -> None:
    # Only a 200 is lost: a refusal (nothing committed) is sent as it is, with no fault logged.
    api = await carried(seed=1, faults=FaultPlan(p_lost_500=1.0))
    reply = await api.update("music.playlist.00000000-0000-0000-0000-000000000000", Name="x")
    assert reply.status == 404
    assert api.server.requests[-1].fault is None


@pytest.mark.parametrize(
    "plan",
    [
        FaultPlan(p_500=1.0),
        FaultPlan(p_409=1.0),
        FaultPlan(p_429=1.0, retry_after=0.01),
        FaultPlan(p_503=1.0),
        FaultPlan(p_504=1.0),
        FaultPlan(p_html=1.0),
        FaultPlan(p_drop=1.0),
    ],
)
async def test_failures_before_the_service_apply_nothing(carried: Any, plan: FaultPlan) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.faults = plan
    try:
        reply = await api.update(playlist_id, TrackActions=adds(B))
    except LOST:
        pass
    else:
        assert reply.status >= 400
    with pytest.raises(LOST) if plan.p_drop else _no_error():
        await api.create("Q", A)
    assert held(api.server, playlist_id) == [A]
    assert len(api.server.playlists(TOKEN)) == 1
    assert api.server.requests[-1].id_count == 1


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


async def test_damaged_answers_to_edits_were_carried_out(carried: Any) -> None:
    api = await carried(seed=1)
    playlist_id = await api.new_playlist("P", A)
    api.server.faults = FaultPlan(p_missing_item=1.0)
    reply = await api.update(playlist_id, TrackActions=adds(B, C))
    assert len(reply.json()["PlaylistActionResult"]["TrackActionResults"]) == 1
    assert api.server.requests[-1].fault == "missing_item"
    # Nothing to leave out: the answer is sent whole, no fault logged.
    assert (await api.update(playlist_id, Name="Renamed")).json() == {
        "PlaylistActionResult": {"Id": playlist_id, "Name": "Renamed"}
    }
    assert api.server.requests[-1].fault is None
    api.server.faults = FaultPlan(p_truncated=1.0)
    reply = await api.update(playlist_id, TrackActions=adds(A))
    assert reply.status == 200 and reply.body.startswith(b'{"PlaylistActionResult":{"Id"')
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        reply.json()
    api.server.faults = FaultPlan(p_non_json=1.0)
    assert (await api.update(playlist_id, TrackActions=adds(A))).body == b"OK"
    assert held(api.server, playlist_id) == [A, B, C, A, A]


async def test_the_same_seed_gives_the_same_faults_and_ids(emulator: StartEmulator) -> None:
    plan = FaultPlan(p_lost_500=0.3, p_500=0.2, p_lost_504=0.2, seed=11)

    async def run() -> tuple[list[Any], list[Any]]:
        api = await emulator(faults=plan)
        statuses = [(await api.create(f"P{n}", A, B)).status for n in range(12)]
        playlists = [(p.id, p.entries) for p in api.server.playlists(TOKEN)]
        return statuses, playlists

    first, second = await run(), await run()
    assert first == second
    assert set(first[0]) == {200, 500, 504}


def test_the_new_faults_come_last_in_the_roll() -> None:
    # Seeded streams of earlier plans are unchanged: the new knobs are tested after the others.
    assert FAULT_NAMES[-4:] == ("lost_500", "lost_504", "lost_drop", "late")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_lost_500": 1.5},
        {"p_lost_drop": -0.1},
        {"p_late": 0.6, "p_lost_504": 0.6},
        {"late_delay": -1.0},
    ],
)
def test_invalid_new_knobs(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|add up"):
        FaultPlan(**kwargs)


def test_apply_late_needs_apply() -> None:
    with pytest.raises(ValueError, match="apply_late"):
        ScriptedResponse(apply_late=True)
    assert ScriptedResponse(apply=True, apply_late=True).apply_late
