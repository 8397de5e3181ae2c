from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groove_async import ErrorInfo, Outcome
from groove_async._batching import BatchPlanner, Segment, all_distinct, merge
from groove_async._errors import DecodeError, ResultMismatchError
from groove_async._ids import MAX_ID_LENGTH, IdValidator, echo_matches, normalise_id
from groove_async._models import Columns
from groove_async._wire import WireItem, WireResponse
from tests.conftest import catalog_id
from tests.wire_helpers import plan_batches

GUID = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"


def test_normalise_upper_cases_guids_only() -> None:
    assert normalise_id(GUID) == GUID.upper().replace("MUSIC.", "music.")
    upper = catalog_id(1)
    assert normalise_id(upper) is upper
    collection = "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ"
    assert normalise_id(collection) == collection  # base64: case matters


def test_plan_cuts_at_batch_size_and_keeps_order() -> None:
    ids = [catalog_id(i) for i in range(250)]
    segments = plan_batches(ids, 100)
    assert [len(s.sent) for s in segments] == [100, 100, 50]
    assert [i for s in segments for i in s.ids] == ids
    assert all(s.slots is None for s in segments)
    assert [s.start for s in segments] == [0, 100, 200]


def test_plan_empty() -> None:
    assert plan_batches([]) == []


def test_repeats_are_sent_once_across_case() -> None:
    ids = [GUID, catalog_id(1), GUID.upper().replace("MUSIC.", "music."), GUID]
    (segment,) = plan_batches(ids)
    assert segment.sent == [GUID, catalog_id(1)]
    assert segment.slots == [0, 1, 0, 0]


def _answer(segment: Segment) -> Columns:
    return Columns(segment.sent, ["c:" + normalise_id(t) for t in segment.sent])


def _tuple(columns: Columns) -> tuple[object, ...]:
    """A merge's columns as (collection IDs, outcomes, errors or None), for comparisons."""
    return columns.ids, columns.outcomes, columns.errors or None


def _run(
    planner: BatchPlanner, ids: list[str], order: list[int] | None = None, chunked: bool = False
) -> list[Segment]:
    if chunked:  # as the pipeline feeds: batch-sized chunks through the fast path
        size = planner.batch_size
        segments = [
            s for k in range(0, len(ids), size) for s in planner.feed_many(ids[k : k + size])
        ]
    else:
        segments = [s for s in map(planner.feed, ids) if s is not None]
    last = planner.flush()
    if last is not None:
        segments.append(last)
    for k in order or range(len(segments)):
        if k < len(segments):
            segments[k].finish(_answer(segments[k]))
            planner.forget(segments[k])
    for s in segments:  # any left (order may be partial)
        if not s.finished:
            s.finish(_answer(s))
            planner.forget(s)
    return segments


_pool = [catalog_id(i) for i in range(12)] + [GUID, GUID.upper().replace("MUSIC.", "music.")]


@given(
    ids=st.lists(st.sampled_from(_pool), max_size=60),
    batch=st.integers(1, 7),
    remember=st.booleans(),
    order=st.permutations(list(range(60))),
    chunked=st.booleans(),
    distinct=st.booleans(),
)
def test_every_input_answered_once_in_order_whatever_the_finish_order(
    ids: list[str], batch: int, remember: bool, order: list[int], chunked: bool, distinct: bool
) -> None:
    # ``distinct`` is only ever promised by a caller who checked it.
    distinct = distinct and all_distinct(ids)
    planner = BatchPlanner(batch, remember=remember, max_inputs=batch * 3, distinct=distinct)
    segments = _run(planner, ids, order, chunked)
    results = [r for s in segments for r in s.results or ()]
    assert [r.input_id for r in results] == ids
    assert all(r.outcome is Outcome.SUCCEEDED and r.error is None for r in results)
    assert [r.id for r in results] == ["c:" + normalise_id(i) for i in ids]
    sent = [t for s in segments for t in s.sent]
    assert all(len(s.sent) <= batch for s in segments)
    if remember:  # a bulk call never sends the same ID twice
        assert len({normalise_id(t) for t in sent}) == len(sent)


def test_stream_planner_forgets_finished_ids() -> None:
    planner = BatchPlanner(2, remember=False)
    first = _run(planner, [catalog_id(1), catalog_id(2)])
    second = _run(planner, [catalog_id(1)])
    assert first[0].sent == [catalog_id(1), catalog_id(2)]
    assert second[0].sent == [catalog_id(1)]
    assert planner._known == {}


