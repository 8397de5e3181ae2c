"""The send path: one :class:`BatchSender` per client takes a batch all the way.

::

    gate -> token -> request -> transport -> read -> merge      (one attempt)
      ^                                               |
      '---- tenacity: wait, retry (429/5xx/drops) ----'          (the Retrier)
    401 -> one shared token refresh -> the whole loop once more
    every outcome -> throttle feedback (gate, limit) and progress events

The pipeline (bulk calls, streams) and the coalescer (single calls) both hand it segments; it
finishes each one whatever happens, and raises only :class:`AuthenticationError` (a 401 that a
refresh could not cure) or ``CancelledError``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Final

from ._batching import Segment, merge
from ._calls import Caller
from ._errors import AuthenticationError, BatchError
from ._events import (
    BatchFinished,
    BatchStarted,
    EventCallback,
    ProgressEvent,
    RetryScheduled,
    Throttled,
)
from ._flow import ConcurrencyLimit, Gate
from ._models import Columns, ErrorInfo, Outcome, count_outcomes
from ._operation import Operation, settle_unanswered
from ._protocol import (
    Response,
    UnauthorizedResponse,
    build_request,
    error_info_for,
    failure_outcome,
    is_throttle,
    outcome_unknown,
    read_response,
)
from ._retry import Attempts, GaveUp, Retrier, RetryPolicy
from ._wire import WireFormat, encode_request

__all__ = ["BatchSender"]

logger: Final = logging.getLogger("groove_async")


class _Aborted(Exception):
    """The operation stopped before this attempt (not a BatchError: never retried)."""


class _Batch(Attempts):
    """One segment on its way: what its attempts share and report into."""

    __slots__ = ("body", "operation", "posts", "segment", "sender", "started", "tokens", "unknown")

    def __init__(self, sender: BatchSender, operation: Operation, segment: Segment) -> None:
        super().__init__()
        self.sender = sender
        self.operation = operation
        self.segment = segment
        self.body = encode_request(segment.sent, sender.wire_format)
        self.tokens: list[str] = []  # every token sent, the latest last (for the refresh)
        self.unknown = False  # an earlier attempt may have been applied (see outcome_unknown)
        self.posts = 0  # requests sent, across the retries before and after a token refresh
        self.started = time.monotonic()

    def before_wait(self, error: BatchError, delay: float, attempt: int) -> None:
        self.sender.before_wait(self, error, delay, attempt)


class BatchSender:
    """Sends segments for one client: through its gate, token, transport, retries and limit.

    Args:
        caller: the client's single-request sender: its token source (also the redactor of
            what comes back) and its transport exchange, bounded by the client's timeout.
        base_url, namespace, wire_format: where and how requests go.
        policy, retrier: the retry policy and the client's tenacity machinery (built once).
        limit, gate: the client's flow control (AIMD limit, throttle gate).
        on_event: the progress callback, if any.
    """

    def __init__(
        self,
        *,
        caller: Caller,
        base_url: str,
        namespace: str,
        wire_format: WireFormat,
        policy: RetryPolicy,
        retrier: Retrier,
        limit: ConcurrencyLimit,
        gate: Gate,
        on_event: EventCallback | None,
    ) -> None:
        self._caller = caller
        self._auth = caller.auth
        self._base_url = base_url
        self._namespace = namespace
        self.wire_format = wire_format
        self._policy = policy
        self._limit = limit
        self._gate = gate
        self._retrier = retrier
        self._on_event = on_event

    async def send(self, operation: Operation, segment: Segment) -> None:
        """Send ``segment``'s batch with retries and finish the segment whatever happens.

        Raises:
            AuthenticationError: a 401 that a refresh could not cure, or a failed token provider
                (the segment is finished first, NOT_SENT).
        """
        batch = _Batch(self, operation, segment)
        if self._on_event is not None:
            self._emit(BatchStarted(operation.action, segment.seq, len(segment.sent)))
        try:
            await self._send_refreshing(batch)
        finally:
            if self._on_event is not None and segment.finished:
                self._emit(_finished_event(batch))

    async def aclose(self) -> None:
        """Close the transport."""
        await self._caller.transport.aclose()

    # -- the loop around one batch ----------------------------------------------------------

    async def _send_refreshing(self, batch: _Batch) -> None:
        """The retried loop, and once more after a 401 cured by one shared refresh."""
        segment, operation = batch.segment, batch.operation
        refreshed = False
        while True:
            try:
                results = await self._retrier.run(self._attempt, batch, sleep=operation.sleep)
            except UnauthorizedResponse as exc:
                if await self._refreshed(batch, exc, refreshed):
                    refreshed = True
                    continue
            except AuthenticationError:  # the token provider failed
                segment.finish_all(Outcome.NOT_SENT, _unauthorized_info(None))
                raise
            except _Aborted:
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
                self._limit.increase()
            return

    async def _refreshed(self, batch: _Batch, exc: UnauthorizedResponse, refreshed: bool) -> bool:
        """After a 401: refresh the token (``True``: try again), or finish the segment.

        Raises:
            AuthenticationError: the 401 cannot be cured (static token, refused again, a code
                no refresh helps, or the provider failed).
        """
        segment, operation = batch.segment, batch.operation
        if operation.abort.is_set():
            # Refused, so not applied: NOT_SENT even though it went out.
            segment.finish_all(Outcome.NOT_SENT, operation.infos()[0])
            return False
        refreshable = exc.refreshable and self._auth.refreshable
        if refreshed or not refreshable:
            segment.finish_all(Outcome.NOT_SENT, _unauthorized_info(exc.code))
            raise _auth_error(exc.code, refreshed=refreshed, refreshable=refreshable)
        try:
            await self._auth.refresh(batch.tokens[-1])
        except AuthenticationError:
            segment.finish_all(Outcome.NOT_SENT, _unauthorized_info(exc.code))
            raise
        return True

    # -- one attempt --------------------------------------------------------------------------

    async def _attempt(self, batch: _Batch) -> Columns:
        operation, segment = batch.operation, batch.segment
        await self._gate.wait(operation.sleep, operation.abort.is_set)
        if operation.abort.is_set():
            raise _Aborted
        token = await self._auth.get()
        batch.tokens.append(token)
        request = build_request(
            self._base_url, self._namespace, operation.action, batch.body, token, self.wire_format
        )
        segment.attempted = True
        batch.posts += 1
        try:
            return self._merge(batch, await self._caller.exchange(request))
        except BatchError as exc:
            failure: BatchError | UnauthorizedResponse = exc
            batch.unknown = batch.unknown or outcome_unknown(exc)
        except UnauthorizedResponse as exc:
            failure = exc
        # Raised outside the handlers: nothing of the original (whose text may hold a
        # reflected token) is chained to what leaves this method.
        if isinstance(failure, UnauthorizedResponse):
            code = None if failure.code is None else self._auth.redact(failure.code)
            raise UnauthorizedResponse(code)
        raise self._auth.redact_error(failure)

    def _merge(self, batch: _Batch, answer: Response) -> Columns:
        # A server reflecting the Authorization header must not get the token into results,
        # messages or logs: the body is scrubbed before anything is read from it.
        action = batch.operation.action
        response = read_response(
            answer.status,
            answer.headers,
            self._auth.redact_bytes(answer.body),
            now=datetime.now(UTC),
        )
        return merge(
            batch.segment.sent,
            response,
            ids_required=action == "add",
            gone_is_deleted=action == "delete" and batch.unknown,
        )

    def _redacted(self, results: Columns) -> Columns:
        """``results`` whose error texts hold no token (a JSON escape can hide one from the
        scrub of the raw body)."""
        if results.errors:
            results.errors = {j: self._auth.redact_info(e) for j, e in results.errors.items()}
        return results

    # -- feedback -----------------------------------------------------------------------------

    def before_wait(self, batch: _Batch, error: BatchError, delay: float, attempt: int) -> None:
        """Before a retry's wait: log it, slow the whole client down if throttled, tell."""
        segment, action = batch.segment, batch.operation.action
        logger.info(
            "groove_async: batch #%d (%d IDs): %s; retry %d/%d in %.2fs",
            segment.seq,
            len(segment.sent),
            error,
            attempt + 1,
            self._policy.attempts,
            delay,
        )
        events = self._on_event is not None
        if is_throttle(error):
            paused = self._gate.pause(delay)
            lowered = self._limit.decrease()
            if events and (paused or lowered):
                self._emit(Throttled(delay, self._limit.limit))
        if events:
            self._emit(RetryScheduled(action, segment.seq, attempt, delay, str(error)))

    def _emit(self, event: ProgressEvent) -> None:
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
        batch.posts,
        time.monotonic() - batch.started,
    )


def _join(message: str | None, reason: str) -> str:
    return f"{message}; {reason}" if message else reason


def _unauthorized_info(code: str | None) -> ErrorInfo:
    return ErrorInfo("NOT_SENT", f"Not sent: authentication failed ({code or 'HTTP 401'})")


def _auth_error(code: str | None, *, refreshed: bool, refreshable: bool) -> AuthenticationError:
    detail = f" ({code})" if code else ""
    if refreshed:
        reason = "the service refused the refreshed token as well"
    elif refreshable:
        reason = "the service refused the token"
    else:
        reason = "the service refused the token and it cannot be refreshed"
    return AuthenticationError(f"{reason}: HTTP 401{detail}", status=401, code=code)
