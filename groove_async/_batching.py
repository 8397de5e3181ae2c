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

import re
from collections.abc import Sequence
from typing import Final

from ._errors import ResultMismatchError
from ._models import ErrorInfo, Outcome, TrackResult
from ._wire import WireResponse

__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_ID_LENGTH",
    "BatchPlanner",
    "IdValidator",
    "Segment",
    "merge",
    "normalise_id",
    "plan_batches",
]

#: The service's limit per TrackAction request (spec section 3.1).
MAX_BATCH_SIZE: Final = 100
#: Real IDs are about 45 characters; anything this long is a mistake, not an ID.
MAX_ID_LENGTH: Final = 1024

_GUID_RE: Final = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")


def normalise_id(track_id: str) -> str:
    """The service's view of an ID: the GUID after the namespace upper-cased (spec 3.1).

    Collection IDs (base64) are case-sensitive and returned unchanged.
    """
    dot = track_id.find(".")
    rest = track_id[dot + 1 :]
    if len(rest) == 36 and rest[8] == "-" and _GUID_RE.fullmatch(rest):
        upper = track_id[: dot + 1] + rest.upper()
        return track_id if upper == track_id else upper
    return track_id


class IdValidator:
    """Checks caller input before anything is sent.

    An ID must be a ``str`` of the form ``{namespace}.{id}`` where the part after the dot is
    1..1024 printable ASCII characters without spaces: no control characters (no CR/LF header or
    body injection), no whitespace, no non-ASCII.
    """

    __slots__ = ("_namespace", "_pattern")

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._pattern = re.compile(
            re.escape(namespace) + rf"\.[\x21-\x7e]{{1,{MAX_ID_LENGTH - len(namespace) - 1}}}"
        )

    def check(self, track_id: object, position: int) -> str:
        """Return ``track_id`` if valid.

        Raises:
            TypeError: not a string.
            ValueError: not a well-formed ID of this client's namespace.
        """
        if type(track_id) is str and self._pattern.fullmatch(track_id):
            return track_id
        raise self.error(track_id, position)

    def error(self, track_id: object, position: int) -> TypeError | ValueError:
        """The exception describing why ``track_id`` is not acceptable."""
        where = f"track ID at position {position}"
        if not isinstance(track_id, str):
            return TypeError(f"{where} must be a str, not {type(track_id).__name__}")
        shown = repr(track_id[:60]) + ("..." if len(track_id) > 60 else "")
        prefix = self._namespace + "."
        if not track_id:
            reason = "is empty"
        elif not track_id.startswith(prefix) or len(track_id) == len(prefix):
            reason = f"must look like '{prefix}<id>'"
        elif len(track_id) > MAX_ID_LENGTH:
            reason = f"is {len(track_id)} characters long (at most {MAX_ID_LENGTH})"
        else:
            reason = "may hold only printable ASCII without spaces or control characters"
        return ValueError(f"{where} {reason}: {shown}")


class Segment:
    """A run of consecutive inputs and the batch (their new IDs) that answers them.

    Attributes:
        seq: 0-based segment number in input order.
        start: input position of ``ids[0]``.
        ids: the caller's inputs, exactly as given.
        sent: the IDs this segment's POST carries (first spelling of each new ID).
        index: for each input, its slot in ``sent``, or -1 when another segment sends it;
            ``None`` while every input is its own slot (the common case, kept cheap).
        results: one result per input once finished, else ``None``.
        attempted: whether any attempt of the POST reached the network.
    """

    __slots__ = (
        "_filled",
        "attempted",
        "dependents",
        "ids",
        "index",
        "keys",
        "results",
        "sent",
        "seq",
        "start",
    )

    def __init__(self, seq: int, start: int) -> None:
        self.seq = seq
        self.start = start
        self.ids: list[str] = []
        self.sent: list[str] = []
        self.keys: list[str] = []
        self.index: list[int] | None = None
        self.results: list[TrackResult] | None = None
        self.dependents: list[tuple[Segment, int, str]] = []
        self.attempted = False
        self._filled: dict[int, TrackResult] = {}

    def __repr__(self) -> str:
        state = "finished" if self.results is not None else "pending"
        return f"<Segment #{self.seq} inputs={len(self.ids)} sent={len(self.sent)} {state}>"

    @property
    def finished(self) -> bool:
        """Whether every input of this segment has its result."""
        return self.results is not None

    def finish(self, sent_results: list[TrackResult]) -> None:
        """Record the results of ``sent`` (aligned with it) and resolve every input."""
        index = self.index
        if index is None and not self._filled:
            results = sent_results
        else:
            ids = self.ids
            results = []
            append = results.append
            for i, slot in enumerate(index if index is not None else range(len(ids))):
                if slot >= 0:
                    append(_for_input(sent_results[slot], ids[i]))
                else:
                    # Resolved later by the owning segment (or already, in _filled).
                    append(self._filled.pop(i, _UNRESOLVED))
        self.results = results
        if self.dependents:
            by_key = dict(zip(self.keys, sent_results, strict=True))
            for segment, i, key in self.dependents:
                segment._resolve(i, by_key[key])
            self.dependents = []

    def finish_all(self, outcome: Outcome, error: ErrorInfo) -> None:
        """End every sent ID with the same outcome and error (a failed or unsent batch)."""
        self.finish([TrackResult(track_id, None, error, outcome) for track_id in self.sent])

    def _resolve(self, i: int, result: TrackResult) -> None:
        result = _for_input(result, self.ids[i])
        if self.results is None:
            self._filled[i] = result
        else:
            self.results[i] = result


