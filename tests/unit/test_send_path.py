"""The one way out (`_send.Sender`), through the public API with scripted transports: every kind
of request gets the same defences (one resend rule, one throttle reaction, one 401 rule)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from groove_async import (
    GrooveClient,
    Outcome,
    PlaylistEditError,
    Request,
    Response,
    RetryPolicy,
    ThrottleGate,
)
from groove_async.testing import FakeGrooveServer, catalog_track_id

NO_WAIT = RetryPolicy(attempts=3, wait=False)


class Scripted:
    """The emulator in memory, with the answers of chosen requests replaced by a script."""

    def __init__(self, server: FakeGrooveServer, rewrite: Callable[[Request], Response | None]):
        self._inner = server.transport()
        self._rewrite = rewrite
        self.sent: list[Request] = []

    async def send(self, request: Request) -> Response:
        self.sent.append(request)
        answer = self._rewrite(request)
        return answer if answer is not None else await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _json(status: int, body: bytes = b"{}", **headers: str) -> Response:
    return Response(status, {"Content-Type": "application/json", **headers}, body)


def _edits(requests: list[Request]) -> list[Request]:
    return [r for r in requests if "/collection/playlists/update" in r.url]


async def test_a_playlist_edit_answered_503_is_never_resent_blindly() -> None:
    server = FakeGrooveServer(tokens=["t"])
    transport = Scripted(
        server, lambda r: _json(503) if "/playlists/update" in r.url and b"Add" in r.body else None
    )
    async with GrooveClient("t", transport=transport, retry=NO_WAIT) as groove:
        made = await groove.create_playlist("Outage")
        with pytest.raises(PlaylistEditError) as info:
            await groove.add_to_playlist(made.id, [catalog_track_id(1)])
    # Each resend followed a read-back that proved nothing applied; never two in a row.
    kinds = ["edit" if "/playlists/update" in r.url else "read" for r in transport.sent]
    assert "edit,edit" not in ",".join(kinds)
    partial = info.value.partial
    assert partial is not None and [r.outcome for r in partial] == [Outcome.FAILED]


async def test_a_read_answered_503_is_retried_blindly_and_a_batch_too() -> None:
    server = FakeGrooveServer(tokens=["t"])
    seen: dict[str, int] = {}

    def twice(request: Request) -> Response | None:
        key = "profile" if "/profile" in request.url else "add" if "/add" in request.url else ""
        if key and seen.get(key, 0) < 2:
            seen[key] = seen.get(key, 0) + 1
            return _json(503)
        return None

    async with GrooveClient("t", transport=Scripted(server, twice), retry=NO_WAIT) as groove:
        assert (await groove.add_tracks([catalog_track_id(2)])).ok
        assert [t.catalog_id async for t in groove.iter_collection_tracks()] == [
            catalog_track_id(2)
        ]
    assert seen == {"add": 2, "profile": 2}


async def test_a_429_on_a_read_closes_the_one_gate_as_on_a_batch() -> None:
    server = FakeGrooveServer(tokens=["t"])
    pauses: list[float] = []

    class Recording(ThrottleGate):
        def pause(self, seconds: float) -> bool:
            pauses.append(seconds)
            return super().pause(seconds)

    once = iter([_json(429, **{"Retry-After": "0.01"})])
    transport = Scripted(server, lambda r: next(once, None) if "/profile" in r.url else None)
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.01)
    async with GrooveClient("t", transport=transport, retry=policy, gate=Recording()) as groove:
        assert [p async for p in groove.iter_playlists()] == []
    assert len(pauses) == 1 and pauses[0] >= 0.01


async def test_a_refusal_of_an_edit_is_not_retried() -> None:
    server = FakeGrooveServer(tokens=["t"])
    transport = Scripted(
        server,
        lambda r: (
            _json(400, b'{"Error":{"ErrorCode":"COLLECTION_INVALID_PLAYLIST_INFO"}}')
            if "/playlists/create" in r.url
            else None
        ),
    )
    async with GrooveClient("t", transport=transport, retry=NO_WAIT) as groove:
        with pytest.raises(PlaylistEditError, match="COLLECTION_INVALID_PLAYLIST_INFO") as info:
            await groove.create_playlist("Refused")
    assert info.value.playlist_id is None  # it was never made
    assert sum("/playlists/create" in r.url for r in transport.sent) == 1


async def test_every_request_carries_the_token_in_one_header_and_only_there() -> None:
    server = FakeGrooveServer(tokens=["t-secret-value"])
    transport = Scripted(server, lambda _r: None)
    async with GrooveClient("t-secret-value", transport=transport) as groove:
        await groove.add_tracks([catalog_track_id(3)])
        made = await groove.create_playlist("Mine", [catalog_track_id(3)])
        _ = [p async for p in groove.iter_playlists()]
        await groove.delete_playlist(made.id)
    assert {r.method for r in transport.sent} == {"GET", "POST"}
    for request in transport.sent:
        assert request.headers["Authorization"] == "Bearer t-secret-value"
        assert b"t-secret-value" not in request.body and "t-secret-value" not in request.url
        assert ("Content-Type" in request.headers) == (request.method == "POST")
