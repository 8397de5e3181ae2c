"""``groove-async serve``: run the emulator until SIGINT or SIGTERM.

The emulator is :class:`groove_async.testing.FakeGrooveServer`; its URL and tokens are printed
first, for scripts to read (:data:`~groove_async.cli.parser.URL_LINE_PREFIX`). A bad argument,
or an address that cannot be listened on, is one ``groove-async serve: error: ...`` line and
exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

from .arguments import FAULT_KINDS, _seconds_problem
from .parser import DEFAULT_TOKEN, EXIT_OK, URL_LINE_PREFIX, _report_usage_error, _UsageError

if TYPE_CHECKING:
    from groove_async.testing import FakeGrooveServer

_PROG = "groove-async serve"


def _serve(args: argparse.Namespace) -> int:
    try:
        server = _server(args)
    except _UsageError as exc:
        return _report_usage_error(_PROG, exc)
    try:
        stopped = _serve_until_stopped(server, args.tokens or [DEFAULT_TOKEN], args.host, args.port)
        return asyncio.run(stopped)
    except KeyboardInterrupt:  # where signal handlers cannot be installed (Windows)
        return EXIT_OK
    except _UsageError as exc:
        return _report_usage_error(_PROG, exc)


def _server(args: argparse.Namespace) -> FakeGrooveServer:
    """The emulator the arguments describe (not started).

    Raises:
        _UsageError: a ``--latency`` out of range, ``--fault`` shares adding up to more than 1,
            or a ``--token`` the emulator refuses; in the command line's words.
    """
    from groove_async.testing import FakeGrooveServer, FaultPlan

    problem = _seconds_problem(args.latency)
    if problem is not None:
        raise _UsageError(f"argument --latency: {problem}")
    shares = {FAULT_KINDS[kind]: p for kind, p in args.faults}  # the last of a kind counts
    total = sum(shares.values())
    if total > 1.0 + 1e-9:
        raise _UsageError(f"argument --fault: the shares add up to {total:g}, more than 1")
    faults = FaultPlan(
        latency=args.latency, retry_after=args.retry_after, late_delay=args.late_delay, **shares
    )
    try:
        return FakeGrooveServer(
            args.tokens or [DEFAULT_TOKEN],
            faults=faults,
            seed=args.seed,
            hyphen_codes=args.hyphen_codes,
            capacity=args.capacity,
            host=args.host,
            port=args.port,
            log_limit=0,  # nobody can read the log of a server run from the command line
        )
    except ValueError as exc:  # the other arguments are checked by the parser
        raise _UsageError(f"argument --token: {exc}") from None


async def _serve_until_stopped(
    server: FakeGrooveServer, tokens: list[str], host: str, port: int
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await server.start()
        except OSError as exc:  # in use, not an address of this machine, an unknown name
            raise _UsageError(f"cannot listen on {host or '*'} port {port}: {exc}") from None
        print(f"{URL_LINE_PREFIX}{server.url}", flush=True)
        for token in tokens:
            print(f"Token: {token}", flush=True)
        await stop.wait()
    finally:
        await server.stop()
    return EXIT_OK
