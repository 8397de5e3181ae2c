"""The argument types of the command line, and the options its commands share.

Each type function turns one argument's text into its value or raises
:class:`argparse.ArgumentTypeError`, which argparse reports as one ``groove-async COMMAND:
error: argument --FLAG: ...`` line with exit status 2. The option groups are declared once here
for every command that talks to the service (``add``, ``delete``, ``playlist create``,
``export``), so that they read the same everywhere; :mod:`~groove_async.cli.parser` declares
the commands.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import urlsplit

from groove_async import DEFAULT_BASE_URL, MAX_PLAYLIST_NAME_LENGTH

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
    "lost-500": "p_lost_500",
    "lost-504": "p_lost_504",
    "lost-drop": "p_lost_drop",
    "late": "p_late",
}
"""``serve --fault KIND=P``: each KIND and the :class:`~groove_async.testing.FaultPlan` knob."""

_Subparsers = argparse._SubParsersAction  # the type of add_subparsers()' result


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


def _playlist_name(text: str) -> str:
    """A playlist's NAME: 1 to :data:`~groove_async.MAX_PLAYLIST_NAME_LENGTH` characters, as the
    service allows."""
    if not 1 <= len(text) <= MAX_PLAYLIST_NAME_LENGTH:
        raise argparse.ArgumentTypeError(
            f"a playlist name is 1 to {MAX_PLAYLIST_NAME_LENGTH} characters, this one {len(text)}"
        )
    return text


def _env_name(text: str) -> str:
    if not text or "=" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"not the name of an environment variable: {text!r}")
    return text


def _url(text: str) -> str:
    """A URL that splits, with a port in range; the client checks the rest (see
    :func:`~groove_async.cli.parser._in_cli_terms`)."""
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


# -- the options shared by the commands that talk to the service -------------------------------


def _add_client_options(command: argparse.ArgumentParser) -> None:
    """``--base-url``, ``--allow-insecure-http``, ``--token``, ``--token-env``,
    ``--concurrency``."""
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


def _add_input_argument(command: argparse.ArgumentParser, default: str | None = "-") -> None:
    """The ``FILE`` of IDs (stdin by default)."""
    command.add_argument(
        "input",
        nargs="?",
        default=default,
        type=_path,
        metavar="FILE",
        help="the IDs, one per line, or a CSV with an 'id' column; '-' or nothing for stdin",
    )


_SAME_USER: Final = (
    "when resuming a journal written under another token (your own token, refreshed), trust "
    "it: skip the IDs it lists as finished instead of sending them again"
)


def _add_result_options(command: argparse.ArgumentParser, same_user: str = _SAME_USER) -> None:
    """``--output``, ``--journal``, ``--same-user``, ``--quiet`` of the commands that send IDs."""
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
    command.add_argument("--same-user", action="store_true", help=same_user)
    _add_quiet_option(command)


def _add_quiet_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors (no progress, summary)"
    )
