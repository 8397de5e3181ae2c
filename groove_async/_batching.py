"""Pure batching: validate IDs, cut them into batches, map responses back to every input.

No I/O and no event loop. The planner is incremental so that the same code serves lists and
endless streams:

* Inputs are grouped into :class:`Segment` s, consecutive runs of inputs holding at most
  ``batch_size`` *new* IDs. A segment's new IDs are its batch: one POST.
* IDs equal after normalisation (the service upper-cases GUIDs, spec section 3.1) are sent once.
  A repeat within the same segment points at the earlier slot; a repeat of an ID another segment
  sends becomes a *dependent* of that segment and is filled in when it finishes.
* Results are emitted segment by segment in input order, so a dependent is always resolved by
  the time its own segment is emitted (its owner comes earlier or is itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._errors import DecodeError, ResultMismatchError
from ._ids import echo_matches, normalise_id
from ._models import Columns, ErrorInfo, Outcome, TrackResult
from ._wire import ItemColumns, WireItem, WireResponse

__all__ = ["MAX_BATCH_SIZE", "BatchPlanner", "Segment", "all_distinct", "merge"]

#: The service's limit per TrackAction request (spec section 3.1).
MAX_BATCH_SIZE: Final = 100
_SUCCEEDED: Final = Outcome.SUCCEEDED


class Segment:
    """A run of consecutive inputs and the batch (their new IDs) that answers them.

    Attributes:
        seq: 0-based segment number in input order.
        start: input position of ``ids[0]``.
        ids: the caller's inputs, exactly as given.
        sent: the IDs this segment's POST carries (first spelling of each new ID).
        sent_keys: the normalised form of each ID in ``sent`` (the IDs as given when the
            planner was told that no input repeats another: nothing ever looks them up then).
        slots: for each input, its position in ``sent``, or -1 when another segment sends it;
            ``None`` while every input is its own slot (the common case, kept cheap).
        columns: one result per input once finished (``None`` before).
        dependents: later inputs (segment, input position, key) that repeat one of ``sent``
            and are answered when this segment finishes.
        attempted: whether any attempt of the POST reached the network.
    """

    __slots__ = (
        "_key_slots",
        "_resolved_early",
        "attempted",
        "columns",
        "dependents",
        "ids",
        "sent",
        "sent_keys",
        "seq",
        "slots",
        "start",
    )

    def __init__(self, seq: int, start: int) -> None:
        self.seq = seq
        self.start = start
        self.ids: list[str] = []
        self.sent: list[str] = []
        self.sent_keys: list[str] = []
        self.slots: list[int] | None = None
        self.columns: Columns | None = None
        self.dependents: list[tuple[Segment, int, str]] = []
        self.attempted = False
        # Results of this segment's repeats of another segment that finished first.
        self._resolved_early: dict[int, tuple[str | None, Outcome, ErrorInfo | None]] = {}
        self._key_slots: dict[str, int] | None = None

    def __repr__(self) -> str:
        state = "finished" if self.finished else "pending"
        return f"<Segment #{self.seq} inputs={len(self.ids)} sent={len(self.sent)} {state}>"

    @property
    def finished(self) -> bool:
        """Whether every input has its result."""
        return self.columns is not None

    @property
    def results(self) -> list[TrackResult] | None:
        """One :class:`TrackResult` per input once finished, else ``None`` (made on demand)."""
        columns = self.columns
        if columns is None:
            return None
        return [columns.result(i) for i in range(len(self.ids))]

    def result(self, i: int) -> TrackResult:
        """The result of input ``i`` of this (finished) segment."""
        assert self.columns is not None
        return self.columns.result(i)

    def finish(self, sent: Columns) -> None:
        """Record the results of ``sent`` (aligned with it) and resolve every input."""
        slots = self.slots
        if slots is None:
            self.columns = Columns(self.ids, sent.ids, sent.outcomes, sent.errors)
        else:
            self.columns = self._by_input(slots, sent)
        if self.dependents:
            for segment, i, key in self.dependents:
                segment._resolve(i, *_item(sent, self.slot_of(key)))
            self.dependents = []

    def finish_all(self, outcome: Outcome, error: ErrorInfo) -> None:
        """End every sent ID with the same outcome and error (a failed or unsent batch)."""
        self.finish(Columns.uniform(self.sent, outcome, error))

    def _by_input(self, slots: list[int], sent: Columns) -> Columns:
        """``sent``'s results spread over the inputs (repeats share their slot's result)."""
        columns = Columns(self.ids, [], [], {})
        early = self._resolved_early
        for i, slot in enumerate(slots):
            if slot >= 0:
                coll, outcome, error = _item(sent, slot)
            else:
                # Another segment sends it: already known, or filled in when that one
                # finishes (always before this segment is emitted, by input order).
                coll, outcome, error = early.pop(i, (None, Outcome.FAILED, _UNRESOLVED))
            columns.ids.append(coll)
            assert columns.outcomes is not None
            columns.outcomes.append(outcome)
            if error is not None:
                columns.errors[i] = error
        if all(o is _SUCCEEDED for o in columns.outcome_column()):
            columns.outcomes = None
        return columns

    def slot_of(self, key: str) -> int:
        """The position in ``sent`` of the ID whose normalised form is ``key``."""
        key_slots = self._key_slots
        if key_slots is None:
            key_slots = self._key_slots = {k: j for j, k in enumerate(self.sent_keys)}
        return key_slots[key]

    def sent_result(self, key: str) -> tuple[str | None, Outcome, ErrorInfo | None]:
        """(collection ID, outcome, error) of the sent ID ``key``, once finished."""
        columns = self.columns
        assert columns is not None
        slot = self.slot_of(key)
        i = slot if self.slots is None else self.slots.index(slot)
        return _item(columns, i)

    def _resolve(
        self, i: int, coll_id: str | None, outcome: Outcome, error: ErrorInfo | None
    ) -> None:
        if self.columns is None:
            self._resolved_early[i] = (coll_id, outcome, error)
        else:
            self.columns.set(i, coll_id, outcome, error)


def _item(columns: Columns, i: int) -> tuple[str | None, Outcome, ErrorInfo | None]:
    return columns.ids[i], columns.outcome(i), columns.errors.get(i)


# A placeholder only ever seen if a dependent is emitted before its owner, which the in-order
# emission rules out; tests assert no emitted result carries it.
_UNRESOLVED: Final = ErrorInfo("INTERNAL_ERROR", "unresolved duplicate")


class BatchPlanner:
    """Cuts a stream of validated IDs into :class:`Segment` s (see the module docstring).

    Args:
        batch_size: the most new IDs per segment (1..100).
        remember: keep every ID's segment so later repeats are never sent again (bulk calls).
            ``False`` forgets an ID once its segment finished (streams: memory stays bounded;
            a repeat far apart is sent again, which is harmless for adds).
        max_inputs: close a segment after this many inputs even if it holds fewer new IDs, so
            that a stream of repeats still makes progress.
        distinct: the caller checked (:func:`all_distinct`) that no input repeats another, even
            after normalising: full batches are then cut without remembering any ID.
    """

    def __init__(
        self,
        batch_size: int,
        *,
        remember: bool = True,
        max_inputs: int = 0,
        distinct: bool = False,
    ) -> None:
        self.batch_size = batch_size
        self.remember = remember
        self.distinct = distinct
        self.max_inputs = max_inputs or batch_size * 10
        self._known: dict[str, Segment] = {}
        self._slots_in_current: dict[str, int] = {}
        self._current: Segment | None = None
        self._seq = 0
        self._position = 0

    @property
    def position(self) -> int:
        """How many inputs have been fed."""
        return self._position

    def feed_many(self, track_ids: list[str]) -> list[Segment]:
        """Take several inputs at once; return the segments they closed.

        A run of exactly ``batch_size`` new, distinct IDs starting a segment (the common case
        of a bulk import) is planned with a few C-level operations instead of one step per ID,
        and with none at all when the planner knows that no input repeats (``distinct``).
        """
        if self.distinct and self._current is None and len(track_ids) == self.batch_size:
            segment = Segment(self._seq, self._position)
            segment.ids = segment.sent = segment.sent_keys = track_ids
            self._seq += 1
            self._position += len(track_ids)
            return [segment]
        if (
            self._current is None
            and len(track_ids) == self.batch_size
            and (keys := _keys_of(track_ids))
            and len(set(keys)) == len(keys)
            and self._known.keys().isdisjoint(keys)
        ):
            segment = Segment(self._seq, self._position)
            segment.ids = segment.sent = track_ids
            segment.sent_keys = keys
            self._known.update(dict.fromkeys(keys, segment))
            self._seq += 1
            self._position += len(track_ids)
            return [segment]
        return [s for s in map(self.feed, track_ids) if s is not None]

    def feed(self, track_id: str) -> Segment | None:
        """Take the next input; return a segment when this input closed one."""
        segment = self._current
        if segment is None:
            segment = self._current = Segment(self._seq, self._position)
            self._seq += 1
            self._slots_in_current = {}
        key = normalise_id(track_id)
        i = len(segment.ids)
        segment.ids.append(track_id)
        self._position += 1
        known = self._known.get(key)
        if known is None:
            slot = len(segment.sent)
            segment.sent.append(track_id)
            segment.sent_keys.append(key)
            self._known[key] = segment
            self._slots_in_current[key] = slot
            if segment.slots is not None:
                segment.slots.append(slot)
        else:
            if segment.slots is None:
                segment.slots = list(range(i))
            if known is segment:
                segment.slots.append(self._slots_in_current[key])
            else:
                segment.slots.append(-1)
                if known.finished:
                    segment._resolve(i, *known.sent_result(key))
                else:
                    known.dependents.append((segment, i, key))
        if len(segment.sent) >= self.batch_size or len(segment.ids) >= self.max_inputs:
            self._current = None
            return segment
        return None

    def flush(self) -> Segment | None:
        """Close and return the open segment, if any (end of input)."""
        segment, self._current = self._current, None
        return segment

    def forget(self, segment: Segment) -> None:
        """``segment`` finished: a stream forgets its IDs (a bulk call remembers them all)."""
        if not self.remember:
            known = self._known
            for key in segment.sent_keys:
                if known.get(key) is segment:
                    del known[key]


def all_distinct(track_ids: list[str]) -> bool:
    """Whether no ID of ``track_ids`` (validated, one namespace) repeats another after normalising.

    One C-level set for exact repeats, then, in chunks, the check that no ID changes when
    normalised (so no two spellings of one GUID can collide). About a fifth of the cost of
    planning with the repeat bookkeeping, and the set is dropped at once.
    """
    n = len(track_ids)
    if len(set(track_ids)) != n:
        return False
    step = 1000
    for start in range(0, n, step):
        chunk = track_ids[start : start + step]
        if _keys_of(chunk) is not chunk:  # some ID has another spelling: compare normalised
            return len(set(map(normalise_id, track_ids))) == n
    return True


def _keys_of(track_ids: list[str]) -> list[str]:
    """The normalised IDs of a batch: the list itself when no ID changes (checked at once).

    Every ID of a batch starts with the same validated ``{namespace}.``. Upper-casing the joined
    batch and restoring that prefix gives it back unchanged exactly when no ID has a lower-case
    letter after its prefix, so no GUID needs upper-casing: three C-level passes instead of a
    check per ID. Anything else (collection IDs, lower-case GUIDs) is normalised one by one.
    """
    first = track_ids[0]
    prefix = first[: first.find(".") + 1]
    joined = "\n".join(track_ids)
    if joined.upper().replace(prefix.upper(), prefix) == joined:
        return track_ids
    return [normalise_id(t) for t in track_ids]


#: The per-item code that says "not in the collection" (spec 3.2).
_NOT_IN_COLLECTION: Final = "COLLECTION_INVALID_ID"


def merge(
    sent: list[str],
    response: WireResponse,
    *,
    ids_required: bool = True,
    gone_is_deleted: bool = False,
) -> Columns:
    """Map a 200's per-item results onto the IDs sent, by position, verifying each echo.

    Items with an ``Error`` are REJECTED (the service refused them); the others SUCCEEDED.
    A top-level ``Error`` beside well-formed items, ``COLLECTION_SOME_OPERATIONS_FAILED`` or any
    other code (``COLLECTION_INVALID_DATA``), changes nothing: the items say what happened.

    Args:
        sent: the IDs the request carried.
        response: the decoded 200.
        ids_required: a success must carry a non-empty ``Id`` (adds: the new collection ID).
            Without one the response is malformed, never a success.
        gone_is_deleted: an item refused as not in the collection (``COLLECTION_INVALID_ID``)
            is SUCCEEDED: set for a delete retried after an attempt whose outcome is unknown,
            which may have deleted it already. The collection no longer holds it either way.

    Returns:
        One result per ID of ``sent``, in its order.

    Raises:
        ResultMismatchError: missing, extra or mismatched results. The whole response is then
            untrusted: matching what does line up could hand one track another's result.
        DecodeError: a success without an ``Id`` where one is required, or an item ``Error``
            without an ``ErrorCode``: a malformed response (retried like an unreadable one).
    """
    # The production decoder gives ItemColumns, the strict converter and XML a list.
    items: Sequence[WireItem] | None = response.results
    if items is None or len(items) != len(sent):
        got = "no results" if items is None else f"{len(items)} results"
        raise ResultMismatchError(f"sent {len(sent)} IDs, got {got}")
    if isinstance(items, ItemColumns):  # the production decoder's columns: no per-item objects
        echoed, coll, errors = items.input_ids, items.ids, items.errors
    else:
        echoed = [item.input_id for item in items]
        coll = [item.id for item in items]
        errors = {j: item.error for j, item in enumerate(items) if item.error is not None}
    if echoed != sent:
        for position, (track_id, echo) in enumerate(zip(sent, echoed, strict=True)):
            if not echo_matches(track_id, echo):
                raise ResultMismatchError(
                    f"result {position} is for {echo[:60]!r}, but {track_id[:60]!r} was sent there"
                )
    if ids_required and (None in coll or "" in coll):
        _check_ids(coll, errors)
    if not errors:
        return Columns(sent, coll)
    if not all(map(_has_code, errors.values())):
        raise DecodeError("an item's Error has no ErrorCode")
    if gone_is_deleted:
        errors = {j: e for j, e in errors.items() if e.code != _NOT_IN_COLLECTION}
        if not errors:
            return Columns(sent, coll)
    rejected = Outcome.REJECTED
    outcomes = [rejected if j in errors else _SUCCEEDED for j in range(len(items))]
    return Columns(sent, coll, outcomes, errors)


def _check_ids(coll: list[str | None], errors: dict[int, ErrorInfo]) -> None:
    for position, got in enumerate(coll):
        if not got and position not in errors:
            raise DecodeError(f"result {position} has neither a collection Id nor an Error")


def _has_code(error: ErrorInfo) -> bool:
    return bool(error.code)
