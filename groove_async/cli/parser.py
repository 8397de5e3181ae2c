"""The command line's arguments, exit statuses and usage errors.

Each subcommand is a ``_add_<name>_parser`` function that declares its arguments; nothing here
runs a command: :func:`groove_async.cli.main` parses with :func:`_build_parser` and hands the
arguments to the subcommand's handler. argparse reports a malformed argument itself (exit status
2); a problem found later (a token, a journal of another input) is a :class:`_UsageError`,
reported as one ``groove-async <command>: error: ...`` line by :func:`_report_usage_error`, exit
status 2 too; a file that cannot be read or written (a missing input, an unwritable output) is
a :class:`_FileError`, reported the same way with exit status 1, as the README's table says.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Final

from groove_async import __version__

from .arguments import (
    FAULT_KINDS as FAULT_KINDS,  # re-exported: the kinds are the parser's vocabulary
)
from .arguments import (
    MAX_LATENCY,
    _add_client_options,
    _add_input_argument,
    _add_quiet_option,
    _add_result_options,
    _fault,
    _int_at_least,
    _number,
    _path,
    _playlist_name,
    _seconds,
    _Subparsers,
)
from .fleet_parser import _add_fleet_parsers

DEFAULT_PORT = 8080
DEFAULT_TOKEN = "demo-token"  # noqa: S105 -- the emulator's documented demo token, not a secret
URL_LINE_PREFIX = "Groove emulator listening on "
"""The line ``serve`` prints first, followed by the base URL: scripts may parse it."""

EXIT_OK: Final = 0
"""Every input succeeded."""
EXIT_NOT_ALL_SUCCEEDED: Final = 1
"""Some inputs were rejected, failed or were not sent, or a file could not be read or written."""
EXIT_USAGE: Final = 2
"""A usage error, a refused journal, a missing or refused token."""
EXIT_INTERRUPTED: Final = 130
"""Stopped by Ctrl-C (SIGINT); SIGTERM gives 143."""

EMULATOR_IDS: Final = (
    "The emulator's catalog holds every track ID of the documented shape "
    "music.XXXXXXXX-0100-11DB-89CA-0019B92A3933 (any 8 hex digits, in any case); any other ID "
    "is answered COLLECTION_INVALID_ID. delete takes the collection IDs that add returned."
)

_INPUT_RULES: Final = (
    "Blank lines and lines starting with '#' are skipped; a CSV file whose first line is a "
    "header with an 'id' column is read from that column. The input is streamed, so it may be "
    "as long as you like. A line that is not a valid ID is reported (REJECTED, INVALID_INPUT) "
    "and does not stop the rest."
)
_IMPORT_EXIT: Final = (
    "Exit status: 0 every input succeeded; 1 some were rejected, failed or not sent, or the "
    "input, output or journal could not be read or written; "
    "2 usage error, refused journal, missing or refused token; 130 interrupted "
    "(143 on SIGTERM). With --journal, run the same command again to resume"
)


class _UsageError(Exception):
    """A problem with the command's arguments or environment: exit status 2."""

    status: int = EXIT_USAGE
    """The exit status it ends the command with."""


class _FileError(_UsageError):
    """A file that cannot be read or written (a missing input, an unwritable output or
    journal), found before anything is sent: one line too, but exit status 1."""

    status = EXIT_NOT_ALL_SUCCEEDED


