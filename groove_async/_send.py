"""The one way out: every request the client makes leaves through :meth:`Sender.send`.

::

    front end: a Call (method, path, body, how to read its 200, whether it may be resent
               blindly, how it waits and when it stops)
      -> gate.wait -> token -> build_request (_protocol) -> [limit] -> Transport.send (timeout)
         -> scrub reflected tokens -> check_status (the status table) -> call.read(body)
      failure -> may it be sent again? (call.retryable: _protocol.may_resend) -> tenacity
                 (_retry.Retrier) waits and decides; a throttle closes the gate, lowers the limit
      401 -> one shared token refresh -> the whole loop once more

The sender knows no batches, playlists or pages: each front end (the batch sender, the single
requests of reads and playlist edits) hands it a :class:`Call` and maps what comes back itself.
It is also the only place of the client's request code that sleeps (:meth:`Sender.sleep`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Generic, TypeVar

from ._auth import TokenSource
from ._errors import AuthenticationError, BatchError
from ._flow import ConcurrencyLimit, Gate
from ._protocol import (
    UnauthorizedResponse,
    build_request,
    check_status,
    is_throttle,
    may_resend,
    outcome_unknown,
)
from ._retry import Attempts, Retrier, RetryPolicy
from ._transport import Request, Response, Transport, TransportError
from ._wire import WireFormat

__all__ = ["Aborted", "Call", "Sender"]

T = TypeVar("T")


class Aborted(Exception):
    """The call's stop was set before an attempt, or at a 401: nothing more was sent.

    ``refused``: the last attempt was refused (a 401), so it applied nothing.
    """

    def __init__(self, *, refused: bool = False) -> None:
        super().__init__("stopped")
        self.refused = refused


class Call(Attempts, Generic[T]):
    """One request on its way, and what its attempts share: built by a front end.

    Subclasses say how a 200 is read (:meth:`read`, run inside every attempt, so that an
    unreadable answer is retried like a dropped one) and may hook the waits and stops.

    Args:
        method, path: the request (the path is joined to the client's base URL).
        body: the encoded body (``b""`` for none).
        wire_format: the body's format, and the one asked for.
        blind: whether an attempt whose outcome is unknown may be sent again as it is (reads,
            collection adds and deletes); ``False`` raises its error for the front end to
            resolve (playlist edits).
        limited: whether each attempt takes a slot of the client's concurrency limit (``False``
            when the front end holds one already, as the batch pipeline does).

    Attributes:
        tokens: every token sent, the latest last (the one a 401 refused).
        sent: attempts that reached the transport.
        unknown: an attempt failed in a way that leaves unknown whether it was applied.
    """

    __slots__ = (
        "blind",
        "body",
        "limited",
        "method",
        "path",
        "sender",
        "sent",
        "tokens",
        "unknown",
        "wire_format",
    )

    def __init__(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        wire_format: WireFormat = "json",
        blind: bool = True,
        limited: bool = True,
    ) -> None:
        super().__init__()
        self.method = method
        self.path = path
        self.body = body
        self.wire_format: WireFormat = wire_format
        self.blind = blind
        self.limited = limited
        self.tokens: list[str] = []
        self.sent = 0
        self.unknown = False
        self.sender: Sender | None = None

    def read(self, response: Response, body: bytes) -> T:
        """What a 200 means (``body`` is scrubbed of tokens); a ``BatchError`` if unreadable."""
        raise NotImplementedError

    def sending(self) -> None:
        """An attempt is about to reach the transport."""
        self.sent += 1

    def stopped(self) -> bool:
        """Whether to send nothing more (checked before every attempt and at a 401)."""
        return False

    async def sleep(self, seconds: float) -> None:
        """How this call waits between attempts (a front end may wake it early)."""
        await Sender.sleep(seconds)

    def retryable(self, error: BatchError) -> bool:
        return may_resend(error, blind=self.blind)

    def before_wait(self, error: BatchError, delay: float, attempt: int) -> None:
        if self.sender is not None:
            self.sender.before_wait(self, error, delay)
        self.retrying(error, delay, attempt)

    def retrying(self, error: BatchError, delay: float, attempt: int) -> None:
        """Before a retry's wait (after the throttle reaction): for the front end's reports."""

    def throttled(self, delay: float, limit: int) -> None:
        """The client slowed down because of this call's throttled answer."""


