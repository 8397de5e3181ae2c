"""The transport seam: any object meeting the Transport protocol carries the client's requests."""

from __future__ import annotations

import asyncio
import json

import pytest

from groove_async import (
    GrooveClient,
    Outcome,
    Request,
    Response,
    RetryPolicy,
    Transport,
    TransportError,
)
from tests.conftest import catalog_id

ONE_TRY = RetryPolicy(attempts=1, wait=False)


class Recording:
    """A transport answering every add from a function, keeping what it was sent."""

    def __init__(self, answer: object = None) -> None:
        self.sent: list[Request] = []
        self.closed = 0
        self.answer = answer

    async def send(self, request: Request) -> Response:
        self.sent.append(request)
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer == "hang":
            await asyncio.Event().wait()
        ids = json.loads(request.body)["TrackIds"]
        results = [{"InputId": i, "Id": "music.AQQf" + i[6:14]} for i in ids]
        body = json.dumps({"TrackActionResults": results}).encode()
        return Response(200, {"Content-Type": "application/json"}, body)

    async def aclose(self) -> None:
        self.closed += 1


def test_the_recording_transport_meets_the_protocol() -> None:
    assert isinstance(Recording(), Transport)
    assert not isinstance(object(), Transport)


async def test_requests_go_through_the_given_transport_and_it_is_closed_once() -> None:
    transport = Recording()
    ids = [catalog_id(i) for i in range(250)]
    async with GrooveClient("t", transport=transport, max_concurrency=2) as groove:
        result = await groove.add_tracks(ids)
    assert result.ok and len(result) == 250
    assert [len(json.loads(r.body)["TrackIds"]) for r in transport.sent] == [100, 100, 50]
    request = transport.sent[0]
    assert request.method == "POST"
    assert request.url == "https://music.xboxlive.com/1/content/music/collection/add"
    assert request.headers["Authorization"] == "Bearer t"
    assert transport.closed == 1


async def test_a_transport_that_hangs_is_bounded_by_the_clients_timeout() -> None:
    transport = Recording("hang")
    async with GrooveClient("t", transport=transport, timeout=0.05, retry=ONE_TRY) as groove:
        async with asyncio.timeout(5):
            (item,) = await groove.add_tracks([catalog_id(1)])
    assert item.outcome is Outcome.FAILED and item.error is not None
    assert item.error.code == "TIMEOUT"


@pytest.mark.parametrize(
    ("raised", "code"),
    [(TransportError("reset", code="CONNECTION_ERROR"), "CONNECTION_ERROR"), (OSError(), None)],
)
async def test_what_a_transport_raises_is_a_failed_batch_not_a_crash(
    raised: BaseException, code: str | None
) -> None:
    async with GrooveClient("t", transport=Recording(raised), retry=ONE_TRY) as groove:
        (item,) = await groove.add_tracks([catalog_id(1)])
    assert item.outcome is Outcome.FAILED and item.error is not None
    assert item.error.code == (code or "CONNECTION_ERROR")


async def test_transport_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="Transport protocol"):
        GrooveClient("t", transport=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        GrooveClient("t", transport=Recording(), session=object())  # type: ignore[arg-type]


async def test_an_edit_refused_401_goes_once_more_after_a_refresh_with_one_attempt() -> None:
    # A refresh is not a retry: a 401 says nothing was applied, so the edit goes again once.
    tokens = iter(["stale-token-1", "fresh-token-2"])

    async def provider() -> str:
        return next(tokens)

    class RefusesTheStaleToken:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, request: Request) -> Response:
            self.sent.append(request.headers["Authorization"])
            if request.headers["Authorization"] == "Bearer stale-token-1":
                return Response(401, {}, b'{"Error":{"ErrorCode":"AUTHORIZATION_TOKEN_EXPIRED"}}')
            body = b'{"PlaylistActionResult":{"Id":"music.playlist.1"}}'
            return Response(200, {"Content-Type": "application/json"}, body)

        async def aclose(self) -> None:
            pass

    transport = RefusesTheStaleToken()
    async with GrooveClient(provider, transport=transport, retry=ONE_TRY) as groove:
        await groove.delete_playlist("music.playlist.00000000-0000-0000-0000-000000000001")
    assert transport.sent == ["Bearer stale-token-1", "Bearer fresh-token-2"]
