"""The fleet's commands: ``worker``, ``submit``, ``job`` and ``jobs``.

The fleet (:mod:`groove_async.fleet`, with saq and redis) is imported only when one of them
runs: without the ``fleet`` extra they say in one line what to install. Redis unreachable, an
unknown job, a bad user name or URL: one ``groove-async COMMAND: error: ...`` line and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any, Final

from groove_async import GrooveClient

from .fleet_parser import INSTALL_HINT, REDIS_ENV
from .inputs import _Inputs, _open_input
from .output import _Output
from .parser import EXIT_NOT_ALL_SUCCEEDED, EXIT_OK, EXIT_USAGE, _in_cli_terms, _UsageError
from .progress import _Progress, _progress_mode

_OUTCOMES: Final = ("SUCCEEDED", "REJECTED", "FAILED", "NOT_SENT")


def _fleet_command(args: argparse.Namespace) -> int:
    """The handler of ``worker``, ``submit``, ``job`` and ``jobs``."""
    prog = f"groove-async {args.command}"
    try:
        fleet = importlib.import_module("groove_async.fleet")
    except ImportError:
        print(f"{prog}: error: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_USAGE
    if not args.redis:
        print(f"{prog}: error: no Redis: pass --redis URL or set {REDIS_ENV}", file=sys.stderr)
        return EXIT_USAGE
    run = _COMMANDS[args.command]
    try:
        return asyncio.run(run(fleet, args))
    except (fleet.FleetError, _UsageError, ValueError, TypeError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _worker(fleet: ModuleType, args: argparse.Namespace) -> int:
    try:
        GrooveClient("check", base_url=args.base_url, allow_insecure_http=args.allow_insecure_http)
    except (TypeError, ValueError) as exc:
        raise _UsageError(_in_cli_terms(str(exc), "--base-url")) from None
    options = fleet.WorkerOptions(
        tokens=fleet.DirectoryTokens(args.tokens),
        base_url=args.base_url,
        allow_insecure_http=args.allow_insecure_http,
        concurrency=args.concurrency,
        shared_gate=not args.local_gate,
    )
    async with _open(fleet, args) as fleet_:
        await fleet_.ping()
        print(f"groove-async worker: waiting for jobs ({fleet_!r})", file=sys.stderr, flush=True)
        await fleet_.run_worker(options, jobs=args.jobs)
    return EXIT_OK


def _open(fleet: ModuleType, args: argparse.Namespace) -> Any:
    """The fleet of ``--redis``: a worker rides out a Redis restart, the other commands fail
    fast (one line) when Redis is not there."""
    extra: dict[str, Any] = (
        {"heartbeat": args.heartbeat} if getattr(args, "heartbeat", None) else {}
    )
    if args.command != "worker":
        extra["redis_retries"] = 2
    return fleet.Fleet(args.redis, **extra)


async def _submit(fleet: ModuleType, args: argparse.Namespace) -> int:
    fleet.check_user(args.user)
    source, _ = _open_input(args.input, journal=False)
    name = "stdin" if args.input == "-" else args.input
    items: list[Any] = []
    lines: list[str] = []
    try:
        async for item in _Inputs(source):
            lines.append(item.track_id)
            if item.problem is None:
                items.append(item.track_id)
            else:
                items.append(_invalid(item.track_id, item.problem, f"line {item.line} of {name}"))
    finally:
        source.close()
    async with _open(fleet, args) as fleet_:
        job_id = await fleet_.submit_items(args.user, args.action, items, lines)
    print(job_id)
    return EXIT_OK


def _invalid(track_id: str, problem: str, where: str) -> dict[str, Any]:
    """The record of a line that is not an ID, as ``add`` writes it."""
    error = {"code": "INVALID_INPUT", "description": f"Not a valid track ID: {problem}"}
    return {
        "input_id": track_id,
        "id": None,
        "outcome": "REJECTED",
        "error": error | {"message": where},
    }


async def _job(fleet: ModuleType, args: argparse.Namespace) -> int:
    async with _open(fleet, args) as fleet_:
        progress = await fleet_.status(args.job_id)
        if args.cancel:
            progress = await fleet_.cancel(args.job_id)
        if args.wait:
            progress = await _follow(fleet_, progress, quiet=args.quiet or args.json)
        if args.output is not None:
            output = _Output(args.output)
            async for record in fleet_.results(args.job_id):
                output.write(json.dumps(record, ensure_ascii=False))
            output.close(complete=True)
            if output.error is not None:
                raise _UsageError(f"cannot write {args.output}: {output.error}")
    summary = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        print(json.dumps(progress.as_json()), file=summary)
    elif not args.quiet:
        print(_line(progress), file=summary)
    if not args.wait:
        return EXIT_OK
    return _exit_status(progress)


def _exit_status(progress: Any) -> int:
    if progress.status == "failed":
        return EXIT_USAGE
    if progress.status == "complete" and progress.succeeded == progress.total:
        return EXIT_OK
    return EXIT_NOT_ALL_SUCCEEDED


async def _follow(fleet_: Any, progress: Any, *, quiet: bool) -> Any:
    """Follow the job with the progress bar until it ends."""
    bar = _Progress(_progress_mode(quiet=quiet), progress.action, progress.total)
    shown = dict.fromkeys(_OUTCOMES, 0)
    bar.start()

    def advance(now: Any) -> None:
        for outcome in _OUTCOMES:
            count = getattr(now, outcome.lower())
            for _ in range(count - shown[outcome]):
                bar.advance(outcome)
            shown[outcome] = max(shown[outcome], count)

    try:
        return await fleet_.wait(progress.job_id, on_progress=advance)
    finally:
        bar.close()


def _line(progress: Any) -> str:
    text = (
        f"{progress.job_id} {progress.user} {progress.action} {progress.status}: "
        f"{progress.done:,}/{progress.total:,} done, {progress.succeeded:,} succeeded, "
        f"{progress.rejected:,} rejected, {progress.failed:,} failed"
    )
    return text + (f" ({progress.error})" if progress.error else "")


async def _jobs(fleet: ModuleType, args: argparse.Namespace) -> int:
    async with _open(fleet, args) as fleet_:
        for progress in await fleet_.jobs():
            print(_line(progress))
    return EXIT_OK


_COMMANDS: Final[
    dict[str, Callable[[ModuleType, argparse.Namespace], Coroutine[Any, Any, int]]]
] = {
    "worker": _worker,
    "submit": _submit,
    "job": _job,
    "jobs": _jobs,
}
