"""The transport seam: how a request reaches a server, as a small protocol.

The client builds every request as plain data (:class:`~groove_async.Request`) and reads plain
data back (:class:`~groove_async.Response`); what carries it is a :class:`Transport`. The default
is :class:`~groove_async._aiohttp.AiohttpTransport`; the emulator's
``FakeGrooveServer(...).transport()`` is another (in memory, no socket); a caller may hand
``GrooveClient(transport=...)`` any object that meets the protocol (a recording proxy, a
different HTTP library, a replay of captured traffic).

The seam holds its own types (:class:`Request`, :class:`Response`, :class:`TransportError`), so
that a transport (the emulator's in-memory one among them) imports this module and nothing else
of the client. Nothing here imports an HTTP library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from ._errors import BatchError

__all__ = ["Request", "Response", "Transport", "TransportError"]


@attrs.frozen(slots=True)
class Request:
    """An HTTP request as plain data. ``repr`` leaves the headers out: they hold the token."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


@attrs.frozen(slots=True)
class Response:
    """An HTTP response as plain data: what a :class:`~groove_async.Transport` returns.

    Attributes:
        status: the HTTP status code.
        headers: the response headers (names compared case-insensitively by the reader).
        body: the whole body, decompressed.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


class TransportError(BatchError):
    """The request did not complete: connection error, timeout, or a body over the size cap.

    ``code`` is ``CONNECTION_ERROR``, ``TIMEOUT`` or ``RESPONSE_TOO_LARGE``.
    """

    def __init__(self, message: str, *, code: str = "CONNECTION_ERROR") -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_transport_error, (str(self), self.code))


def _rebuild_transport_error(message: str, code: str) -> TransportError:
    return TransportError(message, code=code)


@runtime_checkable
class Transport(Protocol):
    """Carries one request to the server and brings its whole response back.

    The contract:

    * :meth:`send` sends ``request`` exactly as given (method, URL, headers, body), does not
      follow redirects, reads the whole body and returns the status, the response headers (a
      mapping; names are looked up case-insensitively by the client) and the body bytes, already
      decompressed. Any status is a response, not an error.
    * A request that did not complete (no connection, a dropped one, a body cut short, a body
      over the transport's size limit) raises :class:`~groove_async.TransportError`; anything
      else it raises is treated as a dropped connection. The client bounds every call with its
      own ``timeout`` and cancels it then: a transport must let itself be cancelled.
    * :meth:`aclose` releases what the transport holds; the client calls it once, when it
      closes. A transport must not send the token anywhere but the request it was given.
    """

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the whole response."""
        ...

    async def aclose(self) -> None:
        """Release the transport's resources (connections, sessions)."""
        ...
