"""Public result values: what a caller gets back, in Python names.

The wire names (``InputId``, ``TrackActionResults``...) live in :mod:`groove_async._wire` only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import attrs

__all__ = ["BulkResult", "ErrorInfo", "Outcome", "ResultColumns", "TrackResult"]


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


class BulkResult(Sequence[TrackResult]):
    """One :class:`TrackResult` per input, in input order.

    Behaves as an immutable sequence (indexing, slicing, iteration, ``len``, ``==``); the
    properties below filter it. ``BulkResult(results)`` builds one from any iterable of results.

    Stored by column (input IDs, collection IDs, and outcomes and errors only where not every
    item succeeded), not as one object per item: a million results cost a few lists instead of
    a million objects for the garbage collector to walk. :class:`TrackResult` values are made
    when you index or iterate.
    """

    __slots__ = ("_errors", "_ids", "_input_ids", "_outcomes")

    def __init__(self, results: Iterable[TrackResult] = ()) -> None:
        input_ids: list[str] = []
        ids: list[str | None] = []
        outcomes: list[Outcome] = []
        errors: dict[int, ErrorInfo] = {}
        for position, result in enumerate(results):
            input_ids.append(result.input_id)
            ids.append(result.id)
            outcomes.append(result.outcome)
            if result.error is not None:
                errors[position] = result.error
        self._input_ids = input_ids
        self._ids = ids
        self._outcomes: list[Outcome] | None = (
            None if all(o is Outcome.SUCCEEDED for o in outcomes) else outcomes
        )
        self._errors = errors

    @classmethod
    def _from_columns(
        cls,
        input_ids: list[str],
        ids: list[str | None],
        outcomes: list[Outcome] | None,
        errors: dict[int, ErrorInfo],
    ) -> BulkResult:
        """Wrap columns (taken, not copied): ``outcomes`` ``None`` means all SUCCEEDED."""
        self = cls.__new__(cls)
        self._input_ids = input_ids
        self._ids = ids
        self._outcomes = outcomes
        self._errors = errors
        return self

    def _result(self, i: int) -> TrackResult:
        outcomes = self._outcomes
        return TrackResult(
            self._input_ids[i],
            self._ids[i],
            self._errors.get(i),
            Outcome.SUCCEEDED if outcomes is None else outcomes[i],
        )

    @overload
    def __getitem__(self, index: int) -> TrackResult: ...
    @overload
    def __getitem__(self, index: slice) -> BulkResult: ...
    def __getitem__(self, index: int | slice) -> TrackResult | BulkResult:
        if isinstance(index, slice):
            return BulkResult(self._result(i) for i in range(*index.indices(len(self))))
        size = len(self._input_ids)
        if not -size <= index < size:
            raise IndexError("BulkResult index out of range")
        return self._result(index % size)

    def __len__(self) -> int:
        return len(self._input_ids)

    def __iter__(self) -> Iterator[TrackResult]:
        return map(self._result, range(len(self._input_ids)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BulkResult):
            return NotImplemented
        return (
            self._input_ids == other._input_ids
            and self._ids == other._ids
            and self._errors == other._errors
            and self._outcome_column() == other._outcome_column()
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[object, ...]:  # columns, not one object per item
        return (
            BulkResult._from_columns,
            (self._input_ids, self._ids, self._outcomes, self._errors),
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{o.value.lower()}={n}" for o, n in self.counts().items() if n)
        return f"BulkResult({len(self)} results: {counts or 'empty'})"

    def _outcome_column(self) -> list[Outcome]:
        if self._outcomes is None:
            return [Outcome.SUCCEEDED] * len(self._input_ids)
        return self._outcomes

    def _with(self, outcome: Outcome) -> list[TrackResult]:
        if self._outcomes is None:
            return list(self) if outcome is Outcome.SUCCEEDED else []
        return [self._result(i) for i, o in enumerate(self._outcomes) if o is outcome]

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
        outcomes = self._outcomes
        return outcomes is None or all(o is Outcome.SUCCEEDED for o in outcomes)

    def counts(self) -> dict[Outcome, int]:
        """How many items ended in each outcome (every outcome present, zero included)."""
        return count_outcomes(self._outcomes, len(self._input_ids))

    def retry_ids(self) -> list[str]:
        """Input IDs worth sending again (FAILED, NOT_SENT), in input order, without repeats."""
        if self._outcomes is None:
            return []
        retry = (Outcome.FAILED, Outcome.NOT_SENT)
        return list(
            dict.fromkeys(
                track_id
                for track_id, outcome in zip(self._input_ids, self._outcomes, strict=True)
                if outcome in retry
            )
        )


def count_outcomes(outcomes: list[Outcome] | None, size: int) -> dict[Outcome, int]:
    """Tally an outcome column (``None``: all ``size`` items SUCCEEDED), every outcome present."""
    counts = dict.fromkeys(Outcome, 0)
    if outcomes is None:
        counts[Outcome.SUCCEEDED] = size
    else:
        for outcome in outcomes:
            counts[outcome] += 1
    return counts


class ResultColumns:
    """Results being gathered by column, in input order (the pipeline's accumulator)."""

    __slots__ = ("errors", "ids", "input_ids", "outcomes")

    def __init__(self) -> None:
        self.input_ids: list[str] = []
        self.ids: list[str | None] = []
        self.outcomes: list[Outcome] | None = None
        self.errors: dict[int, ErrorInfo] = {}

    def __len__(self) -> int:
        return len(self.input_ids)

    def extend(
        self,
        input_ids: list[str],
        ids: list[str | None],
        outcomes: list[Outcome] | None,
        errors: dict[int, ErrorInfo] | None,
    ) -> None:
        """Append a run of results (``outcomes`` ``None``: all SUCCEEDED)."""
        offset = len(self.input_ids)
        self.input_ids += input_ids
        self.ids += ids
        if outcomes is not None:
            if self.outcomes is None:
                self.outcomes = [Outcome.SUCCEEDED] * offset
            self.outcomes += outcomes
        elif self.outcomes is not None:
            self.outcomes += [Outcome.SUCCEEDED] * len(input_ids)
        if errors:
            self.errors.update({offset + i: e for i, e in errors.items()})

    def extend_result(self, result: BulkResult) -> None:
        """Append every result of ``result``."""
        self.extend(result._input_ids, result._ids, result._outcomes, result._errors)

    def append(self, result: TrackResult) -> None:
        """Append one result."""
        self.extend(
            [result.input_id],
            [result.id],
            None if result.outcome is Outcome.SUCCEEDED else [result.outcome],
            None if result.error is None else {0: result.error},
        )

    def build(self) -> BulkResult:
        """The :class:`BulkResult` of everything gathered (the columns are handed over)."""
        return BulkResult._from_columns(self.input_ids, self.ids, self.outcomes, self.errors)
