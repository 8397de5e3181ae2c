"""The command line's arguments, exit statuses and usage errors.

Each subcommand is a ``_add_<name>_parser`` function that declares its arguments; nothing here
runs a command: :func:`groove_async.cli.main` parses with :func:`_build_parser` and hands the
arguments to the subcommand's handler. argparse reports a malformed argument itself (exit status
2); a problem found later (a token, a file, a journal) is a :class:`_UsageError`, reported as one
``groove-async <command>: error: ...`` line by :func:`_report_usage_error`, exit status 2 too.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import urlsplit

from groove_async import DEFAULT_BASE_URL, __version__

DEFAULT_PORT = 8080
DEFAULT_TOKEN = "demo-token"  # noqa: S105 -- the emulator's documented demo token, not a secret
URL_LINE_PREFIX = "Groove emulator listening on "
"""The line ``serve`` prints first, followed by the base URL: scripts may parse it."""

EXIT_OK: Final = 0
"""Every input succeeded."""
EXIT_NOT_ALL_SUCCEEDED: Final = 1
"""Some inputs were rejected, failed or were not sent."""
EXIT_USAGE: Final = 2
"""A usage error, a refused journal, a missing or refused token."""
EXIT_INTERRUPTED: Final = 130
"""Stopped by Ctrl-C (SIGINT); SIGTERM gives 143."""

DEFAULT_TOKEN_ENV: Final = "GROOVE_TOKEN"  # noqa: S105 -- the name of a variable, not a token

MAX_LATENCY: Final = 3600.0
"""The longest ``--latency`` of ``demo`` and ``serve``, in seconds: an hour is already never."""

FAULT_KINDS: Final[Mapping[str, str]] = {
    "drop": "p_drop",
    "429": "p_429",
    "409": "p_409",
    "500": "p_500",
    "502": "p_502",
    "503": "p_503",
    "504": "p_504",
    "html": "p_html",
    "non-json": "p_non_json",
    "truncated": "p_truncated",
    "missing-item": "p_missing_item",
}
"""``serve --fault KIND=P``: each KIND and the :class:`~groove_async.testing.FaultPlan` knob."""

EMULATOR_IDS: Final = (
    "The emulator's catalog holds every track ID of the documented shape "
    "music.XXXXXXXX-0100-11DB-89CA-0019B92A3933 (any 8 hex digits, in any case); any other ID "
    "is answered COLLECTION_INVALID_ID. delete takes the collection IDs that add returned."
)


class _UsageError(Exception):
    """A problem with the command's arguments or environment: exit status 2."""


def _report_usage_error(prog: str, exc: _UsageError) -> int:
    """Print ``exc`` as the one line ``PROG: error: ...`` on stderr; return :data:`EXIT_USAGE`."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groove-async",
        description=(
            "Bulk-add or delete tracks of a Groove Music collection, try it all on an embedded "
            "emulator (demo), or run the emulator (serve)."
        ),
        epilog=(
            "Exit status: 0 all succeeded, 1 some were rejected or failed, 2 usage or "
            "authentication error, 130 interrupted. Start with: groove-async demo"
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_import_parser(subparsers, "add")
    _add_import_parser(subparsers, "delete")
    _add_demo_parser(subparsers)
    _add_serve_parser(subparsers)
    return parser


def _int_at_least(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def _seconds_problem(value: float) -> str | None:
    """Why ``value`` is not a usable number of seconds (NaN, < 0, over an hour), else ``None``."""
    if not 0.0 <= value <= MAX_LATENCY:  # also NaN
        return f"must be a number of seconds from 0 to {MAX_LATENCY:g}, got {value:g}"
    return None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    problem = _seconds_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def _number(text: str) -> float:
    """Any number; its range is checked by the command (``serve --latency``)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None


def _path(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("a file name cannot be empty ('-' is stdin or stdout)")
    return text


def _env_name(text: str) -> str:
    if not text or "=" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"not the name of an environment variable: {text!r}")
    return text