def _stdout_gone() -> None:
    """The reader of stdout went away (``groove-async ... | head``): point stdout at the null
    device, as Python's documentation on SIGPIPE does, so that nothing more is printed there and
    no flush at exit reports a broken pipe. The command then ends quietly, exit status 1."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor
        pass
    finally:
        os.close(devnull)


def _report_usage_error(prog: str, exc: _UsageError) -> int:
    """Print ``exc`` as the one line ``PROG: error: ...`` on stderr; return its exit status."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return exc.status


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line (argparse exits with status 2 on a malformed one).

    argparse of Python 3.11 matches the positionals of ``playlist create NAME [FILE]`` in one go:
    options between NAME and FILE leave FILE unrecognized. Such a FILE is taken here.
    """
    parser = _build_parser()
    args, extras = parser.parse_known_args(argv)
    if getattr(args, "input", "") is None:  # playlist create's FILE, not given in its place
        if extras and (extras[0] == "-" or not extras[0].startswith("-")):
            try:
                args.input = _path(extras.pop(0))
            except argparse.ArgumentTypeError as exc:
                parser.error(f"argument FILE: {exc}")
        else:
            args.input = "-"
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groove-async",
        description=(
            "Bulk-add or delete tracks of a Groove Music collection, make playlists, export "
            "the library, try it all on an embedded emulator (demo), or run the emulator (serve)."
        ),
        epilog=(
            "Exit status: 0 all succeeded, 1 some were rejected or failed, or a file could not "
            "be read or written, 2 usage or authentication error, 130 interrupted. Start with: "
            "groove-async demo"
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_import_parser(subparsers, "add")
    _add_import_parser(subparsers, "delete")
    _add_playlist_parser(subparsers)
    _add_export_parser(subparsers)
    _add_demo_parser(subparsers)
    _add_serve_parser(subparsers)
    _add_fleet_parsers(subparsers)
    return parser


_CLI_WORDS: Final = (
    ("allow_insecure_http=True", "--allow-insecure-http"),
    ("base_url", "--base-url"),
    ("max_concurrency", "--concurrency"),
    ("batch_size", "--batch-size"),
    ("wire_format", "--format"),
)


def _in_cli_terms(message: str, flag: str) -> str:
    """A message of the library's, naming its Python arguments, in the command line's words.

    Python argument names become the flags; a message naming no flag is put under ``flag``.
    """
    for python, cli in _CLI_WORDS:
        message = message.replace(python, cli)
    return message if "--" in message else f"{flag}: {message}"


def _add_import_parser(subparsers: _Subparsers[argparse.ArgumentParser], action: str) -> None:
    what = (
        "catalog track IDs (music.<GUID>) to add to"
        if action == "add"
        else "collection track IDs (the 'id' of a successful add) to delete from"
    )
    command = subparsers.add_parser(
        action,
        help=f"{action} the tracks listed in a file or on stdin",
        description=(
            f"Read {what} the user's collection, one per line, and send them in concurrent "
            f"batches with retries. {_INPUT_RULES} "
            "Ctrl-C stops gracefully: batches in flight finish, the rest is reported NOT_SENT "
            "(press it again to abandon the batches in flight)."
        ),
        epilog=f"{_IMPORT_EXIT}.",
    )
    _add_input_argument(command)
    _add_client_options(command)
    command.add_argument(
        "--batch-size",
        type=_int_at_least(1, 100),
        default=100,
        metavar="N",
        help="IDs per request, 1 to 100 (default: %(default)s)",
    )
    command.add_argument(
        "--format",
        choices=("json", "xml"),
        default="json",
        help="the body format spoken with the service (default: %(default)s)",
    )
    _add_result_options(command)
    command.set_defaults(action=action)


def _add_playlist_parser(subparsers: _Subparsers[argparse.ArgumentParser]) -> None:
    playlist = subparsers.add_parser(
        "playlist",
        help="create a playlist from the tracks listed in a file or on stdin",
        description="Playlists of the user's collection: 'playlist create NAME FILE'.",
    )
    actions = playlist.add_subparsers(dest="playlist_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create a playlist holding the tracks of a file, in order",
        description=(
            "Create the playlist NAME and add to it the catalog track IDs (music.<GUID>) read "
            f"one per line, in the order read, each exactly once (repeats are kept). "
            f"{_INPUT_RULES} The tracks go in chunks of 100, one after another; the results "
            "of a chunk are recorded once it is answered. Ctrl-C stops gracefully: the chunk "
            "in flight finishes, the rest is reported NOT_SENT."
        ),
        epilog=(
            f"{_IMPORT_EXIT}: it appends to the same playlist and adds no track twice. "
            "Example: groove-async export --playlists DIR, then groove-async playlist create "
            "'Road trip' 'DIR/Road trip.txt'"
        ),
    )
    create.add_argument(
        "name", type=_playlist_name, metavar="NAME", help="the playlist's name, 1 to 256 characters"
    )
    _add_input_argument(create, default=None)  # "-", or a FILE after options: see _parse
    _add_client_options(create)
    create.add_argument(
        "--published", action="store_true", help="publish the playlist (default: not published)"
    )
    _add_result_options(
        create,
        same_user="when resuming a journal written under another token (your own token, "
        "refreshed), trust it: append to its playlist (without this, such a journal is refused)",
    )
    create.set_defaults(action="playlist create")


def _add_export_parser(subparsers: _Subparsers[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser(
        "export",
        help="write the library's tracks (and playlists) as catalog IDs",
        description=(
            "Read the user's library back and write its tracks' catalog IDs, one per line, in "
            "the order they were added: the input of 'groove-async add' for another account "
            "(with --concurrency 1 to keep the order). With --format jsonl, one JSON object "
            "per track: {id, catalog_id, name}. With --playlists DIR, each playlist is written "
            "to DIR/<its name>.txt (.jsonl) in playlist order, with DIR/index.jsonl naming "
            "them; the library is then written only if --output is given."
        ),
        epilog=(
            "Exit status: 0 everything was written; 1 some tracks had no catalog ID to write "
            "(left out of the ids format, counted in a warning), or a read or write failed; 2 "
            "usage error, missing or refused token; 130 interrupted (143 on SIGTERM)."
        ),
    )
    _add_client_options(export)
    export.add_argument(
        "--output",
        type=_path,
        metavar="FILE",
        help="where the library goes ('-' for stdout, the default without --playlists); a "
        "file is replaced only when complete",
    )
    export.add_argument(
        "--format",
        choices=("ids", "jsonl"),
        default="ids",
        help="ids: one catalog ID per line; jsonl: {id, catalog_id, name} per line "
        "(default: %(default)s)",
    )
    export.add_argument(
        "--playlists",
        type=_path,
        metavar="DIR",
        help="also write every playlist to a file of DIR (created if missing), and "
        "DIR/index.jsonl: {file, name, id, track_count, is_published} per playlist, oldest first",
    )
    _add_quiet_option(export)


def _add_demo_parser(subparsers: _Subparsers[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="import a generated library into the embedded emulator",
        description=(
            "Start the Groove emulator in this process, generate a realistic library (catalog "
            "track IDs with about 2% unknown IDs and 5% repeats), import it with the progress "
            "bar, and print the summary. Exit status 0 when every input got a result and the "
            "only rejections are the planted unknown IDs; 1 otherwise; 130 on Ctrl-C."
        ),
    )
    demo.add_argument(
        "--size",
        type=_int_at_least(1, 10_000_000),
        default=20_000,
        metavar="N",
        help="IDs in the library (default: %(default)s)",
    )
    demo.add_argument(
        "--latency",
        type=_seconds,
        default=0.002,
        metavar="S",
        help="seconds the emulator waits before each answer (default: %(default)s)",
    )
    demo.add_argument(
        "--faults",
        action="store_true",
        help="make the emulator misbehave: some 429 (with Retry-After), 503, 500 and dropped "
        "connections, all retried by the client",
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="seed of the library and the faults (default: 7)"
    )
    demo.add_argument(
        "--concurrency",
        type=_int_at_least(1, 1000),
        default=8,
        metavar="N",
        help="the most requests in flight at once (default: %(default)s)",
    )
    demo.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _add_serve_parser(subparsers: _Subparsers[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the Groove API emulator until interrupted",
        description=(
            "Run the Groove collection API emulator (groove_async.testing.FakeGrooveServer) "
            "until SIGINT or SIGTERM. The first line printed is "
            f"'{URL_LINE_PREFIX}<url>', then one 'Token: <token>' line per token. "
            f"{EMULATOR_IDS}"
        ),
        epilog=(
            "Exit status: 0 stopped by SIGINT or SIGTERM; 2 usage error, or the address cannot "
            "be listened on. Example: groove-async serve --port 0 --fault 429=0.05 "
            "--fault drop=0.01 --retry-after 0.5"
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port",
        type=_int_at_least(0, 65535),
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
    serve.add_argument(
        "--seed", type=int, default=None, metavar="N", help="seed for minted IDs and faults"
    )
    serve.add_argument(
        "--latency",
        type=_number,  # its range is checked by the command, whose status is 2 like argparse's
        default=0.0,
        metavar="S",
        help=f"seconds to wait before each answer, 0 to {MAX_LATENCY:g} (default: %(default)s)",
    )
    serve.add_argument(
        "--capacity",
        type=_int_at_least(0, 1_000_000_000),
        default=50_000,
        metavar="N",
        help="tracks per collection (default: %(default)s)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        dest="faults",
        type=_fault,
        default=[],
        metavar="KIND=P",
        help=(
            "answer a share P (0 to 1) of the POSTs (add, delete, playlist edits) with a fault; "
            "repeatable, the shares add up to at most 1. KIND: drop (close the connection), "
            "429, 409, 500, 502, 503, 504 (error statuses), html (a proxy's HTML page), "
            "non-json, truncated, missing-item (a bad 200 after the change was made), "
            "lost-500, lost-504, lost-drop (the change is made, then the answer is lost), late "
            "(the change is made --late-delay seconds later, then answered)"
        ),
    )
    serve.add_argument(
        "--late-delay",
        type=_seconds,
        default=5.0,
        metavar="S",
        help="how much later a 'late' fault makes the change and answers (default: %(default)s)",
    )
    serve.add_argument(
        "--retry-after",
        type=_seconds,
        default=None,
        metavar="S",
        help="the Retry-After of 429 and 503 answers, in seconds (default: none sent)",
    )
    serve.add_argument(
        "--hyphen-codes",
        action="store_true",
        help="spell error codes with hyphens, as the documentation prints them",
    )
