"""Hostile test servers: a small aiohttp app and a raw TCP server that writes exact bytes.

Plus builders of TrackActionResponse bodies (:func:`item`, :func:`results`) and a stateful
delete endpoint (:class:`Collection`).

Both call a ``respond(call)`` function for every request they receive and record the calls, so a
test can say "the server saw N requests" and "the request carried this token". ``respond`` may be
a plain function or a coroutine function.

* :class:`AppServer` (``aiohttp.web``): ``respond`` returns a ``web.StreamResponse``
  (see :func:`reply`). For status codes, JSON bodies and headers.
* :class:`RawServer` (``asyncio.start_server``): ``respond`` returns the exact bytes to write, or
  ``None`` to close the connection without answering. One request per connection. For
  byte-level nastiness: garbage status lines, malformed headers, truncated bodies, drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

__all__ = [
    "INVALID_ID",
    "SOME_FAILED",
    "AppServer",
    "Call",
    "Collection",
    "RawServer",
    "http_response",
    "hyphenated",
    "item",
    "reply",
    "results",
]


@dataclass(frozen=True)
class Call:
    """One request a test server received."""

    n: int  # 0-based order of arrival
    method: str
    path: str
    auth: str  # the Authorization header's value ("" when absent)
    ids: list[str] = field(default_factory=list)  # TrackIds of a JSON body, else []
    seen: tuple[str, ...] = ()  # the Authorization values of every call so far, this one's too


SOME_FAILED = {
    "ErrorCode": "COLLECTION_SOME_OPERATIONS_FAILED",
    "Description": "Some of the operations failed",
}
INVALID_ID = {
    "ErrorCode": "COLLECTION_INVALID_ID",
    "Description": "Invalid collection id for this operation",
}


def item(input_id: str, coll: str | None = None, error: dict[str, str] | None = None) -> Any:
    """A TrackActionResult (spec section 4): absent members omitted."""
    out: dict[str, Any] = {"InputId": input_id}
    if coll is not None:
        out["Id"] = coll
    if error is not None:
        out["Error"] = error
    return out


def results(*items: Any, error: dict[str, str] | None = None) -> dict[str, Any]:
    """A TrackActionResponse holding ``items`` and, if given, a top-level ``Error``."""
    body: dict[str, Any] = {"TrackActionResults": list(items)}
    if error is not None:
        body["Error"] = error
    return body


def hyphenated(error: dict[str, str]) -> dict[str, str]:
    """An Error in the documentation's spelling (spec section 5), which clients must accept."""
    return {**error, "ErrorCode": error["ErrorCode"].replace("_", "-")}


class Collection:
    """One user's collection as ``collection/delete`` sees it (spec section 3.2): an ID in it
    is deleted (a bare ``{"InputId"}``), any other gets ``COLLECTION_INVALID_ID`` and the
    response the top-level ``COLLECTION_SOME_OPERATIONS_FAILED``. Answers as raw bytes."""

    def __init__(self, ids: list[str], *, hyphen: bool = False) -> None:
        self.ids = set(ids)
        self.spell = hyphenated if hyphen else dict

    def delete(self, ids: list[str]) -> bytes:
        items = []
        for track_id in ids:
            if track_id in self.ids:
                self.ids.discard(track_id)
                items.append(item(track_id))
            else:
                items.append(item(track_id, error=self.spell(INVALID_ID)))
        failed = self.spell(SOME_FAILED) if any("Error" in i for i in items) else None
        return http_response(200, results(*items, error=failed))


def _track_ids(body: bytes) -> list[str]:
    try:
        ids = json.loads(body)["TrackIds"]
    except (ValueError, KeyError, TypeError):
        return []
    return ids if isinstance(ids, list) else []


async def _call(function: Callable[[Call], Any], call: Call) -> Any:
    answer = function(call)
    if inspect.isawaitable(answer):
        answer = await answer
    return answer


def _encode(body: bytes | str | dict[str, Any] | None) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, dict):
        return json.dumps(body).encode(), "application/json; charset=utf-8"
    if isinstance(body, str):
        return body.encode(), "text/html; charset=utf-8"
    return body, None


def reply(
    status: int = 200,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An aiohttp response: a dict is sent as JSON, a str as HTML, bytes as they are."""
    data, content_type = _encode(body)
    all_headers = dict(headers or {})
    if content_type and "Content-Type" not in all_headers:
        all_headers["Content-Type"] = content_type
    return web.Response(status=status, body=data, headers=all_headers)


def http_response(
    status: int,
    body: bytes | str | dict[str, Any] | None = None,
    *,
    reason: str = "Whatever",
    headers: tuple[str, ...] = (),
) -> bytes:
    """A well-formed HTTP/1.1 response as bytes, with ``Connection: close``."""
    data, content_type = _encode(body)
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(data)}", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


class AppServer:
    """An aiohttp app on 127.0.0.1 (a free port) answering every path with ``respond``."""

    def __init__(
        self, respond: Callable[[Call], web.StreamResponse | Awaitable[web.StreamResponse]]
    ) -> None:
        self._respond = respond
        self.calls: list[Call] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        auth = request.headers.get("Authorization", "")
        seen = (*(c.auth for c in self.calls), auth)
        call = Call(len(self.calls), request.method, request.path, auth, _track_ids(body), seen)
        self.calls.append(call)
        response: web.StreamResponse = await _call(self._respond, call)
        return response


class RawServer:
    """A TCP server on 127.0.0.1 (a free port) writing exactly what ``respond`` returns.

    It reads one request (head and ``Content-Length`` body), writes the answer, and closes the
    connection; ``None`` closes it without writing anything. A ``respond`` that never returns
    (a hang) is cancelled when the server stops.
    """

    def __init__(self, respond: Callable[[Call], bytes | Awaitable[bytes | None] | None]) -> None:
        self._respond = respond
        self.calls: list[Call] = []
        self.connections = 0  # TCP connections accepted, whether a request followed or not
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._stopping = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                name, colon, value = line.partition(":")
                if colon:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            auth = headers.get("authorization", "")
            seen = (*(c.auth for c in self.calls), auth)
            call = Call(len(self.calls), method, path, auth, _track_ids(body), seen)
            self.calls.append(call)
            answer = await _call(self._respond, call)
            if answer is not None:
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Our own stop (a hanging answer): end quietly, or asyncio logs the cancelled task.
            if not self._stopping:
                raise
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
