"""A minimal stand-in for the emulator, for diagnosis only: ``run.py --server fast``.

It answers ``POST .../collection/add`` the way a healthy service does (one result per ID, in
order, ``InputId`` echoed as sent, a fresh collection ID per new catalog ID, re-adds idempotent per
token) and nothing else: no faults, no XML, no catalog check, no capacity, no delete, no
profile. It is a bare :class:`asyncio.Protocol` with string-built JSON, cheaper per POST than
any emulator, so that the client (not the server) is what a run measures. The reference server
(``benchmarks/_bench_server.py``, the emulator's service) stays the reference: use this only to
see what the client ratios are once the server is out of the way.

Command line compatible with the part of ``groove-async serve`` that ``run.py`` uses::

    python benchmarks/_fast_server.py serve --port 0 --latency 0.02 --token T [--token T2 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import signal
from typing import Final

_SAFE_ID: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # printable ASCII but '"' and '\'
_HEADER_END: Final = b"\r\n\r\n"
_RESPONSE_HEAD: Final = (
    b"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
)
_UNAUTHORIZED: Final = (
    b'{"Error":{"ErrorCode":"INVALID_AUTHORIZATION_HEADER",'
    b'"Description":"Missing or invalid authorization header"}}'
)
_BAD_REQUEST: Final = (
    b'{"Error":{"ErrorCode":"INVALID_INPUT_PARAMETER",'
    b'"Description":"An input parameter is invalid"}}'
)


class _State:
    def __init__(self, tokens: list[str], latency: float) -> None:
        self.users: dict[bytes, dict[str, str]] = {f"Bearer {t}".encode(): {} for t in tokens}
        self.latency = latency
        self.serial = itertools.count(1)


def _add(state: _State, user: dict[str, str], body: bytes) -> bytes | None:
    try:
        ids = json.loads(body)["TrackIds"]
    except (ValueError, KeyError, TypeError):
        return None
    if type(ids) is not list or not 0 < len(ids) <= 100:
        return None
    serial = next(state.serial)
    parts = []
    for k, input_id in enumerate(ids):
        if type(input_id) is not str:
            return None
        echo = input_id  # the benchmarks send upper-case GUIDs: nothing to normalise
        cid = user.get(echo)
        if cid is None:
            cid = user[echo] = f"music.AQQf{serial:020X}{k:012X}AQ"
        if _SAFE_ID.fullmatch(echo):
            parts.append(f'{{"InputId":"{echo}","Id":"{cid}"}}')
        else:
            parts.append(json.dumps({"InputId": echo, "Id": cid}, separators=(",", ":")))
    return ('{"TrackActionResults":[' + ",".join(parts) + "]}").encode()


class _Protocol(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(_HEADER_END)
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            auth = b""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"authorization":
                    auth = value.strip()
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(auth, body)

    def answer(self, auth: bytes, body: bytes) -> None:
        user = self.state.users.get(auth)
        if user is None:
            status, reason, out = 401, b"Unauthorized", _UNAUTHORIZED
        else:
            encoded = _add(self.state, user, body)
            if encoded is None:
                status, reason, out = 400, b"Bad Request", _BAD_REQUEST
            else:
                status, reason, out = 200, b"OK", encoded
        response = _RESPONSE_HEAD % (status, reason, len(out)) + out
        if self.state.latency > 0:
            self.loop.call_later(self.state.latency, self.write, response)
        else:
            self.write(response)

    def write(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def _serve(args: argparse.Namespace) -> int:
    state = _State(args.tokens or ["demo-token"], args.latency)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(state), args.host, args.port)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Groove emulator listening on http://{host}:{port}", flush=True)
    for token in args.tokens or ["demo-token"]:
        print(f"Token: {token}", flush=True)
    async with server:
        await stop.wait()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--latency", type=float, default=0.0)
    serve.add_argument("--capacity", type=int, default=0, help="ignored")
    serve.add_argument("--token", action="append", dest="tokens")
    return asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