def _for_input(result: TrackResult, input_id: str) -> TrackResult:
    if result.input_id == input_id:
        return result
    return TrackResult(input_id, result.id, result.error, result.outcome)


# A placeholder only ever seen if a dependent is emitted before its owner, which the in-order
# emission rules out; tests assert no emitted result is this object.
_UNRESOLVED: Final = TrackResult(
    "", None, ErrorInfo("INTERNAL_ERROR", "unresolved duplicate"), Outcome.FAILED
)


class BatchPlanner:
    """Cuts a stream of validated IDs into :class:`Segment` s (see the module docstring).

    Args:
        batch_size: the most new IDs per segment (1..100).
        remember: keep every finished ID's result so later repeats are never sent again
            (bulk calls). ``False`` forgets an ID once its segment finished (streams: memory
            stays bounded; a repeat far apart is sent again, which is harmless for adds).
        max_inputs: close a segment after this many inputs even if it holds fewer new IDs, so
            that a stream of repeats still makes progress.
    """

    def __init__(self, batch_size: int, *, remember: bool = True, max_inputs: int = 0) -> None:
        self.batch_size = batch_size
        self.remember = remember
        self.max_inputs = max_inputs or batch_size * 10
        self._known: dict[str, Segment | TrackResult] = {}
        self._local: dict[str, int] = {}
        self._current: Segment | None = None
        self._seq = 0
        self._position = 0

    @property
    def position(self) -> int:
        """How many inputs have been fed."""
        return self._position

    def feed(self, track_id: str) -> Segment | None:
        """Take the next input; return a segment when this input closed one."""
        segment = self._current
        if segment is None:
            segment = self._current = Segment(self._seq, self._position)
            self._seq += 1
            self._local = {}
        key = normalise_id(track_id)
        i = len(segment.ids)
        segment.ids.append(track_id)
        self._position += 1
        known = self._known.get(key)
        if known is None:
            slot = len(segment.sent)
            segment.sent.append(track_id)
            segment.keys.append(key)
            self._known[key] = segment
            self._local[key] = slot
            if segment.index is not None:
                segment.index.append(slot)
        else:
            if segment.index is None:
                segment.index = list(range(i))
            if known is segment:
                segment.index.append(self._local[key])
            else:
                segment.index.append(-1)
                if isinstance(known, Segment):
                    known.dependents.append((segment, i, key))
                else:
                    segment._resolve(i, known)
        if len(segment.sent) >= self.batch_size or len(segment.ids) >= self.max_inputs:
            self._current = None
            return segment
        return None

    def flush(self) -> Segment | None:
        """Close and return the open segment, if any (end of input)."""
        segment, self._current = self._current, None
        return segment

    def finished(self, segment: Segment) -> None:
        """Note that ``segment`` finished: later repeats of its IDs resolve (or are forgotten)."""
        known = self._known
        results = segment.results
        assert results is not None
        if self.remember:
            index = segment.index
            if index is None:
                for key, result in zip(segment.keys, results, strict=True):
                    known[key] = result
            else:
                sent_results: list[TrackResult | None] = [None] * len(segment.sent)
                for slot, result in zip(index, results, strict=True):
                    if slot >= 0 and sent_results[slot] is None:
                        sent_results[slot] = result
                for key, maybe in zip(segment.keys, sent_results, strict=True):
                    if maybe is not None:
                        known[key] = maybe
        else:
            for key in segment.keys:
                if known.get(key) is segment:
                    del known[key]


def plan_batches(track_ids: Sequence[str], batch_size: int = MAX_BATCH_SIZE) -> list[Segment]:
    """Plan a whole list at once (a convenience over :class:`BatchPlanner` for tests and tools)."""
    planner = BatchPlanner(batch_size)
    segments = [s for s in map(planner.feed, track_ids) if s is not None]
    last = planner.flush()
    if last is not None:
        segments.append(last)
    return segments


def merge(sent: Sequence[str], response: WireResponse) -> list[TrackResult]:
    """Map a 200's per-item results onto the IDs sent, by position, verifying each ``InputId``.

    Items with an ``Error`` are REJECTED (the service refused them); the others SUCCEEDED.
    A top-level ``COLLECTION_SOME_OPERATIONS_FAILED`` needs no handling: the items say it.

    Raises:
        ResultMismatchError: missing, extra or mismatched results. The whole response is then
            untrusted: matching what does line up could hand one track another's result.
    """
    items = response.results
    if items is None or len(items) != len(sent):
        got = "no results" if items is None else f"{len(items)} results"
        raise ResultMismatchError(f"sent {len(sent)} IDs, got {got}")
    out: list[TrackResult] = []
    append = out.append
    succeeded = Outcome.SUCCEEDED
    rejected = Outcome.REJECTED
    for position, (track_id, item) in enumerate(zip(sent, items, strict=True)):
        echo = item.input_id
        # The service upper-cases GUIDs (spec 3.1): compare case-insensitively, never exactly.
        if echo != track_id and echo.upper() != track_id.upper():
            raise ResultMismatchError(
                f"result {position} is for {echo[:60]!r}, but {track_id[:60]!r} was sent there"
            )
        if item.error is None:
            append(TrackResult(track_id, item.id, None, succeeded))
        else:
            append(TrackResult(track_id, item.id, item.error, rejected))
    return out
