"""Section 9 against servers that misbehave: edit answers not to be taken on trust, reads that
would never end, tokens reflected in escaped spellings (issue 19, breaks 7, 8 and 9).

Every test goes through the public API, the emulator behind a transport of our own that
rewrites what the service answers (in memory: no socket, no sleeping).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from groove_async import (
    DecodeError,
    GrooveClient,
    Outcome,
    PlaylistEditError,
    Request,
    Response,
    RetryPolicy,
    TransportError,
)
from groove_async.testing import FakeGrooveServer, catalog_track_id

TOKEN = "s3cr3t-T0KEN-value"
NO_WAIT = RetryPolicy(attempts=3, wait=False)
#: The documentation's "random, invalid" catalog ID: the service refuses it (spec 3.1).
UNKNOWN = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"
#: A fuse: a read that goes on this long has not stopped by itself.
FUSE = 3_000

Rewrite = Callable[[Request, dict[str, Any]], dict[str, Any] | None]


def tracks(n: int, start: int = 0) -> list[str]:
    return [catalog_track_id(start + i) for i in range(n)]


class Rewriting:
    """The emulator in memory, with each 200 JSON answer handed to ``rewrite`` (which returns
    the body to send instead, or ``None`` to leave it), and every request counted."""

    def __init__(self, server: FakeGrooveServer, rewrite: Rewrite) -> None:
        self.inner = server.transport()
        self.rewrite = rewrite
        self.gets = 0
        self.requests: list[Request] = []

    async def send(self, request: Request) -> Response:
        self.requests.append(request)
        self.gets += request.method == "GET"
        if self.gets > FUSE:
            raise AssertionError(f"the read did not stop: {self.gets} GETs")
        response = await self.inner.send(request)
        if response.status != 200:
            return response
        changed = self.rewrite(request, json.loads(response.body))
        if changed is None:
            return response
        return Response(200, response.headers, json.dumps(changed).encode())

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeGrooveServer]:
    async with FakeGrooveServer(tokens=[TOKEN], seed=19) as running:
        yield running


def client(transport: Rewriting, server: FakeGrooveServer, **kwargs: Any) -> GrooveClient:
    return GrooveClient(TOKEN, base_url=server.url, retry=NO_WAIT, transport=transport, **kwargs)


def edits_with_tracks(request: Request) -> bool:
    return request.url.endswith("/playlists/update") and b"TrackActions" in request.body


def held(server: FakeGrooveServer) -> list[tuple[str, str]]:
    (playlist,) = server.playlists(TOKEN)
    return list(playlist.entries)


# -- break 7: an edit's answer is checked against the actions sent ----------------------------


def _results(body: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = body["PlaylistActionResult"]["TrackActionResults"]
    return results


async def test_reversed_edit_results_do_not_put_a_refusal_on_the_wrong_track(
    server: FakeGrooveServer,
) -> None:
    def reverse(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if edits_with_tracks(request):
            _results(body).reverse()
            return body
        return None

    transport = Rewriting(server, reverse)
    asked = [*tracks(3), UNKNOWN]
    async with client(transport, server) as groove:
        # The answer is not believed, and the read-back (three of the four tracks) cannot prove
        # the edit ours: someone else's append of the same three would look the same (issue 19,
        # break 1). So it stops, saying which playlist, and puts no refusal on any track.
        with pytest.raises(PlaylistEditError) as info:
            await groove.create_playlist("Mixed", asked)
    partial = info.value.partial
    assert partial is not None and [r.input_id for r in partial] == asked
    assert Outcome.REJECTED not in [r.outcome for r in partial]
    assert info.value.playlist_id is not None
    entries = held(server)
    assert [catalog for _entry, catalog in entries] == tracks(3)  # nothing was sent twice


async def test_another_requests_results_are_not_accepted(server: FakeGrooveServer) -> None:
    def foreign(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if edits_with_tracks(request):
            for n, item in enumerate(_results(body)):
                item["InputId"] = catalog_track_id(500 + n)  # the echo of someone else's edit
                item["Id"] = f"music.AQQforeign{n}"
            return body
        return None

    transport = Rewriting(server, foreign)
    async with client(transport, server) as groove:
        made = await groove.create_playlist("Mine", tracks(5))
    entries = held(server)
    assert [catalog for _entry, catalog in entries] == tracks(5)  # sent once, not twice
    assert [r.id for r in made.tracks] == [entry for entry, _catalog in entries]
    assert made.tracks.ok


async def test_an_add_success_without_its_entry_id_is_not_a_success(
    server: FakeGrooveServer,
) -> None:
    def strip(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if edits_with_tracks(request):
            for item in _results(body):
                item.pop("Id", None)
            return body
        return None

    transport = Rewriting(server, strip)
    async with client(transport, server) as groove:
        made = await groove.create_playlist("Ids", tracks(4))
    entries = held(server)
    assert len(entries) == 4
    assert [r.id for r in made.tracks] == [entry for entry, _catalog in entries]
    assert all(r.id is not None for r in made.tracks)


# -- break 8: reads are bounded, repeats detected, an empty page ends the read ----------------


def _is_browse(request: Request, kind: str) -> bool:
    return f"/collection/{kind}/browse" in request.url


async def test_a_server_that_ignores_the_page_asked_for_is_stopped(
    server: FakeGrooveServer,
) -> None:
    def first_page_always(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        return None

    transport = Rewriting(server, first_page_always)
    original = transport.inner.send

    async def ignore_page(request: Request) -> Response:
        if _is_browse(request, "tracks"):
            request = Request(
                request.method,
                request.url.replace("page=", "ignored="),
                request.headers,
                request.body,
            )
        return await original(request)

    transport.inner.send = ignore_page  # type: ignore[method-assign]
    async with client(transport, server, max_concurrency=4) as groove:
        await groove.add_tracks(tracks(60))
        with pytest.raises(DecodeError, match="already read"):
            _ = [t async for t in groove.iter_collection_tracks()]
    assert transport.gets <= 1 + 4 + 1  # the profile, one window of pages


async def test_a_library_that_streams_forever_is_bounded_by_the_profile() -> None:
    # capacity 100: the profile says 10 tracks and 90 remaining, so the read may take
    # 10 + max(90, 1,000) tracks at most, and not one page more than about twice that.
    async with FakeGrooveServer(tokens=[TOKEN], seed=19, capacity=100) as server:
        served = 0

        def endless(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal served
            if not _is_browse(request, "tracks"):
                return None
            items = []
            for _ in range(25):
                served += 1
                items.append({"Id": f"music.AQQendless{served}", "Name": "n"})
            return {"Tracks": {"Items": items}}

        transport = Rewriting(server, endless)
        async with client(transport, server) as groove:
            await groove.add_tracks(tracks(10))
            read: list[object] = []

            async def read_all() -> None:
                async for track in groove.iter_collection_tracks():
                    read.append(track)

            with pytest.raises(DecodeError, match="does not end its pages"):
                await read_all()
    assert len(read) == 1_000  # 40 pages; the 41st would go past 1,010
    assert transport.gets <= 1 + 2 * 41 + 2 + 8


async def test_endless_playlists_and_playlist_entries_are_bounded(
    server: FakeGrooveServer,
) -> None:
    served = 0

    def endless(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        nonlocal served
        items = []
        for _ in range(25):
            served += 1
            items.append({"Id": f"music.AQQendless{served}"})
        if _is_browse(request, "playlists"):
            return {"Playlists": {"Items": [{**item, "Name": "p"} for item in items]}}
        if "/collection/playlist/tracks/browse" in request.url:
            body["Playlists"]["Items"][0]["Tracks"] = {"Items": items}
            return body
        return None

    transport = Rewriting(server, endless)
    async with client(transport, server) as groove:
        made = await groove.create_playlist("Endless", tracks(2))
        with pytest.raises(DecodeError, match="past 100 items"):
            _ = [p async for p in groove.iter_playlists()]
        with pytest.raises(DecodeError, match="past 1000 items"):
            _ = [t async for t in groove.iter_playlist_tracks(made.id)]
    assert transport.gets < 200


async def test_a_stale_profile_count_does_not_read_on_past_an_empty_page(
    server: FakeGrooveServer,
) -> None:
    lying = False

    def stale(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if not lying:
            return None
        if request.url.endswith("/profile"):
            body["Collection"]["TrackCount"] = 10_000_000
            body["Collection"]["PlaylistCount"] = 10_000_000
            return body
        if "/lookup" in request.url:
            body["Playlists"]["Items"][0]["TrackCount"] = 10_000_000
            return body
        return None

    transport = Rewriting(server, stale)
    async with client(transport, server, max_concurrency=4) as groove:
        made = await groove.create_playlist("Three", tracks(3, start=50))
        await groove.add_tracks(tracks(10))
        lying, transport.gets = True, 0
        library = [t async for t in groove.iter_collection_tracks()]
        library_gets, transport.gets = transport.gets, 0
        playlists = [p async for p in groove.iter_playlists()]
        playlist_gets, transport.gets = transport.gets, 0
        entries = [t async for t in groove.iter_playlist_tracks(made.id)]
        entry_gets = transport.gets
    assert [t.catalog_id for t in library] == tracks(10)
    assert [p.name for p in playlists] == ["Three"]
    assert [t.catalog_id for t in entries] == tracks(3, start=50)
    # The count (the profile's or the lookup's) plus at most one window of pages.
    assert library_gets <= 1 + 4 + 1
    assert playlist_gets <= 1 + 4 + 1
    assert entry_gets <= 1 + 4 + 1


async def test_a_page_that_shifts_under_the_read_yields_each_item_once(
    server: FakeGrooveServer,
) -> None:
    """Pages are offsets (spec 9.2): a collection changing meanwhile may repeat an item of the
    previous page at the start of the next. It is yielded once, and the read goes on."""

    def shifted(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if _is_browse(request, "tracks") and "page=1" in request.url and last_of_page_0:
            block = body["Tracks"]
            block["Items"] = [last_of_page_0[0], *block["Items"][:-1]]
            return body
        return None

    transport = Rewriting(server, shifted)
    last_of_page_0: list[dict[str, Any]] = []
    async with client(transport, server) as groove:
        await groove.add_tracks(tracks(40))
        first = [t async for t in groove.iter_collection_tracks()]
        last_of_page_0.append({"Id": first[24].id, "Name": "x"})
        again = [t async for t in groove.iter_collection_tracks()]
    assert [t.id for t in again] == [t.id for t in first if t.id != first[39].id]


# -- break 9: a token reflected in an escaped spelling ----------------------------------------


def _escaped(text: str) -> str:
    """``text`` as JSON ``\\u`` escapes only: no byte of it appears as itself."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


