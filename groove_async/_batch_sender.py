"""The batch front end: one :class:`BatchSender` per client takes a segment to its results.

::

    segment -> a batch Call (body encoded once; a 200 read by decode_response + merge) ->
    the one way out (_send.Sender: gate, token, request, transport, retries, throttle, 401)
    -> the segment finished whatever happens; progress events and the AIMD increase here

The pipeline (bulk calls, streams) and the coalescer (single calls) both hand it segments; it
finishes each one whatever happens, and raises only :class:`AuthenticationError` (a 401 that a
refresh could not cure) or ``CancelledError``.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from ._batching import Segment, merge
from ._errors import AuthenticationError, BatchError
from ._events import (
    BatchFinished,
    BatchStarted,
    EventCallback,
    ProgressEvent,
    RetryScheduled,
    Throttled,
)
from ._models import Columns, ErrorInfo, Outcome, count_outcomes
from ._operation import Operation, settle_unanswered
from ._protocol import error_info_for, failure_outcome, header
from ._retry import GaveUp
from ._routes import collection_path
from ._send import Aborted, Call, Sender
from ._transport import Response
from ._wire import WireFormat, decode_response, encode_request

__all__ = ["BatchSender"]

logger: Final = logging.getLogger("groove_async")


class _Batch(Call[Columns]):
    """One segment on its way: its call, and what its attempts report into."""

    __slots__ = ("front", "operation", "segment", "started")

    def __init__(self, front: BatchSender, operation: Operation, segment: Segment) -> None:
        super().__init__(
            "POST",
            front.paths[operation.action],
            encode_request(segment.sent, front.wire_format),
            wire_format=front.wire_format,
            limited=False,  # the pipeline (or the coalescer) holds the slot
        )
        self.front = front
        self.operation = operation
        self.segment = segment
        self.started = time.monotonic()

    def sending(self) -> None:
        super().sending()
        self.segment.attempted = True

    def read(self, response: Response, body: bytes) -> Columns:
        action = self.operation.action
        decoded = decode_response(body, content_type=header(response.headers, "Content-Type"))
        return merge(
            self.segment.sent,
            decoded,
            ids_required=action == "add",
            gone_is_deleted=action == "delete" and self.unknown,
        )

    def stopped(self) -> bool:
        return self.operation.abort.is_set()

    async def sleep(self, seconds: float) -> None:
        await self.operation.sleep(seconds)

    def retrying(self, error: BatchError, delay: float, attempt: int) -> None:
        self.front.retrying(self, error, delay, attempt)

    def throttled(self, delay: float, limit: int) -> None:
        self.front.emit(Throttled(delay, limit))


class BatchSender:
    """Sends segments for one client through its one way out (see the module docstring).

    Args:
        sender: the client's :class:`~groove_async._send.Sender`.
        namespace, wire_format: where and how batches go.
        on_event: the progress callback, if any.
    """

    def __init__(
        self,
        *,
        sender: Sender,
        namespace: str,
        wire_format: WireFormat,
        on_event: EventCallback | None,
    ) -> None:
        self._sender = sender
        self.wire_format: WireFormat = wire_format
        self.paths = {action: collection_path(namespace, action) for action in ("add", "delete")}
        self._on_event = on_event

    async def send(self, operation: Operation, segment: Segment) -> None:
        """Send ``segment``'s batch with retries and finish the segment whatever happens.

        Raises:
            AuthenticationError: a 401 that a refresh could not cure, or a failed token provider
                (the segment is finished first, NOT_SENT).
        """
        batch = _Batch(self, operation, segment)
        if self._on_event is not None:
            self.emit(BatchStarted(operation.action, segment.seq, len(segment.sent)))
        try:
            await self._finish(batch)
        finally:
            if self._on_event is not None and segment.finished:
                self.emit(_finished_event(batch))

    async def _finish(self, batch: _Batch) -> None:
        segment, operation = batch.segment, batch.operation
        try:
            results = await self._sender.send(batch)
        except AuthenticationError as exc:  # a 401 no refresh cured, or the provider failed
            segment.finish_all(Outcome.NOT_SENT, _unauthorized_info(exc.code))
            raise
        except Aborted as exc:
            if exc.refused:  # refused, so not applied: NOT_SENT even though it went out
                segment.finish_all(Outcome.NOT_SENT, operation.infos()[0])
            else:
                settle_unanswered(segment, operation)
        except GaveUp as exc:
            info = error_info_for(exc.last)
            segment.finish_all(
                Outcome.FAILED,
                ErrorInfo(info.code, info.description, _join(info.message, exc.reason)),
            )
        except BatchError as exc:  # permanent: a refusal (REJECTED) or no retry can help
            segment.finish_all(failure_outcome(exc), error_info_for(exc))
        else:
            segment.finish(self._redacted(results))
            self._sender.limit.increase()

    def _redacted(self, results: Columns) -> Columns:
        """``results`` whose error texts hold no token (a JSON escape can hide one from the
        scrub of the raw body)."""
        if results.errors:
            auth = self._sender.auth
            results.errors = {j: auth.redact_info(e) for j, e in results.errors.items()}
        return results

    # -- feedback -----------------------------------------------------------------------------

    def retrying(self, batch: _Batch, error: BatchError, delay: float, attempt: int) -> None:
        """Before a retry's wait (after the send path's throttle reaction): log it, tell."""
        segment = batch.segment
        logger.info(
            "groove_async: batch #%d (%d IDs): %s; retry %d/%d in %.2fs",
            segment.seq,
            len(segment.sent),
            error,
            attempt + 1,
            self._sender.policy.attempts,
            delay,
        )
        if self._on_event is not None:
            self.emit(
                RetryScheduled(batch.operation.action, segment.seq, attempt, delay, str(error))
            )

    def emit(self, event: ProgressEvent) -> None:
        callback = self._on_event
        if callback is None:
            return
        try:
            callback(event)
        except Exception:  # a broken progress bar must not break an import
            logger.exception("groove_async: the on_event callback raised")


def _finished_event(batch: _Batch) -> BatchFinished:
    segment = batch.segment
    assert segment.columns is not None
    counts = count_outcomes(segment.columns.outcomes, len(segment.ids))
    return BatchFinished(
        batch.operation.action,
        segment.seq,
        len(segment.sent),
        counts[Outcome.SUCCEEDED],
        counts[Outcome.REJECTED],
        counts[Outcome.FAILED],
        counts[Outcome.NOT_SENT],
        batch.sent,
        time.monotonic() - batch.started,
    )


def _join(message: str | None, reason: str) -> str:
    return f"{message}; {reason}" if message else reason


def _unauthorized_info(code: str | None) -> ErrorInfo:
    return ErrorInfo("NOT_SENT", f"Not sent: authentication failed ({code or 'HTTP 401'})")