def _url(text: str) -> str:
    """A URL that splits, with a port in range; the client checks the rest (see
    :func:`_in_cli_terms`)."""
    try:
        port = urlsplit(text).port
    except ValueError as exc:  # a bad IPv6 literal, a port that is not a number or out of range
        raise argparse.ArgumentTypeError(f"not a usable URL: {text!r} ({exc})") from None
    if port == 0:
        raise argparse.ArgumentTypeError(f"not a usable URL: {text!r} (port 0)")
    return text


def _fault(text: str) -> tuple[str, float]:
    """``KIND=P`` of ``serve --fault``: a kind of :data:`FAULT_KINDS` and a probability."""
    kind, equals, number = text.partition("=")
    kind = kind.strip().lower().replace("_", "-")
    if not equals or kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"expected KIND=P with KIND one of {', '.join(FAULT_KINDS)}; got {text!r}"
        )
    try:
        probability = float(number)
    except ValueError:
        probability = math.nan
    if not 0.0 <= probability <= 1.0:
        raise argparse.ArgumentTypeError(f"P must be a probability from 0 to 1, got {text!r}")
    return kind, probability


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


def _add_import_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], action: str
) -> None:
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
            "batches with retries. Blank lines and lines starting with '#' are skipped; a CSV "
            "file whose first line is a header with an 'id' column is read from that column. "
            "The input is streamed, so it may be as long as you like. A line that is not a "
            "valid ID is reported (REJECTED, INVALID_INPUT) and does not stop the rest. "
            "Ctrl-C stops gracefully: batches in flight finish, the rest is reported NOT_SENT "
            "(press it again to abandon the batches in flight)."
        ),
        epilog=(
            "Exit status: 0 every input succeeded; 1 some were rejected, failed or not sent; "
            "2 usage error, refused journal, missing or refused token; 130 interrupted "
            "(143 on SIGTERM). With --journal, run the same command again to resume."
        ),
    )
    command.add_argument(
        "input",
        nargs="?",
        default="-",
        type=_path,
        metavar="FILE",
        help="the IDs, one per line, or a CSV with an 'id' column; '-' or nothing for stdin",
    )
    command.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        type=_url,
        metavar="URL",
        help="the service root (default: %(default)s); plain http only to loopback, unless "
        "--allow-insecure-http",
    )
    command.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http --base-url that is not loopback (the token travels unencrypted)",
    )
    command.add_argument(
        "--token",
        metavar="TOKEN",
        help=(
            "the user token (visible to other local users in the process list: prefer --token-env)"
        ),
    )
    command.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        type=_env_name,
        metavar="NAME",
        help="environment variable holding the token when --token is not given "
        "(default: %(default)s); the token is never printed",
    )
    command.add_argument(
        "--concurrency",
        type=_int_at_least(1, 1000),
        default=8,
        metavar="N",
        help="the most requests in flight at once (default: %(default)s)",
    )
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
    command.add_argument(
        "--output",
        type=_path,
        metavar="FILE",
        help=(
            "write one JSON line per input, in input order: {input_id, id, outcome, error} "
            "('-' for stdout; a file is replaced only when complete, a symlink's target "
            "likewise; a pipe or device is written directly)"
        ),
    )
    command.add_argument(
        "--journal",
        type=_path,
        metavar="FILE",
        help=(
            "record progress durably in FILE so that running the same command again resumes "
            "after a crash or Ctrl-C; needs an input FILE, not stdin"
        ),
    )
    command.add_argument(
        "--same-user",
        action="store_true",
        help=(
            "when resuming a journal written under another token (your own token, refreshed), "
            "trust it: skip the IDs it lists as finished instead of sending them again"
        ),
    )
    command.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors (no progress, summary)"
    )
    command.set_defaults(action=action)


def _add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
            "answer a share P (0 to 1) of the add/delete requests with a fault; repeatable, the "
            "shares add up to at most 1. KIND: drop (close the connection), 429, 409, 500, 502, "
            "503, 504 (error statuses), html (a proxy's HTML page), non-json, truncated, "
            "missing-item (a bad 200 after the change was made)"
        ),
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