async def test_a_token_reflected_json_escaped_in_a_name_never_reaches_the_values(
    server: FakeGrooveServer,
) -> None:
    marker = "REFLECTED-NAME"

    def reflect(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if _is_browse(request, "tracks"):
            for item in body["Tracks"]["Items"]:
                item["Name"] = f"{marker} {TOKEN}"
            return body
        if _is_browse(request, "playlists"):
            for item in body["Playlists"]["Items"]:
                item["Name"] = f"{marker} {TOKEN}"
            return body
        return None

    transport = Rewriting(server, reflect)

    async def escaping(request: Request) -> Response:
        response = await raw_send(request)
        if marker.encode() not in response.body:
            return response
        body = response.body.replace(TOKEN.encode(), _escaped(TOKEN).encode())
        assert TOKEN.encode() not in body  # the raw bytes hold no token: only the escapes
        return Response(response.status, response.headers, body)

    raw_send = transport.send
    transport.send = escaping  # type: ignore[method-assign]
    async with client(transport, server) as groove:
        await groove.create_playlist("Mine", tracks(2))
        await groove.add_tracks(tracks(3))
        library = [t async for t in groove.iter_collection_tracks()]
        playlists = [p async for p in groove.iter_playlists()]
    texts = [*map(repr, library), *map(str, library), *map(repr, playlists)]
    texts += [t.name or "" for t in library] + [p.name for p in playlists]
    assert len(library) == 3 and len(playlists) == 1
    assert all(marker in text for text in [repr(library[0]), playlists[0].name])
    assert not [text for text in texts if TOKEN in text]


async def test_a_token_reflected_escaped_in_an_edit_refusal_is_redacted(
    server: FakeGrooveServer,
) -> None:
    def reflect(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if edits_with_tracks(request):
            for item in _results(body):
                if "Error" in item:
                    item["Error"]["Description"] = f"refused for {TOKEN}"
            return body
        return None

    transport = Rewriting(server, reflect)

    async def escaping(request: Request) -> Response:
        response = await raw_send(request)
        body = response.body.replace(TOKEN.encode(), _escaped(TOKEN).encode())
        return Response(response.status, response.headers, body)

    raw_send = transport.send
    transport.send = escaping  # type: ignore[method-assign]
    async with client(transport, server) as groove:
        made = await groove.create_playlist("Refused", [UNKNOWN])
    (result,) = made.tracks
    assert result.outcome is Outcome.REJECTED and result.error is not None
    assert result.error.description == "refused for [REDACTED]"
    assert TOKEN not in repr(made)


async def test_a_read_back_after_a_lost_answer_is_bounded_by_the_playlist_cap(
    server: FakeGrooveServer,
) -> None:
    """The editor reads the entries past the count it knew after an answer is lost; a lookup
    claiming 10M entries must not make it ask for 400,000 pages at once."""
    lost = False

    def lying(request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if lost and "/lookup" in request.url:
            body["Playlists"]["Items"][0]["TrackCount"] = 10_000_000
            return body
        return None

    transport = Rewriting(server, lying)
    raw_send = transport.send

    async def lose_the_answer(request: Request) -> Response:
        nonlocal lost
        response = await raw_send(request)
        if edits_with_tracks(request) and not lost:
            lost = True
            raise TransportError("the answer was lost")
        return response

    transport.send = lose_the_answer  # type: ignore[method-assign]
    async with client(transport, server) as groove:
        made = await groove.create_playlist("Lost", [])
        with pytest.raises(PlaylistEditError, match="at most 1000"):
            await groove.add_to_playlist(made.id, tracks(3))
    assert transport.gets < 20
