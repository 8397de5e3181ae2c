"""Progress events: what a progress bar, a log or a metrics exporter hangs on.

Pass ``on_event=callback`` to :class:`~groove_async.GrooveClient`; the callback is called
synchronously, in the event loop, with one of the frozen values below. It must be quick and must
not raise (an exception it raises is logged and ignored). With no callback, no event is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import attrs

__all__ = [
    "BatchFinished",
    "BatchStarted",
    "EventCallback",
    "ProgressEvent",
    "RetryScheduled",
    "Throttled",
]


@attrs.frozen(slots=True)
class BatchStarted:
    """A batch's first attempt is about to be sent.

    Attributes:
        action: ``"add"`` or ``"delete"``.
        batch: the batch's number within its operation (0-based; coalesced batches count on
            their own).
        size: IDs in the POST.
    """

    action: str
    batch: int
    size: int


@attrs.frozen(slots=True)
class BatchFinished:
    """A batch ended (successfully or not): how its IDs came out.

    Attributes:
        action: ``"add"`` or ``"delete"``.
        batch: as in :class:`BatchStarted`.
        size: IDs in the POST.
        succeeded, rejected, failed, not_sent: how many of the inputs this batch answers
            (repeats of its IDs included, so they add up to the inputs, not to ``size``) ended
            in each outcome.
        attempts: how many attempts were sent.
        elapsed: seconds from the first attempt to the end.
    """

    action: str
    batch: int
    size: int
    succeeded: int
    rejected: int
    failed: int
    not_sent: int
    attempts: int
    elapsed: float


@attrs.frozen(slots=True)
class RetryScheduled:
    """A batch failed transiently and will be sent again after ``delay`` seconds.

    Attributes:
        action, batch: as in :class:`BatchStarted`.
        attempt: the number of the attempt that failed (1-based).
        delay: seconds until the next attempt.
        reason: what failed (e.g. ``HTTP 503``, ``TIMEOUT``), without secrets.
    """

    action: str
    batch: int
    attempt: int
    delay: float
    reason: str


@attrs.frozen(slots=True)
class Throttled:
    """The service asked the client to slow down (429, or 503 with ``Retry-After``).

    Attributes:
        pause: seconds during which the client sends nothing new.
        concurrency: the client's concurrency limit after this signal (halved, AIMD).
    """

    pause: float
    concurrency: int


ProgressEvent: TypeAlias = BatchStarted | BatchFinished | RetryScheduled | Throttled
EventCallback: TypeAlias = Callable[[ProgressEvent], None]
