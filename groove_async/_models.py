"""Public result values: what a caller gets back, in Python names.

The wire names live in the contracts table of :mod:`groove_async._contracts` only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import attrs

from ._playlist_ids import browse_playlist_id, edit_playlist_id, playlist_guid

__all__ = [
    "BulkResult",
    "Columns",
    "ErrorInfo",
    "LibraryTrack",
    "Outcome",
    "Playlist",
    "PlaylistResult",
    "TrackResult",
    "count_outcomes",
]


class Outcome(enum.StrEnum):
    """What happened to one input ID."""

    SUCCEEDED = "SUCCEEDED"
    """The service applied the operation (``TrackResult.id`` holds the collection ID for adds)."""
    REJECTED = "REJECTED"
    """The service refused this item for good (an unknown ID, a full collection, a 400)."""
    FAILED = "FAILED"
    """A transient failure outlasted the retry policy: worth sending again later."""
    NOT_SENT = "NOT_SENT"
    """The item was never sent: cancelled, out of time, or stopped by an authentication failure."""


@attrs.frozen(slots=True)
class ErrorInfo:
    """Why an item was not SUCCEEDED.

    Attributes:
        code: the service's ``ErrorCode`` in underscore spelling (``COLLECTION_INVALID_ID``), or one
            of the client's own codes for failures the service never described: ``HTTP_<status>``,
            ``CONNECTION_ERROR``, ``TIMEOUT``, ``UNREADABLE_RESPONSE``, ``RESULT_MISMATCH``,
            ``NOT_SENT``.
        description: the service's ``Description`` or the client's explanation.
        message: the service's ``Message`` (often absent), or details of a client-side failure.
    """

    code: str
    description: str = ""
    message: str | None = None


@attrs.frozen(slots=True)
class TrackResult:
    """The result for one input ID.

    Attributes:
        input_id: exactly the string the caller passed (not the service's normalised echo).
        id: the collection ID the service returned (adds), else ``None``.
        error: why the item did not succeed, else ``None``.
        outcome: SUCCEEDED, REJECTED, FAILED or NOT_SENT.
    """

    input_id: str
    id: str | None = None
    error: ErrorInfo | None = None
    outcome: Outcome = Outcome.SUCCEEDED

    @property
    def ok(self) -> bool:
        """True when the service applied the operation to this item."""
        return self.outcome is Outcome.SUCCEEDED

    def to_record(self) -> dict[str, Any]:
        """The result as a JSON-ready object: ``{"input_id", "id", "outcome", "error": null or
        {"code", "description", "message"}}``, the record ``groove-async add --output`` writes
        (one home for that layout: the command line, its journal and the fleet use it)."""
        error = self.error
        return {
            "input_id": self.input_id,
            "id": self.id,
            "outcome": self.outcome.value,
            "error": None
            if error is None
            else {"code": error.code, "description": error.description, "message": error.message},
        }


class Columns:
    """Results by column: the one internal layout, from the decoder through the merge to
    :class:`BulkResult`.

    A million results cost four lists instead of a million objects for the collector to walk.

    Attributes:
        input_ids: the IDs the results are for (the caller's, or the service's echoes when
            decoded from a response).
        ids: per item, the collection ID (``None`` where there is none).
        outcomes: per item, the outcome; ``None`` when every item SUCCEEDED (the common case
            costs no column at all).
        errors: the error of each item that has one, by position.
    """

    __slots__ = ("errors", "ids", "input_ids", "outcomes")

    def __init__(
        self,
        input_ids: list[str] | None = None,
        ids: list[str | None] | None = None,
        outcomes: list[Outcome] | None = None,
        errors: dict[int, ErrorInfo] | None = None,
    ) -> None:
        self.input_ids: list[str] = [] if input_ids is None else input_ids
        self.ids: list[str | None] = [] if ids is None else ids
        self.outcomes = outcomes
        self.errors: dict[int, ErrorInfo] = {} if errors is None else errors

    @classmethod
    def uniform(cls, input_ids: list[str], outcome: Outcome, error: ErrorInfo | None) -> Columns:
        """Every item of ``input_ids`` with the same outcome and error, and no collection ID."""
        n = len(input_ids)
        outcomes: list[Outcome] | None = None if outcome is Outcome.SUCCEEDED else [outcome] * n
        return cls(
            input_ids, [None] * n, outcomes, {} if error is None else dict.fromkeys(range(n), error)
        )

    def __len__(self) -> int:
        return len(self.input_ids)

    def __repr__(self) -> str:
        return f"<Columns of {len(self)}: {count_outcomes(self.outcomes, len(self))}>"

    def outcome(self, i: int) -> Outcome:
        """The outcome of item ``i``."""
        outcomes = self.outcomes
        return Outcome.SUCCEEDED if outcomes is None else outcomes[i]

    def result(self, i: int) -> TrackResult:
        """Item ``i`` as a :class:`TrackResult`."""
        return TrackResult(self.input_ids[i], self.ids[i], self.errors.get(i), self.outcome(i))

    def outcome_column(self) -> list[Outcome]:
        """Every item's outcome (a new list when all SUCCEEDED)."""
        if self.outcomes is None:
            return [Outcome.SUCCEEDED] * len(self.input_ids)
        return self.outcomes

    def set(self, i: int, coll_id: str | None, outcome: Outcome, error: ErrorInfo | None) -> None:
        """Overwrite item ``i``."""
        self.ids[i] = coll_id
        if outcome is not Outcome.SUCCEEDED and self.outcomes is None:
            self.outcomes = [Outcome.SUCCEEDED] * len(self.input_ids)
        if self.outcomes is not None:
            self.outcomes[i] = outcome
        if error is None:
            self.errors.pop(i, None)
        else:
            self.errors[i] = error

    def extend(self, other: Columns) -> None:
        """Append every item of ``other`` (its lists are copied, not shared)."""
        offset = len(self.input_ids)
        self.input_ids += other.input_ids
        self.ids += other.ids
        if other.outcomes is not None:
            if self.outcomes is None:
                self.outcomes = [Outcome.SUCCEEDED] * offset
            self.outcomes += other.outcomes
        elif self.outcomes is not None:
            self.outcomes += [Outcome.SUCCEEDED] * len(other.input_ids)
        if other.errors:
            self.errors.update({offset + i: e for i, e in other.errors.items()})

    def append(self, result: TrackResult) -> None:
        """Append one result."""
        self.extend(
            Columns(
                [result.input_id],
                [result.id],
                None if result.outcome is Outcome.SUCCEEDED else [result.outcome],
                None if result.error is None else {0: result.error},
            )
        )

    def build(self) -> BulkResult:
        """The :class:`BulkResult` of these columns (handed over, not copied)."""
        return BulkResult._of(self)


class BulkResult(Sequence[TrackResult]):
    """One :class:`TrackResult` per input, in input order.

    Behaves as an immutable sequence (indexing, slicing, iteration, ``len``, ``==``); the
    properties below filter it. ``BulkResult(results)`` builds one from any iterable of results.

    Stored by column (:class:`Columns`), not as one object per item: :class:`TrackResult`
    values are made when you index or iterate.
    """

    __slots__ = ("_columns",)

    def __init__(self, results: Iterable[TrackResult] = ()) -> None:
        columns = Columns()
        outcomes: list[Outcome] = []
        for position, result in enumerate(results):
            columns.input_ids.append(result.input_id)
            columns.ids.append(result.id)
            outcomes.append(result.outcome)
            if result.error is not None:
                columns.errors[position] = result.error
        if not all(o is Outcome.SUCCEEDED for o in outcomes):
            columns.outcomes = outcomes
        self._columns = columns

    @classmethod
    def _of(cls, columns: Columns) -> BulkResult:
        """Wrap ``columns`` (taken, not copied)."""
        self = cls.__new__(cls)
        self._columns = columns
        return self

    @overload
    def __getitem__(self, index: int) -> TrackResult: ...
    @overload
    def __getitem__(self, index: slice) -> BulkResult: ...
    def __getitem__(self, index: int | slice) -> TrackResult | BulkResult:
        columns = self._columns
        if isinstance(index, slice):
            return BulkResult(columns.result(i) for i in range(*index.indices(len(self))))
        size = len(columns)
        if not -size <= index < size:
            raise IndexError("BulkResult index out of range")
        return columns.result(index % size)

    def __len__(self) -> int:
        return len(self._columns)

    def __iter__(self) -> Iterator[TrackResult]:
        return map(self._columns.result, range(len(self._columns)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BulkResult):
            return NotImplemented
        mine, theirs = self._columns, other._columns
        return (
            mine.input_ids == theirs.input_ids
            and mine.ids == theirs.ids
            and mine.errors == theirs.errors
            and mine.outcome_column() == theirs.outcome_column()
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[object, ...]:  # columns, not one object per item
        c = self._columns
        return (_rebuild_bulk_result, (c.input_ids, c.ids, c.outcomes, c.errors))

    def __repr__(self) -> str:
        counts = ", ".join(f"{o.value.lower()}={n}" for o, n in self.counts().items() if n)
        return f"BulkResult({len(self)} results: {counts or 'empty'})"

    def _with(self, outcome: Outcome) -> list[TrackResult]:
        columns = self._columns
        if columns.outcomes is None:
            return list(self) if outcome is Outcome.SUCCEEDED else []
        return [columns.result(i) for i, o in enumerate(columns.outcomes) if o is outcome]

    @property
    def succeeded(self) -> list[TrackResult]:
        """The items the service applied."""
        return self._with(Outcome.SUCCEEDED)

    @property
    def rejected(self) -> list[TrackResult]:
        """The items the service refused for good."""
        return self._with(Outcome.REJECTED)

    @property
    def failed(self) -> list[TrackResult]:
        """The items whose transient failures outlasted the retry policy."""
        return self._with(Outcome.FAILED)

    @property
    def not_sent(self) -> list[TrackResult]:
        """The items never sent (cancelled, out of time, stopped by an authentication failure)."""
        return self._with(Outcome.NOT_SENT)

    @property
    def ok(self) -> bool:
        """True when every item succeeded (an empty result is ok)."""
        outcomes = self._columns.outcomes
        return outcomes is None or all(o is Outcome.SUCCEEDED for o in outcomes)

    def counts(self) -> dict[Outcome, int]:
        """How many items ended in each outcome (every outcome present, zero included)."""
        return count_outcomes(self._columns.outcomes, len(self._columns))

    def retry_ids(self) -> list[str]:
        """Input IDs worth sending again (FAILED, NOT_SENT), in input order, without repeats."""
        columns = self._columns
        if columns.outcomes is None:
            return []
        retry = (Outcome.FAILED, Outcome.NOT_SENT)
        return list(
            dict.fromkeys(
                track_id
                for track_id, outcome in zip(columns.input_ids, columns.outcomes, strict=True)
                if outcome in retry
            )
        )


def _rebuild_bulk_result(
    input_ids: list[str],
    ids: list[str | None],
    outcomes: list[Outcome] | None,
    errors: dict[int, ErrorInfo],
) -> BulkResult:
    return BulkResult._of(Columns(input_ids, ids, outcomes, errors))


def count_outcomes(outcomes: list[Outcome] | None, size: int) -> dict[Outcome, int]:
    """Tally an outcome column (``None``: all ``size`` items SUCCEEDED), every outcome present."""
    counts = dict.fromkeys(Outcome, 0)
    if outcomes is None:
        counts[Outcome.SUCCEEDED] = size
    else:
        for outcome in outcomes:
            counts[outcome] += 1
    return counts


@attrs.frozen(slots=True)
class LibraryTrack:
    """A track of the user's library or of one of their playlists, as the service lists it.

    Attributes:
        id: the collection ID (library) or the playlist-entry ID (playlist).
        catalog_id: the catalog ID (``music.<GUID>``), recovered from the track's ``Link``
            (spec section 9.2: reads never give it otherwise); ``None`` when the link is absent
            or unreadable.
        name: the track's name, if the service gave one.
    """

    id: str
    catalog_id: str | None = None
    name: str | None = None


class _PlaylistIdentity:
    """The identity of a playlist whichever form of its ID the service gave (spec 9.1).

    ``id`` is the form the service gave: the browse form ``music.AQM...`` in a read, the edit
    form ``music.playlist.<guid>`` from an edit. Both carry one GUID: compare ``guid``.
    """

    __slots__ = ()
    id: str

    @property
    def guid(self) -> str | None:
        """The playlist's GUID (lower-case), the same in both forms; ``None`` for an ID of
        neither form."""
        return playlist_guid(self.id)

    @property
    def edit_id(self) -> str:
        """The edit form ``music.playlist.<guid>`` (the ID itself if of neither form)."""
        return edit_playlist_id(self.id.partition(".")[0], self.id)

    @property
    def browse_id(self) -> str:
        """The browse form ``music.AQM...`` (the ID itself if of neither form)."""
        return browse_playlist_id(self.id.partition(".")[0], self.id)


@attrs.frozen(slots=True)
class Playlist(_PlaylistIdentity):
    """One of the user's playlists, as the service lists it.

    Attributes:
        id: the playlist ID as the service lists it (the browse form ``music.AQM...``);
            ``guid``, ``edit_id`` and ``browse_id`` give its identity and both forms, the same
            as :class:`PlaylistResult`'s (compare ``guid``).
        name: its name.
        track_count: how many entries it holds.
        is_published: whether it is published, if the service said.
    """

    id: str
    name: str
    track_count: int
    is_published: bool | None = None


@attrs.frozen(slots=True)
class PlaylistResult(_PlaylistIdentity):
    """What :meth:`~groove_async.GrooveClient.create_playlist` made.

    Attributes:
        id: the new playlist's ID in the edit form (``music.playlist.<guid>``); ``guid``,
            ``edit_id`` and ``browse_id`` as on :class:`Playlist` (so ``made.guid`` is the
            ``guid`` of the :class:`Playlist` that :meth:`~groove_async.GrooveClient.iter_playlists`
            lists for it).
        name: its name.
        tracks: one result per track asked for, in input order; a success's ``id`` is its
            playlist-entry ID.
    """

    id: str
    name: str
    tracks: BulkResult = attrs.field(eq=False)
