"""Playlists exactly once and in order, and the library read back, against the emulator over
real HTTP (spec section 9)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from groove_async import (
    GrooveClient,
    HTTPStatusError,
    Outcome,
    PlaylistConflictError,
    Request,
    Response,
    RetryPolicy,
    Transport,
)
from groove_async._aiohttp import AiohttpTransport
from groove_async.testing import FakeGrooveServer, ScriptedResponse, catalog_track_id

TOKEN = "owner-token"
NO_WAIT = RetryPolicy(attempts=5, wait=False)


def tracks(n: int, start: int = 0) -> list[str]:
    return [catalog_track_id(start + i) for i in range(n)]


def entries(server: FakeGrooveServer, playlist_id: str) -> list[str]:
    """The catalog IDs a playlist holds, in order, as the server sees it."""
    (playlist,) = [p for p in server.playlists(TOKEN) if p.id == playlist_id]
    return [catalog for _entry, catalog in playlist.entries]


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeGrooveServer]:
    async with FakeGrooveServer(tokens=[TOKEN], seed=7) as running:
        yield running


def client(server: FakeGrooveServer, **kwargs: Any) -> GrooveClient:
    return GrooveClient(TOKEN, base_url=server.url, retry=NO_WAIT, **kwargs)


# -- in order, any length -------------------------------------------------------------------------


async def test_a_playlist_of_250_tracks_in_order_with_its_entry_ids(
    server: FakeGrooveServer,
) -> None:
    ids = tracks(250)
    async with client(server) as groove:
        made = await groove.create_playlist("Road trip", ids)
    assert made.name == "Road trip" and made.tracks.ok and len(made.tracks) == 250
    (playlist,) = server.playlists(TOKEN)
    assert playlist.id == made.id and playlist.name == "Road trip"  # no provisional name left
    assert [c for _e, c in playlist.entries] == ids
    assert [r.id for r in made.tracks] == [e for e, _c in playlist.entries]


async def test_repeats_in_the_input_are_kept_and_unknown_tracks_rejected(
    server: FakeGrooveServer,
) -> None:
    a, b = tracks(2)
    unknown = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"  # a random GUID: not in the catalog
    async with client(server) as groove:
        made = await groove.create_playlist("Twice", [a, b, unknown, a])
    assert [r.outcome for r in made.tracks] == [
        Outcome.SUCCEEDED,
        Outcome.SUCCEEDED,
        Outcome.REJECTED,
        Outcome.SUCCEEDED,
    ]
    assert entries(server, made.id) == [a, b, a]


async def test_appending_keeps_order_across_calls(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        made = await groove.create_playlist("Grows", tracks(30))
        added = await groove.add_to_playlist(made.id, tracks(130, start=30))
    assert added.ok and len(added) == 130
    assert entries(server, made.id) == tracks(160)


# -- exactly once despite ambiguous failures -------------------------------------------------


LOST_ANSWERS = {
    "commit-then-500": ScriptedResponse(500, apply=True),
    "commit-then-drop": ScriptedResponse(drop=True, apply=True),
    "commit-then-too-late": ScriptedResponse(200, apply=True, delay=1.5),
}


@pytest.mark.parametrize("lost", list(LOST_ANSWERS), ids=list(LOST_ANSWERS))
async def test_every_chunk_applied_then_unanswered_is_added_exactly_once(
    server: FakeGrooveServer, lost: str
) -> None:
    async with client(server, timeout=0.5) as groove:
        made = await groove.create_playlist("Base", [])
        # The next POSTs are the three chunks' updates: each is applied, and its answer lost.
        server.script(*[LOST_ANSWERS[lost]] * 3)
        added = await groove.add_to_playlist(made.id, tracks(250))
        assert server.pending_scripts == 0
    assert [r.outcome for r in added] == [Outcome.SUCCEEDED] * 250
    held = entries(server, made.id)
    assert held == tracks(250)  # nothing duplicated, nothing lost, in order
    assert [r.id for r in added] == [e for e, _c in server.playlists(TOKEN)[0].entries]


LATE = ScriptedResponse(200, apply=True, apply_late=True, delay=0.8)  # commits after we gave up


async def test_a_chunk_committed_after_the_client_gave_up_is_added_once(
    server: FakeGrooveServer,
) -> None:
    # The first update commits 0.8 s after arriving; the client gives up at 0.3 s, finds the
    # playlist unchanged and sends again under the token it just read: whichever lands first
    # commits, the other is refused (409), so the chunk is there once.
    async with client(server, timeout=0.3) as groove:
        made = await groove.create_playlist("Base", [])
        server.script(LATE)
        added = await groove.add_to_playlist(made.id, tracks(150))
        await asyncio.sleep(1.0)  # the late commit has had its chance
    assert added.ok
    assert entries(server, made.id) == tracks(150)


async def test_a_create_committed_after_the_client_gave_up_makes_one_playlist(
    server: FakeGrooveServer,
) -> None:
    async with client(server, timeout=0.3) as groove:
        server.script(LATE)
        made = await groove.create_playlist("Once", tracks(5))
        await asyncio.sleep(1.0)
    assert [p.name for p in server.playlists(TOKEN)] == ["Once"]
    assert entries(server, made.id) == tracks(5)


async def test_a_failure_before_commit_is_sent_again(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        made = await groove.create_playlist("Base", [])
        server.script(ScriptedResponse(500), ScriptedResponse(drop=True))  # nothing applied
        added = await groove.add_to_playlist(made.id, tracks(150))
    assert added.ok
    assert entries(server, made.id) == tracks(150)


async def test_a_create_whose_answer_is_lost_makes_one_playlist(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        server.script(ScriptedResponse(500, apply=True))  # the create itself
        made = await groove.create_playlist("Only one", tracks(120))
    assert [p.name for p in server.playlists(TOKEN)] == ["Only one"]
    assert entries(server, made.id) == tracks(120)


async def test_throttling_is_waited_out_and_applies_once(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        made = await groove.create_playlist("Base", [])
        server.script(
            ScriptedResponse(429, headers={"Retry-After": "0.05"}),
            ScriptedResponse(429, headers={"Retry-After": "0.05"}),
        )
        added = await groove.add_to_playlist(made.id, tracks(150))
    assert added.ok
    assert entries(server, made.id) == tracks(150)


@pytest.mark.parametrize("attempts", [1, 5])
async def test_an_expired_token_is_refreshed_once_and_the_edit_applies_once(
    server: FakeGrooveServer, attempts: int
) -> None:
    tokens = iter(["stale-token-1", "fresh-token-2"])
    server.add_token("stale-token-1", same_user_as=TOKEN)
    server.add_token("fresh-token-2", same_user_as=TOKEN)

    async def provider() -> str:
        return next(tokens)

    # A refresh is not a retry: even a policy of one attempt sends the edit again after it.
    policy = RetryPolicy(attempts=attempts, wait=False)
    async with GrooveClient(provider, base_url=server.url, retry=policy) as groove:
        made = await groove.create_playlist("Base", tracks(10))
        server.expire_token("stale-token-1")
        added = await groove.add_to_playlist(made.id, tracks(110, start=10))
    assert added.ok
    assert entries(server, made.id) == tracks(120)


# -- concurrency ------------------------------------------------------------------------------


async def test_two_playlists_at_once_each_in_order(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        first, second = await asyncio.gather(
            groove.create_playlist("First", tracks(230)),
            groove.create_playlist("Second", tracks(230, start=500)),
        )
    assert entries(server, first.id) == tracks(230)
    assert entries(server, second.id) == tracks(230, start=500)


async def test_library_edits_during_a_playlist_import_do_not_disturb_it(
    server: FakeGrooveServer,
) -> None:
    server.add_token("other-device", same_user_as=TOKEN)
    async with (
        client(server) as groove,
        GrooveClient(
            "other-device", base_url=server.url, retry=NO_WAIT, max_concurrency=2, batch_size=10
        ) as other,
    ):
        made, library = await asyncio.gather(
            groove.create_playlist("Steady", tracks(300)),
            other.add_tracks(tracks(400, start=2000)),
        )
    assert library.ok
    assert entries(server, made.id) == tracks(300)


class Meddler:
    """A transport that, once, lets someone else append to the playlist right after an update."""

    def __init__(self, inner: Transport, server: FakeGrooveServer) -> None:
        self.inner = inner
        self.server = server
        self.done = False

    async def send(self, request: Request) -> Response:
        response = await self.inner.send(request)
        if (
            not self.done
            and request.url.endswith("/playlists/update")
            and b"TrackActions" in (request.body)
        ):
            self.done = True
            async with GrooveClient(
                "other-device", base_url=self.server.url, retry=NO_WAIT
            ) as other:
                (playlist,) = self.server.playlists(TOKEN)
                await other.add_to_playlist(playlist.id, [catalog_track_id(9999)])
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_someone_else_editing_the_playlist_is_reported_not_papered_over(
    server: FakeGrooveServer,
) -> None:
    server.add_token("other-device", same_user_as=TOKEN)
    meddler = Meddler(AiohttpTransport(timeout=5.0), server)
    async with GrooveClient(TOKEN, base_url=server.url, retry=NO_WAIT, transport=meddler) as groove:
        made = await groove.create_playlist("Mine", [])
        with pytest.raises(PlaylistConflictError, match="edited by someone else") as info:
            await groove.add_to_playlist(made.id, tracks(250))
    partial = info.value.partial
    assert partial is not None and len(partial) == 250
    assert [r.outcome for r in partial[:100]] == [Outcome.SUCCEEDED] * 100
    assert [r.outcome for r in partial[100:]] == [Outcome.NOT_SENT] * 150
    assert entries(server, made.id) == [*tracks(100), catalog_track_id(9999)]


# -- the read side ----------------------------------------------------------------------------


class Counting:
    """A transport that records the most GETs in flight at once."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.in_flight = 0
        self.most = 0

    async def send(self, request: Request) -> Response:
        gets = request.method == "GET"
        self.in_flight += gets
        self.most = max(self.most, self.in_flight)
        try:
            return await self.inner.send(request)
        finally:
            self.in_flight -= gets

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_library_reads_back_in_order_with_pages_fetched_concurrently() -> None:
    async with FakeGrooveServer(tokens=[TOKEN], seed=3, faults=_latency(0.01)) as server:
        counting = Counting(AiohttpTransport(timeout=5.0))
        async with GrooveClient(
            TOKEN, base_url=server.url, retry=NO_WAIT, transport=counting, max_concurrency=4
        ) as groove:
            await groove.add_tracks(tracks(130))
            library = [t async for t in groove.iter_collection_tracks()]
        order = server.collection_order(TOKEN)
    assert [t.catalog_id for t in library] == order == tracks(130)
    assert [t.id for t in library] == [server.collection(TOKEN)[c] for c in order]
    assert 1 < counting.most <= 4  # concurrent, under the client's bound


