"""The playlist editor's decisions, without an event loop: each observation in, the next step
out (the state machines of ``_playlist_steps`` and ``_edit_steps``)."""

from __future__ import annotations

import random

from groove_async import (
    DecodeError,
    ErrorInfo,
    HTTPStatusError,
    LibraryTrack,
    Outcome,
    RetryPolicy,
    TransportError,
)
from groove_async._edit_steps import (
    Created,
    CreateSteps,
    Done,
    Find,
    Read,
    ReadTail,
    ResendSteps,
    Send,
    Stop,
    StopKind,
)
from groove_async._library_wire import EditResult
from groove_async._models import Columns
from groove_async._playlist_steps import ChunkSteps, answered_columns, settle
from groove_async.testing import catalog_track_id

POLICY = RetryPolicy(attempts=3, wait=False, timeout=10.0, rng=random.Random(1))
A, B, C = (catalog_track_id(i) for i in range(3))
LOST = TransportError("the request timed out", code="TIMEOUT")
STALE = HTTPStatusError(409, "COLLECTION_CONCURRENT_UPDATE", transient=True)


def entry(track_id: str, n: int) -> LibraryTrack:
    return LibraryTrack(f"music.entry{n}", track_id)


def steps(
    chunk: list[str] | None = None, expected: int | None = 10, **kwargs: object
) -> ChunkSteps:
    return ChunkSteps(chunk or [A, B, C], expected, POLICY, 0.0, **kwargs)  # type: ignore[arg-type]


def outcomes(columns: Columns) -> list[Outcome]:
    return [columns.outcome(i) for i in range(len(columns))]


def test_a_chunk_goes_out_under_the_token_just_read() -> None:
    machine = steps()
    assert machine.start() == Read()
    assert machine.read(10, "v1") == Send("v1")
    done = machine.answered(EditResult("music.playlist.x", [(f"e{i}", None) for i in range(3)]))
    assert isinstance(done, Done) and done.count == 13 and done.columns.ids == ["e0", "e1", "e2"]


def test_another_count_before_anything_was_sent_is_someone_elses_edit() -> None:
    stop = steps().read(11, "v1")
    assert isinstance(stop, Stop) and stop.kind is StopKind.CONFLICT and not stop.sent
    assert outcomes(stop.columns) == [Outcome.NOT_SENT] * 3


def test_an_answer_that_does_not_answer_every_action_is_read_back() -> None:
    machine = steps()
    machine.read(10, "v1")
    short = EditResult("music.playlist.x", [("e0", None), (None, None), ("e2", None)])
    assert answered_columns(machine.chunk, short) is None  # an Add success without its Id
    assert isinstance(machine.answered(short), Read)
    assert machine.read(13, "v2") == ReadTail(10, 13)


def test_a_read_back_of_exactly_the_chunk_is_ours() -> None:
    machine = steps()
    machine.read(10, "v1")
    machine.unknown(LOST)
    assert machine.read(13, "v2") == ReadTail(10, 13)
    done = machine.entries([entry(A, 0), entry(B, 1), entry(C, 2)])
    assert isinstance(done, Done) and done.columns.outcomes is None and done.count == 13


def test_1_a_subsequence_of_the_chunk_is_not_taken_for_ours() -> None:
    machine = steps()
    machine.read(10, "v1")
    machine.unknown(LOST)
    machine.read(11, "v2")
    stop = machine.entries([entry(B, 0)])  # another device appended B meanwhile
    assert isinstance(stop, Stop) and stop.kind is StopKind.CONFLICT and stop.sent
    assert outcomes(stop.columns) == [Outcome.FAILED] * 3  # never REJECTED


def test_1_missing_tracks_refused_earlier_in_the_operation_are_explained() -> None:
    refused = ErrorInfo("COLLECTION_INVALID_ID", "Invalid collection id for this operation")
    machine = steps(refused={A: refused})
    machine.read(10, "v1")
    machine.unknown(LOST)
    machine.read(12, "v2")
    done = machine.entries([entry(B, 0), entry(C, 1)])
    assert isinstance(done, Done) and done.count == 12
    assert outcomes(done.columns) == [Outcome.REJECTED, Outcome.SUCCEEDED, Outcome.SUCCEEDED]
    assert done.columns.errors == {0: refused}


