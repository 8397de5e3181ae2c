"""Single requests through the client's flow control: the library read back and playlist edits.

The TrackAction batches have their own room (:mod:`groove_async._sender`); the requests here
share with them the token (one refresh for all), the throttle gate, the concurrency limit, the
retry policy and budget, and the transport with its timeout (:meth:`Caller.exchange`, which the
batch sender uses too).

Two kinds of request:

* :meth:`Caller.get`: a read. Idempotent, so retried like a batch (every transient failure,
  through the client's :class:`~groove_async._retry.Retrier`).
* :meth:`Caller.post`: a playlist edit, which is **not** idempotent. It is sent again only when
  the answer proves nothing was applied (a 401 cured by a refresh, 408, 425, 429); any answer
  that leaves the outcome unknown raises :class:`OutcomeUnknown`, for the caller to find out
  what the server holds before doing anything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlencode

from ._auth import TokenSource
from ._errors import AuthenticationError, BatchError, HTTPStatusError, TransportError
from ._flow import ConcurrencyLimit, Gate
from ._protocol import (
    Request,
    Response,
    UnauthorizedResponse,
    check_status,
    is_throttle,
    outcome_unknown,
)
from ._retry import Attempts, GaveUp, Retrier, RetryPolicy
from ._transport import Transport

__all__ = ["Caller", "OutcomeUnknown"]

_JSON: Final = "application/json"
#: Answers that prove a POST was not applied, so that sending it again is safe.
_NOT_APPLIED: Final = frozenset({408, 425, 429})


class OutcomeUnknown(Exception):
    """A POST failed in a way that leaves unknown whether the server applied it."""

    def __init__(self, cause: BatchError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Tokens(Attempts):
    """The tokens a request was sent with (the latest is the one a 401 refused)."""

    __slots__ = ("tokens",)

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []


class Caller:
    """Sends single requests for one client (see the module docstring)."""

    def __init__(
        self,
        *,
        auth: TokenSource,
        transport: Transport,
        base_url: str,
        timeout: float,
        policy: RetryPolicy,
        retrier: Retrier,
        limit: ConcurrencyLimit,
        gate: Gate,
    ) -> None:
        self.auth = auth
        self.transport = transport
        self._base_url = base_url
        self._timeout = timeout
        self._policy = policy
        self._retrier = retrier
        self._limit = limit
        self._gate = gate

    async def exchange(self, request: Request) -> Response:
        """One request through the transport, bounded by ``timeout``.

        Raises:
            TransportError: the request did not complete in time, or the transport failed
                (anything but a cancellation counts as a dropped connection).
        """
        try:
            async with asyncio.timeout(self._timeout):
                return await self.transport.send(request)
        except TransportError:
            raise
        except TimeoutError:
            raise TransportError("the request timed out", code="TIMEOUT") from None
        except Exception as exc:  # a caller's transport: whatever it raises is a dropped line
            raise TransportError(f"the transport failed: {type(exc).__name__}") from exc

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> bytes:
        """GET ``path``: the body of its 200, retried like a batch.

        Raises:
            AuthenticationError: the token was refused and a refresh could not cure it.
            BatchError: the read failed for good (a refusal, or the retries were spent).
        """
        url = self._base_url + path + (f"?{urlencode(query)}" if query else "")
        tokens = _Tokens()

        async def attempt(state: _Tokens) -> bytes:
            return await self._send("GET", url, None, state)

        for refreshed in (False, True):
            try:
                return await self._retrier.run(attempt, tokens)
            except UnauthorizedResponse as exc:
                await self._refresh_or_fail(exc, tokens, refreshed=refreshed)
            except GaveUp as exc:
                raise exc.last from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- edits ------------------------------------------------------------------------------------

    async def post(self, path: str, body: bytes) -> bytes:
        """POST a playlist edit: the body of its 200.

        Sent again only when the answer proves nothing was applied (see the module docstring):
        once more after a 401 cured by a refresh, and up to ``RetryPolicy.attempts - 1`` times
        after a 408, 425 or 429.

        Raises:
            OutcomeUnknown: a 5xx, a timeout, a dropped connection or an unreadable answer.
            HTTPStatusError: a refusal (including 409 ``COLLECTION_CONCURRENT_UPDATE``).
            AuthenticationError: the token was refused and a refresh could not cure it.
        """
        url = self._base_url + path
        tokens = _Tokens()
        refreshed = False
        waits = 0  # resends after an answer that proves nothing was applied
        while True:
            try:
                return await self._send("POST", url, body, tokens)
            except UnauthorizedResponse as exc:  # refused, so not applied: one refresh, again
                await self._refresh_or_fail(exc, tokens, refreshed=refreshed)
                refreshed = True
            except HTTPStatusError as exc:
                if exc.status in _NOT_APPLIED and waits < self._policy.attempts - 1:
                    waits += 1
                    await self._wait(exc, waits)
                    continue
                if outcome_unknown(exc):
                    raise OutcomeUnknown(exc) from None
                raise
            except BatchError as exc:
                if outcome_unknown(exc):
                    raise OutcomeUnknown(exc) from None
                raise

    async def wait(self, seconds: float) -> None:
        """Wait ``seconds`` between two rounds of a front end (a policy that does not wait
        only yields to the other tasks)."""
        await asyncio.sleep(seconds if self._policy.wait else 0)

    # -- one exchange -------------------------------------------------------------------------

    async def _send(self, method: str, url: str, body: bytes | None, tokens: _Tokens) -> bytes:
        await self._gate.wait()
        token = await self.auth.get()
        tokens.tokens.append(token)
        headers = {"Authorization": f"Bearer {token}", "Accept": _JSON}
        if body is not None:
            headers["Content-Type"] = _JSON
        request = Request(method, url, headers, body or b"")
        await self._limit.acquire()
        try:
            response = await self.exchange(request)
        except TransportError as exc:
            raise self.auth.redact_error(exc) from None
        finally:
            self._limit.release()
        payload = self.auth.redact_bytes(response.body)
        try:
            check_status(response.status, response.headers, payload, now=datetime.now(UTC))
        except HTTPStatusError as exc:
            if is_throttle(exc):
                self._throttle(exc)
            raise self.auth.redact_error(exc) from None
        except UnauthorizedResponse as exc:
            code = None if exc.code is None else self.auth.redact(exc.code)
            raise UnauthorizedResponse(code) from None
        return payload

    async def _refresh_or_fail(
        self, exc: UnauthorizedResponse, tokens: _Tokens, *, refreshed: bool
    ) -> None:
        if refreshed or not exc.refreshable or not self.auth.refreshable:
            detail = f" ({exc.code})" if exc.code else ""
            raise AuthenticationError(
                f"the service refused the token: HTTP 401{detail}", status=401, code=exc.code
            )
        await self.auth.refresh(tokens.tokens[-1])

    def _throttle(self, exc: HTTPStatusError) -> None:
        delay = exc.retry_after if exc.retry_after is not None else self._policy.wait_initial
        self._gate.pause(min(delay, self._policy.max_retry_after))
        self._limit.decrease()

    async def _wait(self, exc: HTTPStatusError, attempt: int) -> None:
        if self._policy.wait:
            await asyncio.sleep(self._policy.backoff(attempt, exc.retry_after))
