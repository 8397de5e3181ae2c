"""Public result values: what a caller gets back, in Python names.

The wire names (``InputId``, ``TrackActionResults``...) live in :mod:`groove_async._wire` only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import overload

import attrs

__all__ = ["BulkResult", "ErrorInfo", "Outcome", "TrackResult"]


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


@attrs.frozen(slots=True, repr=False)
class BulkResult(Sequence[TrackResult]):
    """One :class:`TrackResult` per input, in input order.

    Behaves as an immutable sequence; the properties below filter it.
    """

    results: tuple[TrackResult, ...] = attrs.field(converter=tuple[TrackResult, ...])

    @overload
    def __getitem__(self, index: int) -> TrackResult: ...
    @overload
    def __getitem__(self, index: slice) -> BulkResult: ...
    def __getitem__(self, index: int | slice) -> TrackResult | BulkResult:
        if isinstance(index, slice):
            return BulkResult(self.results[index])
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[TrackResult]:
        return iter(self.results)

    def __repr__(self) -> str:
        counts = ", ".join(f"{o.value.lower()}={n}" for o, n in self.counts().items() if n)
        return f"BulkResult({len(self.results)} results: {counts or 'empty'})"

    def _with(self, outcome: Outcome) -> list[TrackResult]:
        return [r for r in self.results if r.outcome is outcome]

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
        return all(r.outcome is Outcome.SUCCEEDED for r in self.results)

    def counts(self) -> dict[Outcome, int]:
        """How many items ended in each outcome (every outcome present, zero included)."""
        counts = dict.fromkeys(Outcome, 0)
        for r in self.results:
            counts[r.outcome] += 1
        return counts

    def retry_ids(self) -> list[str]:
        """Input IDs worth sending again (FAILED, NOT_SENT), in input order, without repeats."""
        retry = (Outcome.FAILED, Outcome.NOT_SENT)
        return list(dict.fromkeys(r.input_id for r in self.results if r.outcome in retry))
