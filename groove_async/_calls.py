"""Single requests, the front end of the library read back and of playlist edits.

Both go out through the client's one way out (:class:`~groove_async._send.Sender`): the same
token (one refresh for all), throttle gate, concurrency limit, retry engine and budget, and
transport with its timeout as the TrackAction batches.

* :meth:`Caller.get`: a read. Idempotent, so sent again after any transient failure.
* :meth:`Caller.post`: a playlist edit, which is **not** idempotent: the send path sends it
  again only when the answer proves nothing was applied (a 401 cured by a refresh, 408, 425,
  429: :func:`~groove_async._protocol.may_resend`); any answer that leaves the outcome unknown
  raises :class:`OutcomeUnknown`, for the caller to find out what the server holds before
  doing anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from ._auth import TokenSource
from ._errors import BatchError
from ._protocol import outcome_unknown
from ._retry import GaveUp
from ._send import Call, Sender
from ._transport import Response

__all__ = ["Caller", "OutcomeUnknown"]


class OutcomeUnknown(Exception):
    """A POST failed in a way that leaves unknown whether the server applied it."""

    def __init__(self, cause: BatchError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Single(Call[bytes]):
    """A single request whose 200 is its body, read by the front end that asked."""

    __slots__ = ()

    def read(self, response: Response, body: bytes) -> bytes:
        return body


class Caller:
    """Sends single requests for one client (see the module docstring)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    @property
    def auth(self) -> TokenSource:
        """The client's token source: the redactor of what a front end decodes."""
        return self._sender.auth

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> bytes:
        """GET ``path``: the body of its 200, retried like a batch.

        Raises:
            AuthenticationError: the token was refused and a refresh could not cure it.
            BatchError: the read failed for good (a refusal, or the retries were spent).
        """
        target = path + (f"?{urlencode(query)}" if query else "")
        try:
            return await self._sender.send(_Single("GET", target))
        except GaveUp as exc:
            raise exc.last from None

    async def post(self, path: str, body: bytes) -> bytes:
        """POST a playlist edit: the body of its 200.

        Raises:
            OutcomeUnknown: a 5xx, a timeout, a dropped connection or an unreadable answer.
            HTTPStatusError: a refusal (including 409 ``COLLECTION_CONCURRENT_UPDATE``).
            AuthenticationError: the token was refused and a refresh could not cure it.
        """
        try:
            return await self._sender.send(_Single("POST", path, body, blind=False))
        except GaveUp as exc:  # answers that proved nothing applied, until the policy was spent
            raise exc.last from None
        except BatchError as exc:
            if outcome_unknown(exc):
                raise OutcomeUnknown(exc) from None
            raise

    async def wait(self, seconds: float) -> None:
        """Wait ``seconds`` between two rounds of a front end (a policy that does not wait
        only yields to the other tasks)."""
        await Sender.sleep(seconds if self._sender.policy.wait else 0)
