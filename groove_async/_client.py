"""GrooveClient: composes validation, planning, the pipeline, retries, auth and the transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

from ._auth import TokenProvider, TokenSource
from ._batching import MAX_BATCH_SIZE, BatchPlanner, IdValidator, Segment, merge
from ._errors import AuthenticationError, BatchError
from ._models import BulkResult, ErrorInfo, Outcome, TrackResult
from ._pipeline import run_pipeline
from ._protocol import (
    Action,
    UnauthorizedResponse,
    build_request,
    error_info_for,
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

_ABORTED: Final = ErrorInfo("NOT_SENT", "Not sent: the operation was stopped")
_NOT_SENT_AUTH: Final = ErrorInfo(
    "NOT_SENT", "Not sent: the operation stopped after an authentication failure"
)


class _Aborted(Exception):
    """The operation stopped before this attempt (not a BatchError: never retried)."""


class _Operation:
    """What the sends of one bulk or stream call share."""

    __slots__ = ("abort", "action")

    def __init__(self, action: Action) -> None:
        self.action: Action = action
        self.abort = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Wait between attempts, waking early when the operation is aborted."""
        try:
            async with asyncio.timeout(seconds):
                await self.abort.wait()
        except TimeoutError:
            pass


class GrooveClient:
    """An asyncio client for the Groove collection API.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with GrooveClient(token, base_url=url, max_concurrency=8) as groove:
            result = await groove.add_tracks(track_ids)

    Args:
        token: the user token, or an async callable returning one. A callable is asked again
            after a 401 (once, shared by every batch in flight) and the batch retried once.
        base_url: the service root. Plain ``http`` is refused except to loopback hosts unless
            ``allow_insecure_http`` is set.
        namespace: the content namespace; IDs must start with ``{namespace}.``.
        max_concurrency: the most POSTs in flight at once (>= 1).
        batch_size: the most IDs per POST (1..100).
        retry: how each POST is retried.
        timeout: seconds for one HTTP request, body included.
        session: an :class:`aiohttp.ClientSession` to use; it is not closed by the client.
        allow_insecure_http: permit plain http to a non-loopback host.

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
        allow_insecure_http: bool = False,
    ) -> None:
        self._auth = TokenSource(token)
        self._base_url = validate_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._namespace = validate_namespace(namespace)
        self._max_concurrency = _int_in_range("max_concurrency", max_concurrency, 1, 10_000)
        self._batch_size = _int_in_range("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        if retry is None:
            retry = RetryPolicy()
        elif not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        self._retry = retry
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        self._validator = IdValidator(self._namespace)
        self._transport = Transport(
            session, timeout=float(timeout), connections=max(100, self._max_concurrency)
        )
        self._tasks: set[asyncio.Task[None]] = set()
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
    def batch_size(self) -> int:
        """The most IDs per POST."""
        return self._batch_size

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of each POST."""
        return self._retry

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
        """Cancel anything still running and close the session if the client created it.

        Idempotent. A session passed in by the caller is left open.
        """
        self._closed = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await self._transport.close()

    # -- public operations ------------------------------------------------------------------

    async def add_tracks(self, track_ids: TrackIds) -> BulkResult:
        """Add catalog tracks to the user's collection (``POST .../collection/add``).

        Args:
            track_ids: catalog IDs (``music.<GUID>``), any number, as a list, any iterable or
                an async iterable. They are all read and checked before the first request.

        Returns:
            One :class:`TrackResult` per input, in input order. Per-track refusals are REJECTED
            items and transient failures that outlasted the retry policy are FAILED items:
            neither raises.

        Raises:
            TypeError, ValueError: an input is not a valid ID (nothing is sent).
            AuthenticationError: the token was refused and could not be refreshed; its
                ``partial`` holds one result per input.
        """
        return await self._bulk("add", track_ids)

    async def delete_tracks(self, track_ids: TrackIds) -> BulkResult:
        """Remove tracks from the user's collection (``POST .../collection/delete``).

        Takes *collection* IDs (the ``id`` of a successful add). Otherwise as :meth:`add_tracks`.
        """
        return await self._bulk("delete", track_ids)

    def stream_add_tracks(self, track_ids: TrackIds) -> AsyncIterator[TrackResult]:
        """Add tracks, yielding results in input order as they are ready.

        Reads the input lazily, holding about ``2 * max_concurrency`` batches at a time, so an
        endless async iterator works and memory stays flat. Each input is checked as it is
        read: an invalid one ends the stream with ``TypeError``/``ValueError`` after every input
        before it has been yielded. Repeats are sent once while their first occurrence is
        in flight; a repeat far apart is sent again (adding is idempotent).

        Close the iterator promptly if you stop early (``contextlib.aclosing``) so its batches
        are cancelled at once rather than when it is garbage-collected.

        Raises:
            AuthenticationError: as :meth:`add_tracks`; ``partial`` holds the results of the
                inputs read but not yet yielded.
        """
        return self._stream("add", track_ids)

    def stream_delete_tracks(self, track_ids: TrackIds) -> AsyncIterator[TrackResult]:
        """Delete tracks by collection ID, yielding results in input order (see
        :meth:`stream_add_tracks`)."""
        return self._stream("delete", track_ids)

    # -- composition ------------------------------------------------------------------------

    async def _bulk(self, action: Action, track_ids: TrackIds) -> BulkResult:
        self._check_open()
        ids = await self._read_all(track_ids)
        results: list[TrackResult] = []
        operation = _Operation(action)
        pipeline = run_pipeline(
            ids,
            planner=BatchPlanner(self._batch_size, remember=True),
            send=lambda segment: self._send(operation, segment),
            concurrency=self._max_concurrency,
            abort=operation.abort,
            registry=self._tasks,
        )
        try:
            async with aclosing(pipeline) as segments:
                async for segment in segments:
                    results += segment.results or ()
        except AuthenticationError as exc:
            # Every input was read: those the pipeline never reached are NOT_SENT too.
            results += exc.partial or ()
            results += (
                TrackResult(i, None, _NOT_SENT_AUTH, Outcome.NOT_SENT) for i in ids[len(results) :]
            )
            exc.partial = BulkResult(results)
            raise
        return BulkResult(results)

    async def _stream(
        self, action: Action, track_ids: TrackIds
    ) -> AsyncGenerator[TrackResult, None]:
        self._check_open()
        _check_iterable(track_ids)
        operation = _Operation(action)
        pipeline = run_pipeline(
            track_ids,
            planner=BatchPlanner(self._batch_size, remember=False),
            send=lambda segment: self._send(operation, segment),
            concurrency=self._max_concurrency,
            abort=operation.abort,
            validate=self._validator.check,
            window=2 * self._max_concurrency,
            registry=self._tasks,
        )
        async with aclosing(pipeline) as segments:
            async for segment in segments:
                for result in segment.results or ():
                    yield result

    async def _read_all(self, track_ids: TrackIds) -> list[str]:
        _check_iterable(track_ids)
        check = self._validator.check
        if isinstance(track_ids, AsyncIterable):
            ids: list[str] = []
            async for track_id in track_ids:
                ids.append(check(track_id, len(ids)))
            return ids
        return [check(track_id, i) for i, track_id in enumerate(track_ids)]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this GrooveClient is closed")

    async def _send(self, operation: _Operation, segment: Segment) -> None:
        """Send one segment's batch with retries, and finish the segment whatever happens.

        Raises:
            AuthenticationError: a 401 that a refresh could not cure (the segment is finished
                first, NOT_SENT).
        """
        body = encode_request(segment.sent)
        used: list[str] = []

        async def attempt() -> list[TrackResult]:
            if operation.abort.is_set():
                raise _Aborted
            token = await self._auth.get()
            used.append(token)
            request = build_request(self._base_url, self._namespace, operation.action, body, token)
            segment.attempted = True
            status, headers, payload = await self._transport.send(request)
            return merge(segment.sent, read_response(status, headers, payload))

        def log_retry(error: BatchError, delay: float, attempt_number: int) -> None:
            logger.info(
                "groove_async: batch #%d (%d IDs): %s; retry %d/%d in %.2fs",
                segment.seq,
                len(segment.sent),
                error,
                attempt_number + 1,
                self._retry.attempts,
                delay,
            )

        refreshed = False
        while True:
            try:
                results = await retry_batch(
                    attempt, self._retry, sleep=operation.sleep, before_sleep=log_retry
                )
            except UnauthorizedResponse as exc:
                if operation.abort.is_set():
                    segment.finish_all(Outcome.NOT_SENT, _ABORTED)
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
                outcome = Outcome.FAILED if segment.attempted else Outcome.NOT_SENT
                segment.finish_all(outcome, _ABORTED)
            except GaveUp as exc:
                info = error_info_for(exc.last)
                segment.finish_all(
                    Outcome.FAILED,
                    ErrorInfo(info.code, info.description, _join(info.message, exc.reason)),
                )
            except BatchError as exc:  # permanent: the service refused the whole batch
                segment.finish_all(Outcome.REJECTED, error_info_for(exc))
            else:
                segment.finish(results)
            return


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