def test_our_chunk_followed_by_someone_elses_entries_is_ours_then_a_conflict() -> None:
    machine = steps()
    machine.read(10, "v1")
    machine.unknown(LOST)
    machine.read(14, "v2")
    stop = machine.entries([entry(A, 0), entry(B, 1), entry(C, 2), entry(A, 3)])
    assert isinstance(stop, Stop) and stop.kind is StopKind.CONFLICT
    assert stop.columns.outcomes is None  # the chunk is in: SUCCEEDED


def test_4_an_unchanged_playlist_after_an_unknown_outcome_is_sent_again_guarded() -> None:
    machine = steps()
    machine.read(10, "v1")
    assert isinstance(machine.unknown(LOST), Read)
    assert machine.read(10, "v1") == Send("v1")  # a late commit of the first makes this a 409
    assert isinstance(machine.refused(STALE, now=1.0), Read)
    assert machine.read(13, "v2") == ReadTail(10, 13)  # the late commit: read back as ours


def test_12_an_outage_is_given_up_after_the_attempts_with_its_cause() -> None:
    machine = steps()
    cause = HTTPStatusError(503, transient=True)
    step = machine.read(10, "v1")
    for _ in range(3):
        assert isinstance(step, Send)
        assert isinstance(machine.unknown(cause), Read)
        step = machine.read(10, "v1")
    assert isinstance(step, Stop) and step.kind is StopKind.UNKNOWN
    assert "gave up after 3 attempts" in step.reason and step.code == "HTTP_503"
    assert outcomes(step.columns) == [Outcome.FAILED] * 3


def test_409s_are_waited_out_up_to_the_policys_timeout_then_a_conflict() -> None:
    machine = steps()
    machine.read(10, "v1")
    assert isinstance(machine.refused(STALE, now=9.0), Read)
    assert machine.read(10, "v2") == Send("v2")
    stop = machine.refused(STALE, now=10.5)
    assert (
        isinstance(stop, Stop) and stop.kind is StopKind.CONFLICT and "kept changing" in stop.reason
    )
    assert outcomes(stop.columns) == [Outcome.NOT_SENT] * 3  # nothing of it was applied


def test_5_without_a_token_an_unknown_edit_is_only_ever_read_again() -> None:
    machine = steps()
    assert machine.read(10, None) == Send(None)  # unguarded, but nothing is in doubt yet
    machine.unknown(LOST)
    for _ in range(2):
        assert isinstance(machine.read(10, None), Read)
    stop = machine.read(10, None)
    assert isinstance(stop, Stop) and "collection state token" in stop.reason
    assert stop.code == "TIMEOUT" and outcomes(stop.columns) == [Outcome.FAILED] * 3


def test_5_a_token_that_disappears_after_a_guarded_send_stops_resends_too() -> None:
    machine = steps()
    machine.read(10, "v1")
    machine.unknown(LOST)
    assert isinstance(machine.read(10, None), Read)  # a resend without it would be blind


def test_6_a_refused_read_is_read_again_then_the_chunk_failed_with_that_cause() -> None:
    lagging = HTTPStatusError(404, "COLLECTION_NO_RESULT")
    machine = steps()
    machine.read(10, "v1")
    machine.unknown(LOST)
    assert isinstance(machine.read_failed(lagging), Read)
    assert isinstance(machine.read_failed(lagging), Read)
    stop = machine.read_failed(lagging)
    assert isinstance(stop, Stop) and stop.code == "COLLECTION_NO_RESULT"
    assert outcomes(stop.columns) == [Outcome.FAILED] * 3


def test_a_404_at_first_contact_is_no_such_playlist() -> None:
    stop = steps(expected=None).read_failed(HTTPStatusError(404, "COLLECTION_NO_RESULT"))
    assert isinstance(stop, Stop) and stop.kind is StopKind.REFUSED
    assert outcomes(stop.columns) == [Outcome.NOT_SENT] * 3


def test_a_404_of_a_playlist_known_to_exist_is_read_again_then_not_sent() -> None:
    machine = steps(expected=0)  # just created: a lagging replica may not know it yet
    lagging = HTTPStatusError(404, "COLLECTION_NO_RESULT")
    assert isinstance(machine.read_failed(lagging), Read)
    assert isinstance(machine.read_failed(lagging), Read)
    stop = machine.read_failed(lagging)
    assert isinstance(stop, Stop) and outcomes(stop.columns) == [Outcome.NOT_SENT] * 3


def test_a_read_whose_retries_the_send_path_spent_is_not_retried_again() -> None:
    machine = steps()
    machine.read(10, "v1")
    machine.unknown(LOST)
    stop = machine.read_failed(TransportError("connection refused"))
    assert isinstance(stop, Stop) and stop.code == "CONNECTION_ERROR"
    assert outcomes(stop.columns) == [Outcome.FAILED] * 3


