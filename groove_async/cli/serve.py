"""``groove-async serve``: run the emulator until SIGINT or SIGTERM.

The emulator is :class:`groove_async.testing.FakeGrooveServer`; its URL and tokens are printed
first, for scripts to read (:data:`~groove_async.cli.parser.URL_LINE_PREFIX`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .parser import DEFAULT_TOKEN, URL_LINE_PREFIX


def _serve(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve_until_stopped(args))
    except KeyboardInterrupt:  # where signal handlers cannot be installed (Windows)
        return 0


async def _serve_until_stopped(args: argparse.Namespace) -> int:
    from groove_async.testing import FakeGrooveServer, FaultPlan

    tokens: list[str] = args.tokens or [DEFAULT_TOKEN]
    try:
        server = FakeGrooveServer(
            tokens,
            faults=FaultPlan(latency=args.latency),
            seed=args.seed,
            hyphen_codes=args.hyphen_codes,
            capacity=args.capacity,
            host=args.host,
            port=args.port,
            log_limit=0,  # nobody can read the log of a server run from the command line
        )
    except ValueError as exc:
        print(f"groove-async serve: error: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
    except OSError as exc:
        print(f"groove-async serve: error: cannot listen: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"{URL_LINE_PREFIX}{server.url}", flush=True)
        for token in tokens:
            print(f"Token: {token}", flush=True)
        await stop.wait()
    finally:
        await server.stop()
    return 0