def test_endless_repeats_still_close_segments() -> None:
    planner = BatchPlanner(100, max_inputs=50)
    closed = [s for s in map(planner.feed, [GUID] * 120) if s is not None]
    assert [len(s.ids) for s in closed] == [50, 50]
    assert [len(s.sent) for s in closed] == [1, 0]


def test_failed_batch_fails_its_repeats_too() -> None:
    planner = BatchPlanner(1)
    a, _ = [s for s in map(planner.feed, [GUID, catalog_id(2)]) if s]
    assert planner.feed(GUID.upper().replace("MUSIC.", "music.")) is None
    c = planner.flush()
    assert c is not None and c.sent == []
    c.finish(Columns())
    err = ErrorInfo("TIMEOUT")
    a.finish_all(Outcome.FAILED, err)
    assert c.results is not None
    assert c.results[0].outcome is Outcome.FAILED
    assert c.results[0].input_id != GUID  # the caller's own spelling


def test_merge_success_and_rejection() -> None:
    err = ErrorInfo("COLLECTION_INVALID_ID", "Invalid collection id for this operation")
    response = WireResponse(
        [
            WireItem(GUID.upper().replace("MUSIC.", "music."), None, err),
            WireItem(catalog_id(1), "music.X"),
        ],
        ErrorInfo("COLLECTION_SOME_OPERATIONS_FAILED", "Some of the operations failed"),
    )
    coll, outcomes, errors = _tuple(merge([GUID, catalog_id(1)], response))
    assert coll == [None, "music.X"]
    assert outcomes == [Outcome.REJECTED, Outcome.SUCCEEDED]
    assert errors == {0: err}


