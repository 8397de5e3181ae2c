"""The default transport: the only module of the client that imports aiohttp.

Bytes in, bytes out. It owns (or borrows) the :class:`aiohttp.ClientSession`, applies the
per-request timeout and a cap on response size, always releases the response before returning,
and turns every aiohttp failure into :class:`~groove_async.TransportError`. It meets the
:class:`~groove_async.Transport` protocol, like any transport a caller hands the client.
"""

from __future__ import annotations

import logging
from typing import Final

import aiohttp

from ._auth import redact
from ._protocol import token_of
from ._transport import Request, Response, TransportError

__all__ = ["DEFAULT_MAX_BODY", "AiohttpTransport"]

logger: Final = logging.getLogger("groove_async")

#: A full 100-item response is about 12 KB; 8 MiB leaves room for anything legitimate while a
#: gzip bomb or an endless body is cut off early.
DEFAULT_MAX_BODY: Final = 8 * 1024 * 1024


class AiohttpTransport:
    """Sends :class:`Request` s over aiohttp and returns :class:`Response` s.

    Args:
        session: a caller's session, used as is and never closed; ``None`` to own one.
        timeout: seconds for a whole request, body included (slow bodies count); ``None``
            sets no timer of aiohttp's own, for a caller that bounds every call itself (the
            client does: one timer per request, not two).
        connections: the size of the connection pool when the session is ours.
        max_body: the largest response body read, in bytes.
    """

    __slots__ = ("_connections", "_max_body", "_owned", "_session", "_timeout")

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float | None = 30.0,
        connections: int = 100,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._session = session
        self._owned = session is None
        # No timer at all when None: aiohttp's default would still time the connect.
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=None)
        self._connections = connections
        self._max_body = max_body

    @property
    def closed(self) -> bool:
        """Whether our own session has been closed (a borrowed one is never ours to close)."""
        return self._owned and self._session is not None and self._session.closed

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            # Created lazily, inside the running loop, as aiohttp requires. TLS verification
            # stays on (the default); nothing here turns it off.
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=self._timeout,
            )
        elif session.closed:
            raise RuntimeError("the HTTP session is closed")
        return session

    async def send(self, request: Request) -> Response:
        """Send one request and read the whole response.

        Raises:
            TransportError: the connection failed or dropped (``CONNECTION_ERROR``), the request
                timed out (``TIMEOUT``), or the body exceeded the cap (``RESPONSE_TOO_LARGE``).
        """
        session = self._get_session()
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                body = await self._read(response)
                return Response(response.status, response.headers, body)
        except TransportError:
            raise
        except TimeoutError as exc:  # asyncio.TimeoutError is the builtin one on 3.11+
            raise TransportError("the request timed out", code="TIMEOUT") from exc
        except aiohttp.ClientError as exc:
            text = _safe(str(exc), request)
            raise TransportError(f"{type(exc).__name__}: {text}") from exc
        except OSError as exc:
            text = _safe(str(exc.strerror or exc), request)
            raise TransportError(f"{type(exc).__name__}: {text}") from exc

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._max_body
        length = response.content_length
        if length is not None and length > limit:
            raise TransportError(
                f"the response declares {length} bytes, over the {limit}-byte limit",
                code="RESPONSE_TOO_LARGE",
            )
        if length is not None and "Content-Encoding" not in response.headers:
            return await response.read()
        # Unknown or compressed length: read in chunks so that a gzip bomb or an endless body
        # stops at the cap instead of filling memory.
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise TransportError(
                    f"the response body exceeds the {limit}-byte limit",
                    code="RESPONSE_TOO_LARGE",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session if it is ours; a borrowed session is left open."""
        if self._owned and self._session is not None and not self._session.closed:
            await self._session.close()


def _safe(text: str, request: Request) -> str:
    """An error message fit to leave the client: short, and without the request's token.

    aiohttp's own messages name the host and port, but a parse error quotes what the server
    sent, which may reflect the token's header. The token is cut out before the text
    is shortened, so that no part of it survives the cut.
    """
    text = redact(text, (token_of(request),))
    return text if len(text) <= 200 else text[:200] + "..."
