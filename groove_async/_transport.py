"""The transport seam: how a request reaches a server, as a small protocol.

The client builds every request as plain data (:class:`~groove_async.Request`) and reads plain
data back (:class:`~groove_async.Response`); what carries it is a :class:`Transport`. The default
is :class:`~groove_async._aiohttp.AiohttpTransport`; the emulator's
``FakeGrooveServer(...).transport()`` is another (in memory, no socket); a caller may hand
``GrooveClient(transport=...)`` any object that meets the protocol (a recording proxy, a
different HTTP library, a replay of captured traffic).

Nothing here imports an HTTP library.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._protocol import Request, Response

__all__ = ["Transport"]


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