@pytest.mark.parametrize(
    "items",
    [
        None,
        [],
        [WireItem(catalog_id(1), "x")],
        [WireItem(catalog_id(1), "x"), WireItem(catalog_id(2), "y"), WireItem(catalog_id(3), "z")],
        [WireItem(catalog_id(2), "x"), WireItem(catalog_id(1), "y")],  # swapped
    ],
)
def test_merge_refuses_mismatched_results(items: list[WireItem] | None) -> None:
    with pytest.raises(ResultMismatchError):
        merge([catalog_id(1), catalog_id(2)], WireResponse(items))


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (5, TypeError, "must be a str"),
        (b"music.x", TypeError, "must be a str"),
        (None, TypeError, "must be a str"),
        ("", ValueError, "is empty"),
        ("A83EB907-0100-11DB-89CA-0019B92A3933", ValueError, "music"),
        ("music.", ValueError, "music"),
        ("video.abc", ValueError, "music"),
        ("music.abc\r\nX-Evil: 1", ValueError, "printable ASCII"),
        ("music.a b", ValueError, "printable ASCII"),
        ("music.\x00", ValueError, "printable ASCII"),
        ("music.caf\u00e9", ValueError, "printable ASCII"),
        ("music." + "A" * MAX_ID_LENGTH, ValueError, "characters long"),
        ("music." + "A" * 10_000_000, ValueError, "characters long"),
    ],
)
def test_validator_refuses(value: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        IdValidator("music").check(value, 7)
    assert "position 7" in str(info.value)
    assert len(str(info.value)) < 300


def test_validator_accepts_odd_but_printable_ids() -> None:
    for value in (GUID, "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ", "music.a&b<c>\"'"):
        assert IdValidator("music").check(value, 0) is value


def test_fast_path_plans_a_clean_batch_without_per_id_work() -> None:
    planner = BatchPlanner(3)
    chunk = [catalog_id(1), catalog_id(2), catalog_id(3)]
    (segment,) = planner.feed_many(chunk)
    assert segment.ids is chunk and segment.sent is chunk and segment.sent_keys is chunk
    lower = [GUID, catalog_id(4), catalog_id(5)]
    (segment,) = planner.feed_many(lower)
    assert segment.sent_keys[0] == normalise_id(GUID) != GUID


@given(ids=st.lists(st.sampled_from(_pool), max_size=30), extra=st.integers(0, 2500))
def test_all_distinct_agrees_with_normalised_set(ids: list[str], extra: int) -> None:
    # ``extra`` distinct fillers push repeats past the 1,000-ID chunks of the check.
    ids = [catalog_id(1000 + i) for i in range(extra)] + ids
    assert all_distinct(ids) == (len({normalise_id(i) for i in ids}) == len(ids))


def test_distinct_planner_cuts_plain_slices_and_remembers_nothing() -> None:
    ids = [catalog_id(i) for i in range(250)]
    assert all_distinct(ids)
    planner = BatchPlanner(100, distinct=True)
    chunks = [ids[k : k + 100] for k in range(0, 250, 100)]
    segments = [s for chunk in chunks for s in planner.feed_many(chunk)]
    assert [s.sent for s in segments] == chunks[:2]
    assert segments[0].sent is chunks[0]
    # full batches leave nothing to look repeats up in (there are none); only the tail, fed
    # one by one, is remembered
    assert set(planner._known) == set(ids[200:])
    assert not all_distinct([*ids, ids[7]])
    assert not all_distinct([GUID, GUID.upper().replace("MUSIC.", "music.")])


def test_check_many_finds_the_culprit() -> None:
    validator = IdValidator("music")
    good = [catalog_id(i) for i in range(5)]
    assert validator.check_many(good, 0) is good
    with pytest.raises(ValueError, match="position 12"):
        validator.check_many([*good[:2], "music.a\nmusic.b", *good[2:]], 10)
    with pytest.raises(TypeError, match="position 3"):
        validator.check_many([*good[:3], None, *good[3:]], 0)


# -- hardening: echoes, missing Ids, empty codes, deletes after an unknown outcome ---------------

COLL_A = "music.AQQfAbCdZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ"
COLL_B = "music.AQQfaBcDZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ"


@pytest.mark.parametrize(
    ("sent", "echo", "ok"),
    [
        (
            "music.9bb2c5c5-0100-11db-89ca-0019b92a3933",
            "music.9BB2C5C5-0100-11DB-89CA-0019B92A3933",
            True,
        ),
        (
            "music.9BB2C5C5-0100-11DB-89CA-0019B92A3933",
            "music.9bb2c5c5-0100-11db-89ca-0019b92a3933",
            True,
        ),
        (COLL_A, COLL_A, True),
        (COLL_A, COLL_B, False),  # collection IDs are case-sensitive base64url
        (COLL_A, COLL_A.upper(), False),
        (catalog_id(1), catalog_id(1).replace("music", "mu\u017fic"), False),  # long s
        (catalog_id(1), catalog_id(1).replace("music", "MUSIC"), False),  # the namespace is exact
        ("music.\ufb00", "music.FF", False),  # the ff ligature upper-cases to FF
        ("music.i", "music.\u0131", False),  # dotless i
        (catalog_id(1), catalog_id(1).replace("0100", "\uff10100"), False),  # a fullwidth digit
    ],
)
def test_echo_matching_is_ascii_and_guid_only(sent: str, echo: str, ok: bool) -> None:
    assert echo_matches(sent, echo) is ok


def test_merge_refuses_a_swapped_pair_of_collection_ids() -> None:
    with pytest.raises(ResultMismatchError):
        merge([COLL_A, COLL_B], WireResponse([WireItem(COLL_B), WireItem(COLL_A)]))


@pytest.mark.parametrize("missing", [None, ""])
def test_an_add_success_without_an_id_is_malformed(missing: str | None) -> None:
    items = [WireItem(catalog_id(1), "music.X"), WireItem(catalog_id(2), missing)]
    with pytest.raises(DecodeError, match="result 1"):
        merge([catalog_id(1), catalog_id(2)], WireResponse(items))


def test_a_delete_success_needs_no_id() -> None:
    merged = merge([COLL_A], WireResponse([WireItem(COLL_A)]), ids_required=False)
    assert _tuple(merged) == ([None], None, None)


def test_an_item_error_without_a_code_is_malformed() -> None:
    items = [WireItem(catalog_id(1), None, ErrorInfo("", "")), WireItem(catalog_id(2), "music.Y")]
    with pytest.raises(DecodeError, match="ErrorCode"):
        merge([catalog_id(1), catalog_id(2)], WireResponse(items))


def test_a_top_level_error_beside_well_formed_items_changes_nothing() -> None:
    top = ErrorInfo("COLLECTION_INVALID_DATA", "odd")
    response = WireResponse([WireItem(catalog_id(1), "music.X")], top)
    assert _tuple(merge([catalog_id(1)], response)) == (["music.X"], None, None)


def test_a_delete_retried_after_an_unknown_outcome_counts_gone_as_deleted() -> None:
    gone = ErrorInfo("COLLECTION_INVALID_ID", "Invalid collection id for this operation")
    other = ErrorInfo("COLLECTION_FULL", "full")
    response = WireResponse([WireItem(COLL_A, None, gone), WireItem(COLL_B, None, other)])
    first = merge([COLL_A, COLL_B], response, ids_required=False)
    assert first.outcomes == [Outcome.REJECTED, Outcome.REJECTED]
    _, outcomes, errors = _tuple(
        merge([COLL_A, COLL_B], response, ids_required=False, gone_is_deleted=True)
    )
    assert outcomes == [Outcome.SUCCEEDED, Outcome.REJECTED]
    assert errors == {1: other}
