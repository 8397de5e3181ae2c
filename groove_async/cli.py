"""The ``groove-async`` command line.

::

    groove-async serve [--host 127.0.0.1] [--port 8080] [--token TOKEN ...] [--seed N]
                       [--latency S] [--capacity N] [--hyphen-codes]

Each subcommand is a ``_add_<name>_parser`` function that declares its arguments and sets
``handler``, a function from the parsed arguments to an exit status; :func:`main` only parses and
dispatches, so new subcommands slot in without touching it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]

_Handler = Callable[[argparse.Namespace], int]

DEFAULT_PORT = 8080
DEFAULT_TOKEN = "demo-token"  # noqa: S105 -- the emulator's documented demo token, not a secret
URL_LINE_PREFIX = "Groove emulator listening on "
"""The line ``serve`` prints first, followed by the base URL: scripts may parse it."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 2 for a usage error (argparse exits with it).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: _Handler = args.handler
    return handler(args)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groove-async",
        description="Tools for the Groove collection API client.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve_parser(subparsers)
    return parser


def _add_serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the Groove API emulator until interrupted",
        description=(
            "Run the Groove collection API emulator (groove_async.testing.FakeGrooveServer) "
            "until SIGINT or SIGTERM. The first line printed is "
            f"'{URL_LINE_PREFIX}<url>', then one 'Token: <token>' line per token."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help=f"a valid bearer token, one user each; repeatable (default: {DEFAULT_TOKEN})",
    )
    serve.add_argument("--seed", type=int, default=None, help="seed for minted IDs and faults")
    serve.add_argument(
        "--latency", type=float, default=0.0, help="seconds to wait before each answer"
    )
    serve.add_argument(
        "--capacity", type=int, default=50_000, help="tracks per collection (default: %(default)s)"
    )
    serve.add_argument(
        "--hyphen-codes",
        action="store_true",
        help="spell error codes with hyphens, as the documentation prints them",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve_until_stopped(args))
    except KeyboardInterrupt:  # where signal handlers cannot be installed (Windows)
        return 0


async def _serve_until_stopped(args: argparse.Namespace) -> int:
    from .testing import FakeGrooveServer, FaultPlan

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
