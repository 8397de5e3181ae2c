"""GrooveClient: composes validation, planning, the pipeline, retries, auth and the transport."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Callable,
    Iterable,
)
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self

from ._aiohttp import AiohttpTransport
from ._auth import TokenProvider, TokenSource
from ._batch_sender import BatchSender
from ._batching import MAX_BATCH_SIZE, BatchPlanner, all_distinct
from ._calls import Caller
from ._checks import check_iterable, check_seconds, int_in_range
from ._client_library import LibraryMethods
from ._coalescer import Coalescer
from ._errors import AuthenticationError
from ._events import (
    EventCallback,
)
from ._flow import ConcurrencyLimit, Gate, RetryBudget, ThrottleGate
from ._ids import IdValidator
from ._library import LibraryReader
from ._models import BulkResult, Columns, Outcome, TrackResult
from ._operation import Operation, read_all, start_operation
from ._pipeline import Pipeline, add_segment
from ._playlists import PlaylistEditor
from ._protocol import (
    Action,
    validate_base_url,
    validate_namespace,
)
from ._retry import Retrier, RetryPolicy
from ._send import Sender
from ._transport import Transport

if TYPE_CHECKING:
    import aiohttp  # noqa: TID251  (only to type the `session` parameter)

__all__ = ["DEFAULT_BASE_URL", "GrooveClient"]

logger: Final = logging.getLogger("groove_async")

DEFAULT_BASE_URL: Final = "https://music.xboxlive.com"

TrackIds = Iterable[str] | AsyncIterable[str]

DEFAULT_LINGER: Final = 0.005


class GrooveClient(LibraryMethods):
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
        gate: what every attempt waits on while the service asked to pause, and what a
            throttle (429, or 503 with ``Retry-After``) closes: any object meeting the
            :class:`Gate` protocol. The default is an in-process :class:`ThrottleGate`; a fleet
            of workers sharing one token passes one that shares the pause between them.

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
        gate: Gate | None = None,
    ) -> None:
        check_seconds("timeout", timeout, allow_zero=False)
        # A provider call stands in for a request: it is bounded by the same timeout.
        self._auth = TokenSource(token, timeout=float(timeout))
        self._base_url = validate_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._namespace = validate_namespace(namespace)
        self._max_concurrency = int_in_range("max_concurrency", max_concurrency, 1, 10_000)
        self._batch_size = int_in_range("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        if retry is None:
            retry = RetryPolicy()
        elif not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        self._retry = retry
        check_seconds("linger", linger, allow_zero=True)
        if wire_format not in ("json", "xml"):
            raise ValueError(f"wire_format must be 'json' or 'xml', got {wire_format!r:.40}")
        self._wire_format: Literal["json", "xml"] = wire_format
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be a callable taking one event")
        self._on_event = on_event
        self._validator = IdValidator(self._namespace)
        self._limit = ConcurrencyLimit(self._max_concurrency)
        if gate is None:
            gate = ThrottleGate(rng=retry.rng)
        elif not isinstance(gate, Gate):
            raise TypeError(
                "gate must have paused_for, pause(seconds) and async wait() (the Gate protocol), "
                f"not {type(gate).__name__}"
            )
        self._gate: Gate = gate
        self._budget = RetryBudget(retry.budget_ratio, retry.budget_burst)
        self._tasks: set[asyncio.Task[None]] = set()
        self._operations: set[Operation] = set()
        self._retrier = Retrier(retry, self._budget)
        self._send = Sender(
            auth=self._auth,
            transport=_transport_for(transport, session, self._max_concurrency),
            base_url=self._base_url,
            timeout=float(timeout),
            policy=retry,
            retrier=self._retrier,
            limit=self._limit,
            gate=self._gate,
        )
        self._caller = Caller(self._send)
        self._sender = BatchSender(
            sender=self._send,
            namespace=self._namespace,
            wire_format=wire_format,
            on_event=on_event,
        )
        self._reader = LibraryReader(
            self._caller, self._namespace, self._max_concurrency, redact=self._auth.redact
        )
        self._editor = PlaylistEditor(self._caller, self._reader, self._namespace, retry)
        self._coalescers: dict[Action, Coalescer] = {
            action: Coalescer(
                action,
                self._sender.send,
                self._limit,
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
        await self._send.aclose()

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
        return await self._coalescers["add"].enqueue(self._validator.check(track_id))

    async def delete_track(self, track_id: str) -> TrackResult:
        """Delete one track by collection ID, batched like :meth:`add_track`."""
        if self._closed:
            raise RuntimeError("this GrooveClient is closed")
        return await self._coalescers["delete"].enqueue(self._validator.check(track_id))

    # -- composition ------------------------------------------------------------------------

    def _begin(
        self, action: Action, deadline: float | None, stop: asyncio.Event | None
    ) -> tuple[Operation, Callable[[], None]]:
        """A new operation wired to its deadline and stop event; returns it and its cleanup."""
        self._check_open()
        if deadline is not None:
            check_seconds("deadline", deadline, allow_zero=True)
        operation, release = start_operation(action, deadline, stop)
        self._operations.add(operation)

        def end() -> None:
            self._operations.discard(operation)
            release()

        return operation, end

    async def _bulk(
        self,
        action: Action,
        track_ids: TrackIds,
        deadline: float | None,
        stop: asyncio.Event | None,
    ) -> BulkResult:
        check_iterable(track_ids)
        columns = Columns()
        ids: list[str] = []
        operation, end = self._begin(action, deadline, stop)
        try:
            # Read under the operation: its deadline and stop event cover a slow source too.
            ids = await read_all(track_ids, operation, self._validator, self._batch_size)
            pipeline = Pipeline(
                ids,
                operation=operation,
                planner=BatchPlanner(self._batch_size, remember=True, distinct=all_distinct(ids)),
                send=functools.partial(self._sender.send, operation),
                limit=self._limit,
                registry=self._tasks,
            ).segments()
            async with aclosing(pipeline) as segments:
                async for segment in segments:
                    add_segment(columns, segment)
        except AuthenticationError as exc:
            # Every input was read: those the pipeline never reached are NOT_SENT too.
            if exc.partial is not None:
                columns.extend(exc.partial._columns)
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
        check_iterable(track_ids)
        operation, end = self._begin(action, deadline, stop)
        pipeline = Pipeline(
            track_ids,
            operation=operation,
            planner=BatchPlanner(self._batch_size, remember=False),
            send=functools.partial(self._sender.send, operation),
            limit=self._limit,
            validator=self._validator,
            window=2 * self._max_concurrency,
            registry=self._tasks,
        ).segments()
        try:
            async with aclosing(pipeline) as segments:
                async for segment in segments:
                    for i in range(len(segment.ids)):
                        yield segment.result(i)
        finally:
            end()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this GrooveClient is closed")


def _transport_for(
    transport: Transport | None,
    session: aiohttp.ClientSession | None,
    max_concurrency: int,
) -> Transport:
    if transport is None:
        # The send path bounds every exchange by ``timeout`` itself: aiohttp needs no timer.
        return AiohttpTransport(session, timeout=None, connections=max(100, max_concurrency))
    if session is not None:
        raise TypeError("pass either session= (for the default transport) or transport=, not both")
    if not isinstance(transport, Transport):
        raise TypeError(
            "transport must have async send(request) and aclose() methods (the Transport "
            f"protocol), not {type(transport).__name__}"
        )
    return transport


def _add_unanswered(columns: Columns, ids: list[str], operation: Operation) -> None:
    """Append NOT_SENT results for the inputs of ``ids`` past those ``columns`` already has."""
    rest = ids[len(columns) :]
    if rest:
        columns.extend(Columns.uniform(rest, Outcome.NOT_SENT, operation.infos()[0]))
