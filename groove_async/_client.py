"""GrooveClient: composes validation, planning, the pipeline, retries, auth and the transport."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
)
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self, cast

from ._aiohttp import AiohttpTransport
from ._auth import TokenProvider, TokenSource
from ._batching import (
    MAX_BATCH_SIZE,
    BatchPlanner,
    IdValidator,
    Segment,
    SentResults,
    all_distinct,
    merge,
)
from ._coalescer import Coalescer
from ._errors import AuthenticationError, BatchError, HTTPStatusError, TransportError
from ._events import (
    BatchFinished,
    BatchStarted,
    EventCallback,
    ProgressEvent,
    RetryScheduled,
    Throttled,
)
from ._flow import ConcurrencyLimit, RetryBudget, ThrottleGate
from ._models import BulkResult, ErrorInfo, Outcome, ResultColumns, TrackResult, count_outcomes
from ._operation import Operation, read_until_stopped, settle_unanswered
from ._pipeline import add_segment, run_pipeline
from ._protocol import (
    Action,
    Request,
    Response,
    UnauthorizedResponse,
    build_request,
    error_info_for,
    failure_outcome,
    outcome_unknown,
    read_response,
    validate_base_url,
    validate_namespace,
)
from ._retry import GaveUp, RetryPolicy, retry_batch
from ._transport import Transport
from ._wire import encode_request

if TYPE_CHECKING:
    import aiohttp  # noqa: TID251  (only to type the `session` parameter)

__all__ = ["DEFAULT_BASE_URL", "GrooveClient"]

logger: Final = logging.getLogger("groove_async")

DEFAULT_BASE_URL: Final = "https://music.xboxlive.com"

TrackIds = Iterable[str] | AsyncIterable[str]

DEFAULT_LINGER: Final = 0.005


class _Aborted(Exception):
    """The operation stopped before this attempt (not a BatchError: never retried)."""


class GrooveClient:
    """An asyncio client for the Groove collection API.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with GrooveClient(token, base_url=url, max_concurrency=8) as groove:
            result = await groove.add_tracks(track_ids)

    Every operation of one client shares its flow control: at most ``max_concurrency`` POSTs in
    flight (halved when the service throttles, regained gradually on success), a throttle gate
    that holds every new attempt while the service asked to wait, and a retry budget.

    Args:
        token: the user token (visible ASCII only), or an async callable returning one. A
            callable is asked again after a 401 (once, shared by every batch in flight) and the
            batch retried once; a call that fails or outlasts ``timeout`` is an
            :class:`AuthenticationError`. Whatever the service echoes back is scrubbed of
            every token used before it reaches results, exceptions, logs or events.
        base_url: the service root. Plain ``http`` is refused except to loopback hosts
            (``localhost``, an IP literal in 127.0.0.0/8, ``::1``; never a DNS name) unless
            ``allow_insecure_http`` is set.
        namespace: the content namespace; IDs must start with ``{namespace}.``.
        max_concurrency: the most POSTs in flight at once (>= 1).
        batch_size: the most IDs per POST (1..100).
        retry: how each POST is retried.
        timeout: seconds for one HTTP request, body included, and for one call of a token
            provider.
        session: an :class:`aiohttp.ClientSession` for the default transport to use; it is not
            closed by the client.
        transport: what carries the requests: any object meeting the :class:`Transport`
            protocol (the emulator's ``FakeGrooveServer(...).transport()``, say). The default
            sends them over aiohttp. The client calls its ``aclose()`` when it closes.
        allow_insecure_http: permit plain http to a non-loopback host.
        linger: seconds :meth:`add_track` waits for more calls before sending a partial batch.
        on_event: called with each :mod:`progress event <groove_async.BatchStarted>`; must be
            quick and not raise.
        wire_format: ``"json"`` (the default) or ``"xml"``: the encoding of request bodies, and
            the one asked for in ``Accept`` (spec section 6). Responses are read in whichever of
            the two the server sends.

    Raises:
        TypeError, ValueError: an argument is of the wrong type or out of range.
    """

    def __init__(
        self,
        token: str | TokenProvider,
        *,
        base_url: str = DEFAULT_BASE_URL,
        namespace: str = "music",
        max_concurrency: int = 8,
        batch_size: int = MAX_BATCH_SIZE,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        allow_insecure_http: bool = False,
        linger: float = DEFAULT_LINGER,
        on_event: EventCallback | None = None,
        wire_format: Literal["json", "xml"] = "json",
    ) -> None:
        _check_seconds("timeout", timeout, allow_zero=False)
        # A provider call stands in for a request: it is bounded by the same timeout.
        self._auth = TokenSource(token, timeout=float(timeout))
        self._base_url = validate_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._namespace = validate_namespace(namespace)
        self._max_concurrency = _int_in_range("max_concurrency", max_concurrency, 1, 10_000)
        self._batch_size = _int_in_range("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        if retry is None:
            retry = RetryPolicy()
        elif not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        self._retry = retry
        _check_seconds("linger", linger, allow_zero=True)
        if wire_format not in ("json", "xml"):
            raise ValueError(f"wire_format must be 'json' or 'xml', got {wire_format!r:.40}")
        self._wire_format: Literal["json", "xml"] = wire_format
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be a callable taking one event")
        self._on_event = on_event
        self._validator = IdValidator(self._namespace)
        self._timeout = float(timeout)
        self._transport = _transport_for(transport, session, self._timeout, self._max_concurrency)
        self._limit = ConcurrencyLimit(self._max_concurrency)
        self._gate = ThrottleGate()
        self._budget = RetryBudget(retry.budget_ratio, retry.budget_burst)
        self._tasks: set[asyncio.Task[None]] = set()
        self._operations: set[Operation] = set()
        self._coalescers: dict[Action, Coalescer] = {
            action: Coalescer(
                functools.partial(self._send_one_batch, action),
                batch_size=self._batch_size,
                linger=float(linger),
                registry=self._tasks,
            )
            for action in ("add", "delete")
        }
        self._closed = False

    def __repr__(self) -> str:
        # Never the token: only where requests go and how many at once.
        return (
            f"GrooveClient(base_url={self._base_url!r}, namespace={self._namespace!r}, "
            f"max_concurrency={self._max_concurrency}, batch_size={self._batch_size})"
        )

    @property
    def base_url(self) -> str:
        """The service root requests go to."""
        return self._base_url

    @property
    def namespace(self) -> str:
        """The content namespace of this client's IDs."""
        return self._namespace

    @property
    def max_concurrency(self) -> int:
        """The most POSTs in flight at once."""
        return self._max_concurrency

    @property
    def concurrency(self) -> int:
        """The current concurrency limit: ``max_concurrency``, or less after throttling."""
        return self._limit.limit

    @property
    def wire_format(self) -> Literal["json", "xml"]:
        """The encoding of request bodies and the one asked for: ``"json"`` or ``"xml"``."""
        return self._wire_format

    @property
    def batch_size(self) -> int:
        """The most IDs per POST."""
        return self._batch_size

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of each POST."""
        return self._retry

    @property
    def retries_budget_left(self) -> float:
        """Retries the shared retry budget allows right now."""
        return self._budget.tokens

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Flush waiting single calls, stop running operations, close the session if ours.

        Single :meth:`add_track` / :meth:`delete_track` calls still waiting are sent and
        answered first. Bulk calls and streams still running are stopped hard: in-flight POSTs
        are cancelled and they return with their unanswered inputs NOT_SENT (or FAILED with
        ``CLIENT_CLOSED`` when a POST had gone out). Idempotent. A session passed in by the
        caller is left open.
        """
        if not self._closed:
            self._closed = True
            for coalescer in self._coalescers.values():
                await coalescer.drain()
        for operation in tuple(self._operations):
            operation.stop("closed", hard=True)
        tasks = set(self._tasks)
        if tasks:
            await asyncio.wait(tasks)
        await self._transport.aclose()

    # -- public operations ------------------------------------------------------------------

    async def add_tracks(
        self,
        track_ids: TrackIds,
        *,
        deadline: float | None = None,
        stop: asyncio.Event | None = None,
    ) -> BulkResult:
        """Add catalog tracks to the user's collection (``POST .../collection/add``).

        Args:
            track_ids: catalog IDs (``music.<GUID>``), any number, as a list, any iterable or
                an async iterable. They are all read and checked before the first request.
                Reading counts toward ``deadline`` and ``stop``: when either comes while the
                input is still being read, reading stops and the inputs read are NOT_SENT.
            deadline: seconds the whole call may take. When it passes, nothing more is sent,
                POSTs in flight are abandoned, and the call returns: unsent inputs are
                NOT_SENT, inputs of abandoned POSTs FAILED (``DEADLINE_EXCEEDED``: the service
                may or may not have applied them).
            stop: set this event to stop gracefully: nothing more is sent, POSTs in flight
                finish, and the call returns with the rest NOT_SENT.

        Returns:
            One :class:`TrackResult` per input, in input order. Per-track refusals are REJECTED
            items and transient failures that outlasted the retry policy are FAILED items:
            neither raises.

        Raises:
            TypeError, ValueError: an input is not a valid ID (nothing is sent).
            AuthenticationError: the token was refused and could not be refreshed; its
                ``partial`` holds one result per input.
            asyncio.CancelledError: the calling task was cancelled: POSTs in flight are
                cancelled, and nothing is left running.
        """
        return await self._bulk("add", track_ids, deadline, stop)

    async def delete_tracks(
        self,
        track_ids: TrackIds,
        *,
        deadline: float | None = None,
        stop: asyncio.Event | None = None,
    ) -> BulkResult:
        """Remove tracks from the user's collection (``POST .../collection/delete``).

        Takes *collection* IDs (the ``id`` of a successful add). Otherwise as :meth:`add_tracks`.

        A delete is idempotent in effect: an ID refused as not in the collection
        (``COLLECTION_INVALID_ID``) on a retry that follows an attempt whose outcome is unknown
        (a 5xx, a timeout, a dropped connection, an unreadable body) is SUCCEEDED. That attempt
        may have deleted it, and either way the collection no longer holds it.
        """
        return await self._bulk("delete", track_ids, deadline, stop)

    def stream_add_tracks(
        self,
        track_ids: TrackIds,
        *,
        deadline: float | None = None,
        stop: asyncio.Event | None = None,
    ) -> AsyncGenerator[TrackResult, None]:
        """Add tracks, yielding results in input order as they are ready.

        Reads the input lazily, holding about ``2 * max_concurrency`` batches at a time, so an
        endless async iterator works and memory stays flat. Each input is checked as it is
        read: an invalid one ends the stream with ``TypeError``/``ValueError`` after every input
        before it has been yielded. Repeats are sent once while their first occurrence is
        in flight; a repeat far apart is sent again (adding is idempotent).

        ``deadline`` and ``stop`` are as in :meth:`add_tracks`: the stream then yields the
        results of every input it had read (NOT_SENT or FAILED where unanswered) and ends.

        Close the iterator promptly if you stop early (``contextlib.aclosing``) so its batches
        are cancelled at once rather than when it is garbage-collected.

        Raises:
            AuthenticationError: as :meth:`add_tracks`; ``partial`` holds the results of the
                inputs read but not yet yielded.
        """
        return self._stream("add", track_ids, deadline, stop)

    def stream_delete_tracks(
        self,
        track_ids: TrackIds,
        *,
        deadline: float | None = None,
        stop: asyncio.Event | None = None,
    ) -> AsyncGenerator[TrackResult, None]:
        """Delete tracks by collection ID, yielding results in input order (see
        :meth:`stream_add_tracks`)."""
        return self._stream("delete", track_ids, deadline, stop)

    async def add_track(self, track_id: str) -> TrackResult:
        """Add one track, batched with the concurrent calls of other tasks.

        Calls arriving together (a chat bot's handlers, a web service's requests) are gathered
        into batches of up to ``batch_size`` IDs, sent when a batch is full or ``linger``
        seconds after its first ID, through the same limit, retries and token as bulk calls.
        Cancelling one caller does not cancel the batch for the others.

        Raises:
            TypeError, ValueError: ``track_id`` is not a valid ID.
            AuthenticationError: the token was refused and could not be refreshed.
        """
        # One coroutine frame per call, awaiting the coalescer's future directly: with
        # thousands of callers waiting, every extra frame is more for the collector to walk.
        if self._closed:
            raise RuntimeError("this GrooveClient is closed")
        return await self._coalescers["add"].enqueue(self._validator.check(track_id, 0))

    async def delete_track(self, track_id: str) -> TrackResult:
        """Delete one track by collection ID, batched like :meth:`add_track`."""
        if self._closed:
            raise RuntimeError("this GrooveClient is closed")
        return await self._coalescers["delete"].enqueue(self._validator.check(track_id, 0))

    # -- composition ------------------------------------------------------------------------

    async def _send_one_batch(
        self, action: Action, ids: list[str]
    ) -> tuple[list[TrackResult], AuthenticationError | None]:
        """Send coalesced IDs as one batch; results per ID, or the auth failure that stopped it."""
        planner = BatchPlanner(self._batch_size)
        closed = planner.feed_many(ids)
        last = planner.flush()
        segments = [*closed, *([last] if last is not None else [])]
        operation = Operation(action)
        error: AuthenticationError | None = None
        for segment in segments:  # one, unless batch_size shrank the batch
            if segment.sent:
                await self._limit.acquire()
                try:
                    await self._send(operation, segment)
                except AuthenticationError as exc:
                    error = exc
                finally:
                    self._limit.release()
            else:
                segment.finish([])
            planner.finished(segment)
        return [r for s in segments for r in s.results or ()], error

    def _begin(
        self, action: Action, deadline: float | None, stop: asyncio.Event | None
    ) -> tuple[Operation, Callable[[], None]]:
        """A new operation wired to its deadline and stop event; returns it and its cleanup."""
        self._check_open()
        if stop is not None and not isinstance(stop, asyncio.Event):
            raise TypeError(f"stop must be an asyncio.Event, not {type(stop).__name__}")
        operation = Operation(action)
        loop = asyncio.get_running_loop()
        handles: list[asyncio.TimerHandle] = []
        watcher: asyncio.Task[None] | None = None
        if deadline is not None:
            _check_seconds("deadline", deadline, allow_zero=True)
            operation.deadline_at = time.monotonic() + deadline
            handles.append(
                loop.call_later(deadline, functools.partial(operation.stop, "deadline", hard=True))
            )
        if stop is not None:

            async def watch() -> None:
                await stop.wait()
                operation.stop("stopped")

            watcher = loop.create_task(watch(), name="groove-stop-watcher")
        self._operations.add(operation)

        def end() -> None:
            self._operations.discard(operation)
            for handle in handles:
                handle.cancel()
            if watcher is not None:
                watcher.cancel()

        return operation, end

    async def _bulk(
        self,
        action: Action,
        track_ids: TrackIds,
        deadline: float | None,
        stop: asyncio.Event | None,
    ) -> BulkResult:
        _check_iterable(track_ids)
        columns = ResultColumns()
        ids: list[str] = []
        operation, end = self._begin(action, deadline, stop)
        try:
            # Read under the operation: its deadline and stop event cover a slow source too.
            ids = await self._read_all(track_ids, operation)
            pipeline = run_pipeline(
                ids,
                operation=operation,
                planner=BatchPlanner(self._batch_size, remember=True, distinct=all_distinct(ids)),
                send=lambda segment: self._send(operation, segment),
                limit=self._limit,
                registry=self._tasks,
            )
            async with aclosing(pipeline) as segments:
                async for segment in segments:
                    add_segment(columns, segment)
        except AuthenticationError as exc:
            # Every input was read: those the pipeline never reached are NOT_SENT too.
            if exc.partial is not None:
                columns.extend_result(exc.partial)
            _add_unanswered(columns, ids, operation)
            exc.partial = columns.build()
            raise
        finally:
            end()
        _add_unanswered(columns, ids, operation)  # stopped early: the rest was never sent
        return columns.build()

    async def _stream(
        self,
        action: Action,
        track_ids: TrackIds,
        deadline: float | None,
        stop: asyncio.Event | None,
    ) -> AsyncGenerator[TrackResult, None]:
        _check_iterable(track_ids)
        operation, end = self._begin(action, deadline, stop)
        pipeline = run_pipeline(
            track_ids,
            operation=operation,
            planner=BatchPlanner(self._batch_size, remember=False),
            send=lambda segment: self._send(operation, segment),
            limit=self._limit,
            validator=self._validator,
            window=2 * self._max_concurrency,
            registry=self._tasks,
        )
        try:
            async with aclosing(pipeline) as segments:
                async for segment in segments:
                    for i in range(len(segment.ids)):
                        yield segment.result(i)
        finally:
            end()

    async def _read_all(self, track_ids: TrackIds, operation: Operation) -> list[str]:
        """Read and check every input; stop reading (keeping what was read) if ``operation`` stops.

        Raises:
            TypeError, ValueError: an invalid input (nothing is sent).
            Exception: whatever the caller's iterable raised (nothing is sent).
        """
        check = self._validator.check
        ids: list[str] = []
        if isinstance(track_ids, AsyncIterable):

            def take(track_id: object) -> None:
                ids.append(check(track_id, len(ids)))

            await read_until_stopped(track_ids, take, operation)
            return ids
        if isinstance(track_ids, list | tuple):
            raw: list[object] = list(track_ids)
        else:  # a plain iterator may be slow too, and no timer fires while it runs
            raw = []
            iterator = iter(track_ids)
            while chunk := list(itertools.islice(iterator, self._batch_size)):
                raw.extend(chunk)
                if operation.overdue():
                    break
        size = self._batch_size
        for start in range(0, len(raw), size):
            self._validator.check_many(raw[start : start + size], start)
        return cast(list[str], raw)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this GrooveClient is closed")

    def _emit(self, event: ProgressEvent) -> None:
        callback = self._on_event
        if callback is None:
            return
        try:
            callback(event)
        except Exception:  # a broken progress bar must not break an import
            logger.exception("groove_async: the on_event callback raised")

    async def _send(self, operation: Operation, segment: Segment) -> None:
        """Send one segment's batch with retries, and finish the segment whatever happens.

        Raises:
            AuthenticationError: a 401 that a refresh could not cure (the segment is finished
                first, NOT_SENT).
        """
        body = encode_request(segment.sent, self._wire_format)
        used: list[str] = []
        attempts = 0
        events = self._on_event is not None
        started = time.monotonic()
        if events:
            self._emit(BatchStarted(operation.action, segment.seq, len(segment.sent)))

        action = operation.action
        unknown = False  # an earlier attempt may have been applied (see outcome_unknown)

        async def attempt() -> SentResults:
            nonlocal attempts, unknown
            await self._gate.wait(operation.sleep, operation.abort.is_set)
            if operation.abort.is_set():
                raise _Aborted
            token = await self._auth.get()
            used.append(token)
            request = build_request(
                self._base_url, self._namespace, action, body, token, self._wire_format
            )
            segment.attempted = True
            attempts += 1
            try:
                answer = await self._exchange(request)
                # A server reflecting the Authorization header must not get the token into
                # results, messages or logs: scrubbed before anything is read from the body.
                response = read_response(
                    answer.status, answer.headers, self._auth.redact_bytes(answer.body)
                )
                return merge(
                    segment.sent,
                    response,
                    ids_required=action == "add",
                    gone_is_deleted=action == "delete" and unknown,
                )
            except BatchError as exc:
                failure: BatchError | UnauthorizedResponse = exc
                unknown = unknown or outcome_unknown(exc)
            except UnauthorizedResponse as exc:
                failure = exc
            # Raised outside the handlers: nothing of the original (whose text may hold a
            # reflected token) is chained to what leaves this function.
            if isinstance(failure, UnauthorizedResponse):
                raise UnauthorizedResponse(_redacted_code(self._auth, failure.code))
            raise self._auth.redact_error(failure)

        def before_retry(error: BatchError, delay: float, attempt_number: int) -> None:
            logger.info(
                "groove_async: batch #%d (%d IDs): %s; retry %d/%d in %.2fs",
                segment.seq,
                len(segment.sent),
                error,
                attempt_number + 1,
                self._retry.attempts,
                delay,
            )
            if _is_throttle(error):
                paused = self._gate.pause(delay)
                lowered = self._limit.decrease()
                if events and (paused or lowered):
                    self._emit(Throttled(delay, self._limit.limit))
            if events:
                self._emit(
                    RetryScheduled(operation.action, segment.seq, attempt_number, delay, str(error))
                )

        try:
            await self._send_with_refresh(operation, segment, attempt, before_retry, used)
        finally:
            if events and segment.finished:
                counts = count_outcomes(segment.outcomes, len(segment.ids))
                self._emit(
                    BatchFinished(
                        operation.action,
                        segment.seq,
                        len(segment.sent),
                        counts[Outcome.SUCCEEDED],
                        counts[Outcome.REJECTED],
                        counts[Outcome.FAILED],
                        counts[Outcome.NOT_SENT],
                        attempts,
                        time.monotonic() - started,
                    )
                )

    async def _exchange(self, request: Request) -> Response:
        """One request through the transport, bounded by ``timeout``.

        Raises:
            TransportError: the request did not complete in time, or the transport failed
                (anything but a cancellation counts as a dropped connection).
        """
        try:
            async with asyncio.timeout(self._timeout):
                return await self._transport.send(request)
        except TransportError:
            raise
        except TimeoutError:
            raise TransportError("the request timed out", code="TIMEOUT") from None
        except Exception as exc:  # a caller's transport: whatever it raises is a dropped line
            raise TransportError(f"the transport failed: {type(exc).__name__}") from exc

    def _redacted(self, results: SentResults) -> SentResults:
        """``results`` whose error texts hold no token (a JSON escape can hide one from the
        scrub of the raw body)."""
        coll, outcomes, errors = results
        if errors:
            errors = {j: self._auth.redact_info(e) for j, e in errors.items()}
        return coll, outcomes, errors

    async def _send_with_refresh(
        self,
        operation: Operation,
        segment: Segment,
        attempt: Callable[[], Awaitable[SentResults]],
        before_retry: Callable[[BatchError, float, int], None],
        used: list[str],
    ) -> None:
        refreshed = False
        while True:
            try:
                results = await retry_batch(
                    attempt,
                    self._retry,
                    sleep=operation.sleep,
                    before_sleep=before_retry,
                    budget=self._budget,
                )
            except UnauthorizedResponse as exc:
                if operation.abort.is_set():
                    # Refused, so not applied: NOT_SENT even though it went out.
                    segment.finish_all(Outcome.NOT_SENT, operation.infos()[0])
                    return
                if refreshed or not self._auth.refreshable or not exc.refreshable:
                    segment.finish_all(Outcome.NOT_SENT, _unauthorized_info(exc.code))
                    refreshable = exc.refreshable and self._auth.refreshable
                    raise _auth_error(
                        exc.code, refreshed=refreshed, refreshable=refreshable
                    ) from None
                try:
                    await self._auth.refresh(used[-1])
                except AuthenticationError:
                    segment.finish_all(Outcome.NOT_SENT, _unauthorized_info(exc.code))
                    raise
                refreshed = True
                continue
            except AuthenticationError:  # the token provider failed on first use
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
                segment.finish(*self._redacted(results))
                self._limit.increase()
            return


def _transport_for(
    transport: Transport | None,
    session: aiohttp.ClientSession | None,
    timeout: float,
    max_concurrency: int,
) -> Transport:
    if transport is None:
        return AiohttpTransport(session, timeout=timeout, connections=max(100, max_concurrency))
    if session is not None:
        raise TypeError("pass either session= (for the default transport) or transport=, not both")
    if not isinstance(transport, Transport):
        raise TypeError(
            "transport must have async send(request) and aclose() methods (the Transport "
            f"protocol), not {type(transport).__name__}"
        )
    return transport


def _redacted_code(auth: TokenSource, code: str | None) -> str | None:
    return None if code is None else auth.redact(code)


def _is_throttle(error: BatchError) -> bool:
    """A 429, or a 503 that named a wait: the service asks the whole client to slow down."""
    return isinstance(error, HTTPStatusError) and (
        error.status == 429 or (error.status == 503 and error.retry_after is not None)
    )


def _add_unanswered(columns: ResultColumns, ids: list[str], operation: Operation) -> None:
    """Append NOT_SENT results for the inputs of ``ids`` past those ``columns`` already has."""
    rest = ids[len(columns) :]
    if rest:
        not_sent, _ = operation.infos()
        n = len(rest)
        columns.extend(rest, [None] * n, [Outcome.NOT_SENT] * n, dict.fromkeys(range(n), not_sent))


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != value  # NaN
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a number of seconds {bound}, got {value!r}")


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


def _check_iterable(track_ids: object) -> None:
    if isinstance(track_ids, str | bytes | bytearray):
        raise TypeError(
            "track_ids must be an iterable of IDs, not a single string: wrap one ID in a list"
        )
    if not isinstance(track_ids, Iterable | AsyncIterable):
        raise TypeError(
            f"track_ids must be an iterable or async iterable of str, "
            f"not {type(track_ids).__name__}"
        )


def _int_in_range(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value