class Sender:
    """The one way out for one client (see the module docstring).

    Args:
        auth: the token source (also the redactor of what comes back).
        transport: what carries the requests; closed by :meth:`aclose`.
        base_url: the service root.
        timeout: seconds for one exchange, body included.
        policy, retrier: the retry policy and the client's tenacity machinery (built once).
        limit, gate: the client's flow control (AIMD limit, throttle gate).
    """

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
        self.base_url = base_url
        self.policy = policy
        self.limit = limit
        self.gate = gate
        self._timeout = timeout
        self._retrier = retrier

    @staticmethod
    async def sleep(seconds: float) -> None:
        """The client's one sleep of its request code."""
        await asyncio.sleep(seconds)

    async def send(self, call: Call[T]) -> T:
        """Send ``call`` until it is answered, fails for good, or the policy is spent.

        Raises:
            GaveUp: a retryable failure outlasted the policy (its ``last`` error is redacted).
            BatchError: a failure that may not be retried (a refusal; for a call that must not
                be resent blindly, any failure whose outcome is unknown).
            AuthenticationError: a 401 a refresh could not cure, or a failed token provider.
            Aborted: the call stopped before an attempt, or at a 401.
        """
        call.sender = self
        refreshed = False
        while True:
            try:
                return await self._retrier.run(self._attempt, call, sleep=call.sleep)
            except UnauthorizedResponse as exc:
                await self._refresh(call, exc, refreshed=refreshed)
                refreshed = True

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()

    async def _refresh(self, call: Call[T], exc: UnauthorizedResponse, *, refreshed: bool) -> None:
        """The one 401 rule: refresh the token once (shared by every request in flight), then
        fail; a refused request applied nothing."""
        if call.stopped():
            raise Aborted(refused=True)
        refreshable = exc.refreshable and self.auth.refreshable
        if refreshed or not refreshable:
            raise _auth_error(exc.code, refreshed=refreshed, refreshable=refreshable)
        await self.auth.refresh(call.tokens[-1])

    async def _attempt(self, call: Call[T]) -> T:
        await self.gate.wait(call.sleep, call.stopped)
        if call.stopped():
            raise Aborted
        token = await self.auth.get()
        call.tokens.append(token)
        request = build_request(
            call.method, self.base_url + call.path, token, call.body, call.wire_format
        )
        call.sending()
        try:
            return self._answer(call, await self._carry(request, limited=call.limited))
        except BatchError as exc:
            failure: BatchError | UnauthorizedResponse = exc
            call.unknown = call.unknown or outcome_unknown(exc)
        except UnauthorizedResponse as exc:
            failure = exc
        # Raised outside the handlers: nothing of the original (whose text may hold a
        # reflected token) is chained to what leaves this method.
        if isinstance(failure, UnauthorizedResponse):
            code = None if failure.code is None else self.auth.redact(failure.code)
            raise UnauthorizedResponse(code)
        raise self.auth.redact_error(failure)

    def _answer(self, call: Call[T], response: Response) -> T:
        # A server reflecting the token's header must not get the token into results,
        # messages or logs: the body is scrubbed before anything is read from it.
        body = self.auth.redact_bytes(response.body)
        if response.status != 200:  # the clock is read only for a Retry-After to measure
            check_status(response.status, response.headers, body, now=datetime.now(UTC))
        return call.read(response, body)

    async def _carry(self, request: Request, *, limited: bool) -> Response:
        """One request through the transport (in a slot of the limit when ``limited``),
        bounded by the client's timeout.

        Raises:
            TransportError: the request did not complete in time, or the transport failed
                (anything but a cancellation counts as a dropped connection).
        """
        if limited:
            await self.limit.acquire()
        try:
            async with asyncio.timeout(self._timeout):
                return await self.transport.send(request)
        except TransportError:
            raise
        except TimeoutError:
            raise TransportError("the request timed out", code="TIMEOUT") from None
        except Exception as exc:  # a caller's transport: whatever it raises is a dropped line
            raise TransportError(f"the transport failed: {type(exc).__name__}") from exc
        finally:
            if limited:
                self.limit.release()

    def before_wait(self, call: Call[T], error: BatchError, delay: float) -> None:
        """The one throttle reaction: a throttled answer closes the gate for the wait the
        server asked (the retry's wait, never shorter than its ``Retry-After``) and lowers the
        concurrency limit."""
        if is_throttle(error):
            paused = self.gate.pause(delay)
            lowered = self.limit.decrease()
            if paused or lowered:
                call.throttled(delay, self.limit.limit)


def _auth_error(code: str | None, *, refreshed: bool, refreshable: bool) -> AuthenticationError:
    detail = f" ({code})" if code else ""
    if refreshed:
        reason = "the service refused the refreshed token as well"
    elif refreshable:
        reason = "the service refused the token"
    else:
        reason = "the service refused the token and it cannot be refreshed"
    return AuthenticationError(f"{reason}: HTTP 401{detail}", status=401, code=code)