async def test_playlists_and_their_tracks_read_back(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        first = await groove.create_playlist("First", tracks(60))
        second = await groove.create_playlist("Second", tracks(3, start=100), published=True)
        listed = [p async for p in groove.iter_playlists()]
        back = [t async for t in groove.iter_playlist_tracks(first.id)]
        by_browse_id = [t async for t in groove.iter_playlist_tracks(listed[1].id)]
        await groove.delete_playlist(second.id)
        after = [p.name async for p in groove.iter_playlists()]
    assert [(p.name, p.track_count) for p in listed] == [("Second", 3), ("First", 60)]
    assert listed[0].is_published is True
    assert [t.catalog_id for t in back] == tracks(60) == [t.catalog_id for t in by_browse_id]
    assert [t.id for t in back] == [r.id for r in first.tracks]
    assert after == ["First"]


async def test_deleting_an_unknown_playlist_is_a_refusal(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        with pytest.raises(HTTPStatusError) as info:
            await groove.delete_playlist("music.playlist.00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404


async def test_bad_arguments_are_refused_before_any_request(server: FakeGrooveServer) -> None:
    async with client(server) as groove:
        with pytest.raises(ValueError, match="name"):
            await groove.create_playlist("", tracks(1))
        with pytest.raises(ValueError, match="name"):
            await groove.create_playlist("x" * 257, tracks(1))
        with pytest.raises(TypeError, match="published"):
            await groove.create_playlist("x", [], published="yes")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="position 1"):
            await groove.create_playlist("x", [catalog_track_id(1), "nope"])
        with pytest.raises(ValueError, match="playlist_id"):
            await groove.add_to_playlist("nope", tracks(1))
    assert server.requests == []


def _latency(seconds: float) -> Any:
    from groove_async.testing import FaultPlan

    return FaultPlan(latency=seconds)


async def test_an_append_expecting_another_count_is_refused_before_anything_is_sent(
    server: FakeGrooveServer,
) -> None:
    # A caller appending in several calls (the command line, chunk by chunk) says how many
    # entries it left: someone else's edit in between is then seen, not absorbed.
    async with client(server) as groove:
        made = await groove.create_playlist("Mine", tracks(3))
        with pytest.raises(PlaylistConflictError) as info:
            await groove.add_to_playlist(made.id, tracks(2, start=10), expected_count=2)
        added = await groove.add_to_playlist(made.id, tracks(2, start=10), expected_count=3)
        with pytest.raises(ValueError, match="expected_count"):
            await groove.add_to_playlist(made.id, tracks(1), expected_count=-1)
    partial = info.value.partial
    assert partial is not None and [r.outcome for r in partial] == [Outcome.NOT_SENT] * 2
    assert added.ok
    assert entries(server, made.id) == [*tracks(3), *tracks(2, start=10)]
