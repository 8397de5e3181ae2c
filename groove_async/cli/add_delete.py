"""The ``add`` and ``delete`` commands: from the parsed arguments to an exit status.

The token is checked by the client's own rule (:func:`groove_async.check_token`) and never
printed; the input, the output and the journal are opened and checked not to be one file; then
:func:`~groove_async.cli.importer._import` runs, and what went wrong, if anything, is reported.
``playlist create`` (:mod:`~groove_async.cli.playlist`) runs through :func:`_run_command` too,
with a job of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groove_async import check_token

from .importer import _import, _Job, _Outcome
from .inputs import _open_input
from .output import _replaced_output
from .parser import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SUCCEEDED,
    EXIT_OK,
    EXIT_USAGE,
    _report_usage_error,
    _UsageError,
)
from .progress import _print_summary, _progress_mode
from .signals import _stopped_by


def _import_command(args: argparse.Namespace) -> int:
    """The handler of ``add`` and ``delete``."""
    return _run_command(args, _bulk_job)


def _bulk_job(args: argparse.Namespace, job: _Job) -> _Job:
    """``add`` and ``delete``: the client's bulk stream, with the batch size and body format."""
    options = {**job.client_options, "batch_size": args.batch_size, "wire_format": args.format}
    return job._replace(client_options=options)


def _run_command(
    args: argparse.Namespace, make_job: Callable[[argparse.Namespace, _Job], _Job]
) -> int:
    """Run a command that sends the IDs of an input: ``make_job`` completes its job."""
    prog = f"groove-async {args.action}"
    try:
        token = _resolve_token(args)
        source, scan = _open_input(args.input, journal=args.journal is not None)
    except _UsageError as exc:
        return _report_usage_error(prog, exc)
    try:
        _check_paths(args.input, args.output, args.journal)
        total, digest = scan() if scan is not None else (None, None)
        interactive = args.input == "-" and sys.stdin.isatty()
        if interactive and not args.quiet:
            print("Reading IDs from the terminal, one per line; end with Ctrl-D.", file=sys.stderr)
        job = _Job(
            action=args.action,
            source=source,
            source_name="stdin" if args.input == "-" else args.input,
            total=total,
            progress=_progress_mode(quiet=args.quiet, interactive=interactive),
            output=args.output,
            client_options=_client_options(args),
            journal=args.journal,
            input_sha256=digest,
            rerunnable=args.input != "-",
            same_user=args.same_user,
        )
        return _run(make_job(args, job), token, prog)
    except _UsageError as exc:
        return _report_usage_error(prog, exc)
    finally:
        source.close()


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client's options of ``--base-url``, ``--allow-insecure-http``, ``--concurrency``."""
    return {
        "base_url": args.base_url,
        "allow_insecure_http": args.allow_insecure_http,
        "max_concurrency": args.concurrency,
    }


def _resolve_token(args: argparse.Namespace) -> str:
    """The token of ``--token`` or of the environment, checked as the client checks it.

    Raises:
        _UsageError: there is none, or the client would refuse it (the message never holds it).
    """
    if args.token is not None:
        token: str = args.token.strip()
        where = "--token"
    else:
        token = os.environ.get(args.token_env, "").strip()
        where = f"the environment variable {args.token_env}"
        if not token:
            raise _UsageError(f"no token: pass --token, or set {args.token_env}")
    try:
        return check_token(token)
    except ValueError:
        if not token:
            raise _UsageError("no token: --token is empty") from None
        # Never echo the token, not even a part of it.
        raise _UsageError(
            f"the token in {where} holds spaces, control or non-ASCII characters"
        ) from None


