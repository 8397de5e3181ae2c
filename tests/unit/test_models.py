from __future__ import annotations

import pickle

import attrs
import pytest

import groove_async
from groove_async import (
    AuthenticationError,
    BulkResult,
    DecodeError,
    ErrorInfo,
    HTTPStatusError,
    Outcome,
    PlaylistConflictError,
    PlaylistEditError,
    ResultMismatchError,
    TrackResult,
    TransportError,
)

ERR = ErrorInfo("COLLECTION_INVALID_ID", "Invalid collection id for this operation")


def sample() -> BulkResult:
    return BulkResult(
        [
            TrackResult("music.A", "music.X", None, Outcome.SUCCEEDED),
            TrackResult("music.B", None, ERR, Outcome.REJECTED),
            TrackResult("music.C", None, ErrorInfo("TIMEOUT"), Outcome.FAILED),
            TrackResult("music.D", None, ErrorInfo("NOT_SENT"), Outcome.NOT_SENT),
            TrackResult("music.C", None, ErrorInfo("TIMEOUT"), Outcome.FAILED),
        ]
    )


def test_public_all_is_sorted_and_importable() -> None:
    names = groove_async.__all__
    assert list(names) == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert hasattr(groove_async, name), name


def test_bulk_result_is_a_sequence_with_filters() -> None:
    result = sample()
    assert len(result) == 5
    assert result[0].ok and not result[1].ok
    assert [r.input_id for r in result.succeeded] == ["music.A"]
    assert [r.input_id for r in result.rejected] == ["music.B"]
    assert [r.input_id for r in result.failed] == ["music.C", "music.C"]
    assert [r.input_id for r in result.not_sent] == ["music.D"]
    assert result.retry_ids() == ["music.C", "music.D"]
    assert not result.ok
    assert result.counts()[Outcome.FAILED] == 2
    assert isinstance(result[1:3], BulkResult) and len(result[1:3]) == 2
    assert "failed=2" in repr(result)


def test_empty_bulk_result_is_ok() -> None:
    assert BulkResult([]).ok
    assert repr(BulkResult([])) == "BulkResult(0 results: empty)"


def test_results_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sample()[0].id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "exc",
    [
        HTTPStatusError(503, "X", "d", "m", retry_after=2.5, transient=True),
        TransportError("dropped", code="TIMEOUT"),
        DecodeError("bad"),
        ResultMismatchError("off by one"),
        AuthenticationError(
            "nope", status=401, code="INVALID_AUTHORIZATION_HEADER", partial=sample()
        ),
        PlaylistEditError(
            "stopped", playlist_id="music.playlist.x", partial=sample(), code="HTTP_503"
        ),
        PlaylistConflictError(
            "edited", playlist_id="music.playlist.x", partial=sample(), chunk_sent=True
        ),
    ],
)
def test_exceptions_pickle_with_their_facts(exc: Exception) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert vars(copy) == vars(exc)


def test_status_error_text() -> None:
    exc = HTTPStatusError(429, "TOO_MANY_REQUESTS", "slow down", retry_after=3, transient=True)
    assert str(exc) == "HTTP 429: TOO_MANY_REQUESTS (slow down) (Retry-After 3s)"
    assert str(HTTPStatusError(502)) == "HTTP 502"
