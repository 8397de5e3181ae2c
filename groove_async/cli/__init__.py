"""The ``groove-async`` command line.

::

    groove-async add    [FILE|-] [--base-url URL] [--allow-insecure-http]
                        [--token T | --token-env NAME] [--concurrency N] [--batch-size N]
                        [--format json|xml] [--output FILE] [--journal FILE] [--same-user]
                        [--quiet]
    groove-async delete [FILE|-] ...the same options...
    groove-async playlist create NAME [FILE|-] [--base-url URL] [--allow-insecure-http]
                        [--token T | --token-env NAME] [--concurrency N] [--published]
                        [--output FILE] [--journal FILE] [--same-user] [--quiet]
    groove-async export [--output FILE|-] [--format ids|jsonl] [--playlists DIR]
                        [--base-url URL] [--allow-insecure-http] [--token T | --token-env NAME]
                        [--concurrency N] [--quiet]
    groove-async demo   [--size N] [--latency S] [--faults] [--seed N] [--concurrency N] [--quiet]
    groove-async serve  [--host 127.0.0.1] [--port 8080] [--token TOKEN ...] [--seed N]
                        [--latency S] [--capacity N] [--fault KIND=P ...] [--retry-after S]
                        [--late-delay S] [--hyphen-codes]
    groove-async worker --redis URL --tokens DIR [--base-url URL] [--allow-insecure-http]
                        [--concurrency N] [--jobs N]
    groove-async submit {add|delete} FILE --user NAME --redis URL
    groove-async job    ID --redis URL [--wait] [--json] [--output FILE] [--cancel]
    groove-async jobs   --redis URL
    groove-async --version

A bad argument of any command is one ``groove-async COMMAND: error: ...`` line and exit status
2: argparse's for what the parser checks, :func:`~groove_async.cli.parser._report_usage_error`'s
for what a handler finds, in the command line's words (its flags, not the library's arguments).

:func:`main` only parses and dispatches to the subcommand's handler. The modules, each using
only those listed before it:

* :mod:`~groove_async.cli.arguments`: the argument types, and the options the commands that talk
  to the service share.
* :mod:`~groove_async.cli.parser`: the commands' arguments, the exit statuses and the one-line
  usage errors.
* :mod:`~groove_async.cli.inputs`: the input sources (a file, stdin or a pipe, memory), the line
  splitter, the CSV ``id`` column, and the ID check (the client's own validator).
* :mod:`~groove_async.cli.progress`: the tqdm bar or plain progress lines, and the summary.
* :mod:`~groove_async.cli.output`: the ``--output`` writer (special files, ``.part`` + rename,
  failed writes).
* :mod:`~groove_async.cli.journal_header`, :mod:`~groove_async.cli.journal` and
  :mod:`~groove_async.cli.journal_writer`: the ``--journal`` file format, and its writer.
* :mod:`~groove_async.cli.signals`: SIGINT/SIGTERM while a command runs.
* :mod:`~groove_async.cli.reachability`: a server that never answers stops the import early.
* :mod:`~groove_async.cli.importer`: the import run (results in input order, admission of
  finished and invalid inputs, a sender: the client's bulk stream or a job's own).
* :mod:`~groove_async.cli.add_delete`: the handler of ``add`` and ``delete``, and the run of
  every command that sends the IDs of an input.
* :mod:`~groove_async.cli.playlist_resume` and :mod:`~groove_async.cli.playlist`: ``playlist
  create``'s sender, chunk after chunk, and its resume against the playlist read back.
* :mod:`~groove_async.cli.export_files` and :mod:`~groove_async.cli.export`: ``export``, and the
  files of ``--playlists``.
* :mod:`~groove_async.cli.demo`, :mod:`~groove_async.cli.serve`: the other subcommands' handlers.
* :mod:`~groove_async.cli.fleet_parser` and :mod:`~groove_async.cli.fleet`: the fleet's
  commands (``worker``, ``submit``, ``job``, ``jobs``); :mod:`groove_async.fleet` (the
  ``fleet`` extra) is imported only when one of them runs.

Only the public API of :mod:`groove_async` and :mod:`groove_async.testing` is used (the
import-linter contract "The command line uses the public API only" forbids every private
module): the client's own ID check (:class:`~groove_async.IdValidator`), token check
(:func:`~groove_async.check_token`) and playlist limits are public, so that the command line
accepts exactly what the client does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from .add_delete import _import_command
from .demo import _demo
from .export import _export
from .fleet import _fleet_command
from .parser import EXIT_NOT_ALL_SUCCEEDED, _parse, _stdout_gone
from .playlist import _playlist_command
from .serve import _serve

__all__ = ["main"]

_Handler = Callable[[argparse.Namespace], int]

_HANDLERS: Final[Mapping[str, _Handler]] = {
    "add": _import_command,
    "delete": _import_command,
    "playlist": _playlist_command,
    "export": _export,
    "demo": _demo,
    "serve": _serve,
    **dict.fromkeys(("worker", "submit", "job", "jobs"), _fleet_command),
}
"""Each subcommand's handler: a function from the parsed arguments to an exit status."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 success; 1 some inputs were rejected, failed or not sent; 2 a usage
        or authentication error (argparse exits with 2 itself); 130 interrupted by Ctrl-C.
    """
    args = _parse(argv)
    handler = _HANDLERS[args.command]
    try:
        status = handler(args)
        sys.stdout.flush()
    except BrokenPipeError:  # what the handlers did not catch: `| head` closed stdout
        _stdout_gone()
        return EXIT_NOT_ALL_SUCCEEDED
    return status
