"""The playlist editor's breaks of issue 19, each through the public API against the emulator,
with servers and transports that misbehave at the worst moment (in memory: no socket).

Each test failed before its fix; the number in its name is the break's."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections.abc import Callable
from typing import Any

import pytest

from groove_async import (
    GrooveClient,
    Outcome,
    PlaylistConflictError,
    PlaylistEditError,
    Request,
    Response,
    RetryPolicy,
    Transport,
    TransportError,
)
from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse, catalog_track_id

TOKEN = "t1"
OTHER = "t2"  # the fixture's second token: made the same user's other device below
NO_WAIT = RetryPolicy(attempts=5, wait=False)


def tracks(n: int, start: int = 0) -> list[str]:
    return [catalog_track_id(start + i) for i in range(n)]


def held(server: FakeGrooveServer, playlist_id: str) -> list[str]:
    """The catalog IDs a playlist holds, in order, as the server sees it."""
    playlist = server.playlist(TOKEN, playlist_id)
    assert playlist is not None
    return [catalog for _entry, catalog in playlist.entries]


def is_edit(request: Request) -> bool:
    return request.url.endswith("/playlists/update") and b"TrackActions" in request.body


def is_read_back(request: Request) -> bool:
    return request.method == "GET" and "/collection/playlist/tracks/browse" in request.url


class Hostile:
    """A transport in front of the emulator's in-memory one: ``hook(request)`` may answer a
    request itself (a :class:`Response`), raise, or return ``None`` to pass it on; ``reply``
    may rewrite the emulator's answers."""

    def __init__(
        self,
        inner: Transport,
        hook: Callable[[Request], Any] | None = None,
        reply: Callable[[Request, Response], Response] | None = None,
    ) -> None:
        self.inner = inner
        self.hook = hook
        self.reply = reply

    async def send(self, request: Request) -> Response:
        if self.hook is not None:
            answer = self.hook(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
            if answer is not None:
                assert isinstance(answer, Response)
                return answer
        response = await self.inner.send(request)
        return self.reply(request, response) if self.reply is not None else response

    async def aclose(self) -> None:
        await self.inner.aclose()


def client(server: FakeGrooveServer, transport: Transport | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("retry", NO_WAIT)
    return GrooveClient(
        TOKEN, base_url=server.url, transport=transport or server.transport(), **kwargs
    )


def status(code: int, error: str | None = None) -> Response:
    body = b"" if error is None else json.dumps({"Error": {"ErrorCode": error}}).encode()
    return Response(code, {"Content-Type": "application/json"}, body)


# -- 1: someone else's edit is not taken for ours --------------------------------------------


async def test_1_someone_elses_append_while_ours_is_lost_is_a_conflict(
    server: FakeGrooveServer,
) -> None:
    server.add_token("device-2", same_user_as=TOKEN)
    a, b, c = tracks(3)
    lost = []

    async def hook(request: Request) -> Response | None:
        if is_edit(request) and not lost:
            lost.append(request)  # ours never reaches the service; another device adds B
            async with client(server) as other:
                made = server.playlists(TOKEN)[0]
                await other.add_to_playlist(made.id, [b])
            return status(500, "INTERNAL_SERVER_ERROR")
        return None

    async with client(server, Hostile(server.transport(), hook)) as groove:
        made = await groove.create_playlist("Mine", [])
        with pytest.raises(PlaylistConflictError, match="edited by someone else") as info:
            await groove.add_to_playlist(made.id, [a, b, c])
    partial = info.value.partial
    assert partial is not None and info.value.playlist_id == made.id
    # Never "B ours, A and C refused": the chunk's outcome is unknown, so none is REJECTED.
    assert [r.outcome for r in partial] == [Outcome.FAILED] * 3
    assert held(server, made.id) == [b]


async def test_1_a_read_back_missing_a_track_refused_earlier_in_the_call_is_ours(
    server: FakeGrooveServer,
) -> None:
    unknown = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"  # not in the catalog
    ids = [*tracks(99), unknown, *tracks(50, start=200), unknown]  # chunk 2 holds it again
    edits = []

    def lose_the_second(request: Request, response: Response) -> Response:
        if is_edit(request):
            edits.append(request)
            if len(edits) == 2:  # applied, and its answer lost
                return status(500, "INTERNAL_SERVER_ERROR")
        return response

    async with client(server, Hostile(server.transport(), reply=lose_the_second)) as groove:
        made = await groove.create_playlist("Base", [])
        added = await groove.add_to_playlist(made.id, ids)
    assert len(edits) == 2
    assert [r.outcome for r in added] == [Outcome.SUCCEEDED] * 99 + [Outcome.REJECTED] + [
        Outcome.SUCCEEDED
    ] * 50 + [Outcome.REJECTED]
    assert added[-1].error is not None and added[-1].error.code == "COLLECTION_INVALID_ID"
    assert held(server, made.id) == [*tracks(99), *tracks(50, start=200)]


# -- 3: a failed create names its playlist ------------------------------------------------------


async def test_3_a_server_dying_after_a_chunk_leaves_a_playlist_a_resume_completes(
    server: FakeGrooveServer,
) -> None:
    applied = []

    def hook(request: Request) -> None:
        if applied:
            raise TransportError("connection refused")
        if is_edit(request):
            applied.append(request)  # this one goes through; then the server is gone

    ids = tracks(250)
    async with client(server, Hostile(server.transport(), hook)) as groove:
        with pytest.raises(PlaylistEditError) as info:
            await groove.create_playlist("Road trip", ids)
    error = info.value
    (playlist,) = server.playlists(TOKEN)
    assert error.playlist_id == playlist.id and playlist.name == "Road trip"
    assert error.partial is not None
    assert [r.outcome for r in error.partial] == [Outcome.SUCCEEDED] * 100 + [
        Outcome.NOT_SENT
    ] * 150
    assert "CONNECTION_ERROR" in str(error) or "connection refused" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (again.playlist_id, again.partial, again.code) == (
        error.playlist_id,
        error.partial,
        error.code,
    )

    async with client(server) as groove:  # the resume: append the rest to that playlist
        rest = await groove.add_to_playlist(error.playlist_id, error.partial.retry_ids())
    assert rest.ok and [p.name for p in server.playlists(TOKEN)] == ["Road trip"]
    assert held(server, playlist.id) == ids


async def test_3_a_failed_rename_names_the_playlist(server: FakeGrooveServer) -> None:
    def hook(request: Request) -> Response | None:
        return status(400, "COLLECTION_INVALID_PLAYLIST_INFO") if is_rename(request) else None

    async with client(server, Hostile(server.transport(), hook)) as groove:
        with pytest.raises(PlaylistEditError) as info:
            await groove.create_playlist("Named", tracks(3))
    (playlist,) = server.playlists(TOKEN)
    assert info.value.playlist_id == playlist.id
    assert info.value.code == "COLLECTION_INVALID_PLAYLIST_INFO"
    assert info.value.partial is not None
    assert [r.outcome for r in info.value.partial] == [Outcome.NOT_SENT] * 3


def is_rename(request: Request) -> bool:
    return request.url.endswith("/playlists/update") and b"TrackActions" not in request.body


async def test_3_a_rename_applied_whose_answers_are_lost_is_read_back_not_given_up(
    server: FakeGrooveServer,
) -> None:
    renames = []

    def lose_renames(request: Request, response: Response) -> Response:
        if is_rename(request):
            renames.append(request)
            return status(500, "INTERNAL_SERVER_ERROR")  # applied; every answer lost
        return response

    async with client(server, Hostile(server.transport(), reply=lose_renames)) as groove:
        made = await groove.create_playlist("Named", tracks(3))
    assert made.tracks.ok and len(renames) == 1  # the read-back found the name: no resend
    assert [p.name for p in server.playlists(TOKEN)] == ["Named"]


# -- 4: late commits of our own edit are ours ---------------------------------------------------


async def test_4_edits_committed_after_the_clients_timeout_are_recognised_as_ours(
    server: FakeGrooveServer,
) -> None:
    policy = RetryPolicy(attempts=10, wait=False, timeout=0.3)
    async with client(server, retry=policy, timeout=0.1) as groove:
        made = await groove.create_playlist("Base", [])
        server.faults = FaultPlan(p_late=1.0, late_delay=0.5)  # every edit lands after we gave up
        added = await groove.add_to_playlist(made.id, tracks(50))
        server.faults = FaultPlan()
        await asyncio.sleep(0.7)  # every resend has landed (and been refused: a stale token)
    assert [r.outcome for r in added] == [Outcome.SUCCEEDED] * 50
    assert held(server, made.id) == tracks(50)
    assert added.retry_ids() == []


# -- 5: no state token, no blind resend ---------------------------------------------------------


def without_state_tokens(request: Request, response: Response) -> Response:
    """A proxy that drops ``CollectionStateToken`` (and the profile's ``Token``)."""
    if request.method != "GET" or not response.body:
        return response

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v) for k, v in value.items() if k not in ("CollectionStateToken", "Token")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    body = json.dumps(strip(json.loads(response.body))).encode()
    return Response(response.status, response.headers, body)


async def test_5_without_a_state_token_an_unknown_edit_is_never_resent_blindly(
    server: FakeGrooveServer,
) -> None:
    proxy = Hostile(server.transport(), reply=without_state_tokens)
    async with client(server, proxy, timeout=0.1) as groove:
        made = await groove.create_playlist("Unguarded", tracks(20))  # unguarded, but no doubt
        late = ScriptedResponse(200, apply=True, apply_late=True, delay=0.4)
        server.script(late)
        with pytest.raises(PlaylistEditError, match="collection state token") as info:
            await groove.add_to_playlist(made.id, tracks(30, start=20))
        await asyncio.sleep(0.5)  # the late commit lands
    assert made.tracks.ok
    partial = info.value.partial
    assert partial is not None and [r.outcome for r in partial] == [Outcome.FAILED] * 30
    assert info.value.code == "TIMEOUT" and info.value.playlist_id == made.id
    assert held(server, made.id) == tracks(50)  # once: the chunk was not sent again


# -- 6: a refused read is not a refused edit -----------------------------------------------------


async def test_6_a_lagging_replicas_404_on_the_read_back_is_read_again(
    server: FakeGrooveServer,
) -> None:
    refused = []

    def hook(request: Request) -> Response | None:
        if is_read_back(request) and not refused:
            refused.append(request)
            return status(404, "COLLECTION_NO_RESULT")
        return None

    async with client(server, Hostile(server.transport(), hook)) as groove:
        made = await groove.create_playlist("Lagging", [])
        server.script(ScriptedResponse(500, apply=True))  # applied, the answer lost
        added = await groove.add_to_playlist(made.id, tracks(100))
    assert refused and added.ok
    assert held(server, made.id) == tracks(100)


async def test_6_a_read_back_refused_every_time_leaves_the_chunk_failed_not_rejected(
    server: FakeGrooveServer,
) -> None:
    def hook(request: Request) -> Response | None:
        return status(404, "COLLECTION_NO_RESULT") if is_read_back(request) else None

    async with client(server, Hostile(server.transport(), hook)) as groove:
        made = await groove.create_playlist("Lagging", [])
        server.script(ScriptedResponse(500, apply=True))
        with pytest.raises(PlaylistEditError) as info:
            await groove.add_to_playlist(made.id, tracks(150))
    partial = info.value.partial
    assert partial is not None
    assert [r.outcome for r in partial] == [Outcome.FAILED] * 100 + [Outcome.NOT_SENT] * 50
    assert info.value.code == "COLLECTION_NO_RESULT"
    assert held(server, made.id) == tracks(100)  # the edit was applied: FAILED, never REJECTED


# -- 7 (the editor's share): an Add success without its entry Id is not taken on trust ----------


async def test_7_an_add_answered_without_its_entry_id_is_read_back(
    server: FakeGrooveServer,
) -> None:
    def without_an_id(request: Request, response: Response) -> Response:
        if not is_edit(request) or response.status != 200:
            return response
        body = json.loads(response.body)
        del body["PlaylistActionResult"]["TrackActionResults"][1]["Id"]
        return Response(200, response.headers, json.dumps(body).encode())

    async with client(server, Hostile(server.transport(), reply=without_an_id)) as groove:
        made = await groove.create_playlist("Trusting", [])
        added = await groove.add_to_playlist(made.id, tracks(3))
    playlist = server.playlist(TOKEN, made.id)
    assert playlist is not None and added.ok
    assert [r.id for r in added] == [entry for entry, _ in playlist.entries]  # none is None
    assert held(server, made.id) == tracks(3)


# -- 10: one lock per playlist, however its GUID is spelt -----------------------------------------


async def test_10_two_appends_to_one_playlist_spelt_in_two_cases_do_not_race(
    server: FakeGrooveServer,
) -> None:
    async with client(server) as groove:
        made = await groove.create_playlist("Shared", [])
        upper = "music.playlist." + made.id.removeprefix("music.playlist.").upper()
        first, second = await asyncio.gather(
            groove.add_to_playlist(made.id, tracks(30)),
            groove.add_to_playlist(upper, tracks(30, start=100)),
        )
    assert first.ok and second.ok
    assert held(server, made.id) == [*tracks(30), *tracks(30, start=100)]


# -- 11: the service's cap becomes items ---------------------------------------------------------


async def test_11_a_playlist_reaching_the_cap_returns_its_refusals_as_items(
    server: FakeGrooveServer,
) -> None:
    async with client(server) as groove:
        made = await groove.create_playlist("Full", tracks(1_100))
        more = await groove.add_to_playlist(made.id, tracks(5, start=2_000))
    assert [r.outcome for r in made.tracks] == [Outcome.SUCCEEDED] * 1000 + [Outcome.REJECTED] * 100
    codes = {r.error.code for r in made.tracks[1000:] if r.error is not None}
    assert codes == {"COLLECTION_PLAYLIST_FULL"}
    assert [r.outcome for r in more] == [Outcome.REJECTED] * 5
    assert held(server, made.id) == tracks(1000)


# -- 12: an outage is not a conflict ------------------------------------------------------------


async def test_12_an_outage_during_create_ends_with_its_cause_after_the_attempts(
    server: FakeGrooveServer,
) -> None:
    server.faults = FaultPlan(p_503=1.0)  # every write 503; reads are fine
    policy = RetryPolicy(attempts=3, wait=False, timeout=2.0)
    started = time.monotonic()
    async with client(server, retry=policy) as groove:
        with pytest.raises(PlaylistEditError) as info:
            await groove.create_playlist("Down", tracks(120))
    assert time.monotonic() - started < 1.0  # not the policy's timeout
    error = info.value
    assert not isinstance(error, PlaylistConflictError)
    assert "HTTP 503" in str(error) and "gave up after 3 attempts" in str(error)
    assert error.code == "HTTP_503" and error.playlist_id is None
    assert error.partial is not None and error.partial.counts()[Outcome.NOT_SENT] == 120
    assert server.playlists(TOKEN) == []


async def test_12_an_outage_during_an_append_names_the_playlist_and_each_track(
    server: FakeGrooveServer,
) -> None:
    async with client(server) as groove:
        made = await groove.create_playlist("Half", tracks(100))
        server.faults = FaultPlan(p_503=1.0)
        with pytest.raises(PlaylistEditError) as info:
            await groove.add_to_playlist(made.id, tracks(150, start=100))
    error = info.value
    assert not isinstance(error, PlaylistConflictError)
    assert error.playlist_id == made.id and "gave up after 5 attempts" in str(error)
    assert error.partial is not None
    assert [r.outcome for r in error.partial] == [Outcome.FAILED] * 100 + [Outcome.NOT_SENT] * 50
    assert held(server, made.id) == tracks(100)


# -- 14: a creation a caller journals is found again ---------------------------------------------


async def test_14_a_cancel_between_create_and_rename_is_taken_over_by_the_same_marker(
    server: FakeGrooveServer,
) -> None:
    renaming = asyncio.Event()

    async def hook(request: Request) -> None:
        if is_rename(request):
            renaming.set()
            await asyncio.sleep(30)  # the rename hangs

    async with client(server, Hostile(server.transport(), hook)) as groove:
        creating = asyncio.ensure_future(groove.create_playlist("Trip", [], marker="f0b43859"))
        await renaming.wait()
        creating.cancel()
        with pytest.raises(asyncio.CancelledError):
            await creating
    assert [p.name for p in server.playlists(TOKEN)] == ["Trip [groove-async f0b43859]"]

    async with client(server) as groove:  # the next run, with the marker it journaled
        made = await groove.create_playlist("Trip", tracks(3), marker="f0b43859")
        with pytest.raises(ValueError, match="marker"):
            await groove.create_playlist("Trip", [], marker="Not a marker!")
    (playlist,) = server.playlists(TOKEN)
    assert (playlist.id, playlist.name) == (made.id, "Trip")
    assert held(server, made.id) == tracks(3)