def test_11_a_full_playlist_refuses_the_chunk_and_ends_the_operation() -> None:
    machine = steps(expected=1000)
    assert machine.read(1000, "v1") == Send("v1")
    done = machine.refused(HTTPStatusError(400, "COLLECTION_PLAYLIST_FULL"), now=0.0)
    assert isinstance(done, Done) and done.full is not None and done.count == 1000
    assert outcomes(done.columns) == [Outcome.REJECTED] * 3
    layout = settle(done.columns, [A, B], full=done.full)
    assert outcomes(layout) == [Outcome.REJECTED] * 5
    assert {e.code for e in layout.errors.values()} == {"COLLECTION_PLAYLIST_FULL"}


def test_a_refusal_with_nothing_in_doubt_rejects_the_chunk() -> None:
    machine = steps()
    machine.read(10, "v1")
    stop = machine.refused(HTTPStatusError(400, "COLLECTION_INVALID_OPERATION"), now=0.0)
    assert isinstance(stop, Stop) and stop.kind is StopKind.REFUSED
    assert outcomes(stop.columns) == [Outcome.REJECTED] * 3


def test_the_first_read_sets_the_expected_count_when_none_was_given() -> None:
    machine = steps(expected=None)
    assert machine.read(7, "v1") == Send("v1") and machine.expected == 7


def test_a_stop_and_the_rest_are_laid_out_in_one_merge() -> None:
    done = Columns([A], ["e0"], None, {})
    stop = steps([B, C]).read(11, "v")
    assert isinstance(stop, Stop)
    layout = settle(done, [B, C, A], stop)
    assert layout.input_ids == [A, B, C, A]
    assert outcomes(layout) == [Outcome.SUCCEEDED] + [Outcome.NOT_SENT] * 3


# -- create, rename, delete -------------------------------------------------------------------


def test_a_create_whose_outcome_is_unknown_is_searched_for_before_it_is_sent_again() -> None:
    machine = CreateSteps(POLICY, 0.0)
    assert machine.read("v1") == Send("v1")
    assert isinstance(machine.unknown(LOST), Read)
    assert machine.read("v2") == Find()
    assert machine.found(None) == Send("v2")
    assert isinstance(machine.refused(STALE, now=0.1), Read)  # the first committed late
    assert machine.read("v3") == Find()
    assert machine.found("music.playlist.x") == Created("music.playlist.x")


def test_a_create_under_a_callers_marker_looks_for_it_first() -> None:
    machine = CreateSteps(POLICY, 0.0, adopt=True)
    assert machine.read("v1") == Find()
    assert machine.found(None) == Send("v1")


def test_12_a_create_in_an_outage_gives_up_after_the_attempts() -> None:
    machine = CreateSteps(POLICY, 0.0)
    cause = HTTPStatusError(503, transient=True)
    step = machine.read("v1")
    for _ in range(3):
        assert isinstance(step, Send)
        machine.unknown(cause)
        assert machine.read("v1") == Find()
        step = machine.found(None)
    assert isinstance(step, Stop) and step.kind is StopKind.UNKNOWN and step.code == "HTTP_503"
    assert "gave up after 3 attempts" in step.reason


def test_5_a_create_without_a_token_is_never_resent() -> None:
    machine = CreateSteps(POLICY, 0.0)
    machine.read(None)
    machine.unknown(LOST)
    machine.read(None)
    assert isinstance(machine.found(None), Read)
    machine.read(None)
    assert isinstance(machine.found(None), Read)
    machine.read(None)
    stop = machine.found(None)
    assert isinstance(stop, Stop) and "collection state token" in stop.reason


def test_a_rename_whose_answer_is_lost_is_read_back_then_sent_again() -> None:
    machine = ResendSteps(POLICY, check=True)
    assert machine.start() == Send(None)
    assert isinstance(machine.unknown(DecodeError("cut")), Read)
    assert machine.checked(False) == Send(None)
    assert isinstance(machine.checked(True), Done)


def test_a_delete_that_finds_the_playlist_gone_after_a_lost_answer_is_done() -> None:
    gone = HTTPStatusError(404, "COLLECTION_NO_RESULT")
    assert isinstance(ResendSteps(POLICY, gone_is_done=True).refused(gone), Stop)
    machine = ResendSteps(POLICY, gone_is_done=True)
    assert isinstance(machine.unknown(LOST), Send)
    assert isinstance(machine.refused(gone), Done)
