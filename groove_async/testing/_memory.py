"""The in-memory transport: ``GrooveClient`` talks to the emulator with no socket at all.

:class:`MemoryTransport` meets the client's :class:`~groove_async.Transport` protocol and runs
each request through the emulator's service (:mod:`._service`), the one the HTTP server runs
too. Nothing here imports an HTTP library.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from groove_async._transport import Request, Response, TransportError

from ._http import Drop, Exchange, HttpRequest, Reply

if TYPE_CHECKING:
    from ._service import GrooveService

__all__ = ["MemoryTransport", "ServerSide"]


class ServerSide:
    """The server's side of the in-memory requests that wait out a latency.

    An HTTP server does not notice a client that gives up: the request is still processed
    when its latency is over, and the client cannot tell whether it was (spec section 9.1: the
    outcome of a timed-out request is unknown). Requests carried in memory behave the same: each
    waits and is answered in a task of its own, which cancelling the client's call does not
    reach. :meth:`close` (``FakeGrooveServer.stop``) gives them a short while, then cuts them.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Reply | Drop]] = set()

    async def answer(self, exchange: Exchange) -> Reply | Drop:
        """Wait out the exchange's delay, then answer it; the wait survives our cancellation.

        Raises:
            TransportError: the server was stopped before it answered.
        """
        task = asyncio.get_running_loop().create_task(_answer_later(exchange))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                # Cut by stop(), not by our caller: to the client, the connection dropped.
                raise TransportError(
                    "the server stopped before it answered", code="CONNECTION_ERROR"
                ) from None
            raise

    async def close(self, grace: float) -> None:
        """Let the requests in progress finish for ``grace`` seconds, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def _answer_later(exchange: Exchange) -> Reply | Drop:
    await asyncio.sleep(exchange.delay)
    return exchange.respond()


class MemoryTransport:
    """A :class:`~groove_async.Transport` onto a :class:`FakeGrooveServer`, with no socket.

    Get one from :meth:`FakeGrooveServer.transport`; the server need not be started::

        server = FakeGrooveServer(tokens=["t1"], faults=FaultPlan(p_500=0.1, seed=3))
        async with GrooveClient("t1", base_url=server.url, transport=server.transport()) as c:
            result = await c.add_tracks(ids)
        assert len(server.collection("t1")) == ...

    Each request goes through the same service as the server's HTTP requests: the same
    collections, fault plan, scripted responses and request log, and the same answers (status,
    ``Content-Type``, ``Retry-After``, ``Allow``, body) plus ``Content-Length``. Only the URL's
    path and query are read: scheme, host and port are ignored (``FakeGrooveServer.url`` is
    the natural ``base_url``). Request bodies are taken as they are (no ``Content-Encoding``
    is decoded); one over 1 MiB gets a 413, as over HTTP. A ``HEAD`` answer has no body.

    * Latency (a fault plan's, a scripted response's) is an ``asyncio.sleep``. Cancelling
      :meth:`send` (the client's timeout) returns at once; the server's side of the request
      goes on and is processed when its latency is over, as over HTTP.
    * A dropped connection (``p_drop``, ``ScriptedResponse(drop=True)``) raises
      :class:`~groove_async.TransportError` with code ``CONNECTION_ERROR``; so does a request
      still waiting when the server is stopped, and any request after :meth:`aclose`.
    * A truncated body, a non-JSON body or an HTML page is returned as it would be sent.
    * An exception from the service itself (a ``catalog`` callable that fails) propagates from
      :meth:`send`, where the HTTP server would answer 500.
    """

    def __init__(self, service: GrooveService, server_side: ServerSide) -> None:
        self._service = service
        self._server_side = server_side
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def send(self, request: Request) -> Response:
        """Carry ``request`` to the server and return its whole answer.

        Raises:
            TransportError: the server dropped the connection, was stopped before answering,
                or this transport is closed.
        """
        if self._closed:
            raise TransportError("the transport is closed", code="CONNECTION_ERROR")
        await asyncio.sleep(0)  # the request leaves: other tasks run, as they would on a socket
        exchange = self._service.receive(_http_request(request))
        if exchange.delay > 0.0:
            answer = await self._server_side.answer(exchange)
        else:
            answer = exchange.respond()
        if isinstance(answer, Drop):
            raise TransportError(
                "the server closed the connection without answering", code="CONNECTION_ERROR"
            )
        headers = {**answer.headers, "Content-Length": str(len(answer.body))}
        body = b"" if request.method == "HEAD" else answer.body
        return Response(status=answer.status, headers=headers, body=body)

    async def aclose(self) -> None:
        """Refuse further requests; requests in progress are not affected."""
        self._closed = True

    def __repr__(self) -> str:
        return f"<MemoryTransport{' closed' if self._closed else ''}>"


def _http_request(request: Request) -> HttpRequest:
    """The request as the service reads it: the URL's path and query only."""
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return HttpRequest(request.method, target, tuple(request.headers.items()), request.body)