def _check_paths(input_path: str, output: str | None, journal: str | None) -> None:
    """Refuse an input, output, output's ``.part`` and journal that are one file (exit 2)."""
    named = [("the input", input_path), ("--output", output), ("--journal", journal)]
    files = [(what, Path(p)) for what, p in named if p is not None and p != "-"]
    replaced = _replaced_output(output) if output is not None else None
    temporary = "the temporary output file"
    if replaced is not None:
        files.append((temporary, replaced[1]))
    for i, (what, path) in enumerate(files):
        for other_what, other in files[i + 1 :]:
            if (what, other_what) == ("--output", temporary):
                continue  # the output and its own .part
            if _same_file(path, other):
                raise _UsageError(f"{what} and {other_what} are the same file: {path}")


def _same_file(path: Path, other: Path) -> bool:
    if os.path.realpath(path) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(path, other)
    except OSError:  # one of them does not exist (yet)
        return False


def _run(job: _Job, token: str, prog: str) -> int:
    """Run an import command to its exit status (errors are printed here)."""
    try:
        ended = asyncio.run(_import(job, token))
    except KeyboardInterrupt:  # before the signal handlers were installed, or on Windows
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _UsageError as exc:
        return _report_usage_error(prog, exc)
    if ended.output is not None and ended.output.reader_gone:
        return EXIT_NOT_ALL_SUCCEEDED  # `--output - | head`: quietly, as a closed pipe ends cat
    summary = sys.stderr if job.output == "-" else sys.stdout
    if ended.importer.total == 0 and ended.signal is None and ended.importer.input_error is None:
        # Not a table of zeros: a warning, even with --quiet (the status stays 0: nothing failed)
        print(
            f"{prog}: warning: no IDs in {job.source_name} (empty, or only blank and '#' "
            "lines): nothing was sent",
            file=sys.stderr,
        )
    elif job.progress != "off":
        requests = ended.requests
        _print_summary(ended.importer, ended.progress, ended.elapsed, summary, requests=requests)
    return _report_end(ended, prog, quiet=job.progress == "off")


def _journal_name(ended: _Outcome) -> str | None:
    return str(ended.journal.path) if ended.journal is not None else None


def _report_end(ended: _Outcome, prog: str, *, quiet: bool) -> int:
    """Print what went wrong, if anything, and return the exit status."""
    importer = ended.importer
    if importer.auth_error is not None:
        print(f"{prog}: error: authentication failed: {importer.auth_error}", file=sys.stderr)
        return EXIT_USAGE
    if importer.input_error is not None:
        print(f"{prog}: error: cannot read the input: {importer.input_error}", file=sys.stderr)
    if ended.journal_error is not None:
        print(
            f"{prog}: error: cannot write the journal, the import was stopped: "
            f"{ended.journal_error}",
            file=sys.stderr,
        )
    output = ended.output
    output_error = output.error if output is not None else None
    if output is not None and output_error is not None:
        print(
            f"{prog}: error: cannot write the output {output.name}, the import was "
            f"stopped: {output_error.strerror or output_error}",
            file=sys.stderr,
        )
    if ended.halted is not None:
        print(f"{prog}: error: {ended.halted}", file=sys.stderr)
    reachability = importer.reachability
    unreachable = reachability is not None and reachability.unreachable
    if reachability is not None and unreachable:
        print(f"{prog}: error: {reachability.line(_journal_name(ended))}", file=sys.stderr)
    if ended.signal is not None:
        if not quiet:
            unfinished = importer.total - importer.counts["SUCCEEDED"] - importer.counts["REJECTED"]
            again = (
                "run the same command again to resume"
                if ended.journal is not None
                else "use --journal to make an import resumable"
            )
            print(
                f"{prog}: {_stopped_by(ended.signal)}; {unfinished:,} of the IDs read are not "
                f"finished ({again})",
                file=sys.stderr,
            )
        return 128 + ended.signal
    failed = (
        ended.journal_error is not None
        or output_error is not None
        or ended.halted is not None
        or unreachable
    )
    if importer.total == importer.counts["SUCCEEDED"] and not failed:
        return EXIT_OK
    return EXIT_NOT_ALL_SUCCEEDED
