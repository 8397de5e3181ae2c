"""The ``groove-async`` command line.

::

    groove-async add    [FILE|-] [--base-url URL] [--token T | --token-env NAME] [--concurrency N]
                        [--batch-size N] [--format json|xml] [--output FILE] [--journal FILE]
                        [--quiet]
    groove-async delete [FILE|-] ...the same options...
    groove-async demo   [--size N] [--latency S] [--faults] [--seed N] [--concurrency N] [--quiet]
    groove-async serve  [--host 127.0.0.1] [--port 8080] [--token TOKEN ...] [--seed N]
                        [--latency S] [--capacity N] [--hyphen-codes]

Each subcommand is a ``_add_<name>_parser`` function that declares its arguments and sets
``handler``, a function from the parsed arguments to an exit status; :func:`main` only parses and
dispatches, so new subcommands slot in without touching it.

``add`` / ``delete`` stream their input: lines are read as they are needed (a regular file in
the event loop, stdin or a pipe in a daemon thread so that a slow producer never stalls the
loop or Ctrl-C) and fed to :meth:`GrooveClient.stream_add_tracks`. Each input gets one result,
written in input order. Lines that are not valid IDs never reach the client: they are answered
REJECTED with the code ``INVALID_INPUT`` in their own position. With ``--journal`` every
finished result is appended durably to a journal (:mod:`groove_async._journal`) and a rerun of
the same command resumes where the last one stopped.

Only the public API of :mod:`groove_async` and :mod:`groove_async.testing` is used here (plus
the journal, which is the command line's own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hashlib
import json
import os
import random
import re
import signal
import stat
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import IO, Any, Final, NamedTuple, Protocol

from . import (
    DEFAULT_BASE_URL,
    AuthenticationError,
    BatchStarted,
    GrooveClient,
    ProgressEvent,
    RetryScheduled,
    Throttled,
    TrackResult,
)
from ._journal import FINISHED, Journal, JournalError, JournalHeader, JournalRecord
from .testing import catalog_track_id

__all__ = ["main"]

_Handler = Callable[[argparse.Namespace], int]

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
PLAIN_PROGRESS_INTERVAL: Final = 3.0
"""Seconds between two plain progress lines when stderr is not a terminal."""

_ID_RE: Final = re.compile(r"music\.[\x21-\x7e]{1,1018}")
"""A valid ID, as the client checks it: ``music.`` + 1..1018 printable ASCII, no spaces."""
_TOKEN_RE: Final = re.compile(r"[\x21-\x7e]+")
_CHUNK: Final = 1 << 16
_STDIN_CHUNKS_AHEAD: Final = 16
_encode: Final = json.JSONEncoder(ensure_ascii=False).encode  # built once, not per call


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 success; 1 some inputs were rejected, failed or not sent; 2 a usage
        or authentication error (argparse exits with 2 itself); 130 interrupted by Ctrl-C.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: _Handler = args.handler
    return handler(args)


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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


# -- add / delete ---------------------------------------------------------------------------


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
        metavar="FILE",
        help="the IDs, one per line, or a CSV with an 'id' column; '-' or nothing for stdin",
    )
    command.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help="the service root (default: %(default)s); plain http only to loopback",
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
        metavar="FILE",
        help=(
            "write one JSON line per input, in input order: {input_id, id, outcome, error} "
            "('-' for stdout; a file is replaced only when complete, a symlink's target "
            "likewise; a pipe or device is written directly)"
        ),
    )
    command.add_argument(
        "--journal",
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
    command.set_defaults(handler=_import_command, action=action)


class _UsageError(Exception):
    """A problem with the command's arguments or environment: exit status 2."""


def _import_command(args: argparse.Namespace) -> int:
    prog = f"groove-async {args.action}"
    try:
        token = _resolve_token(args)
        source, scan = _open_input(args.input, journal=args.journal is not None)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
            client_options={
                "base_url": args.base_url,
                "max_concurrency": args.concurrency,
                "batch_size": args.batch_size,
                "wire_format": args.format,
            },
            journal=args.journal,
            input_sha256=digest,
            rerunnable=args.input != "-",
            same_user=args.same_user,
        )
        return _run(job, token, prog)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        source.close()


def _resolve_token(args: argparse.Namespace) -> str:
    if args.token is not None:
        token: str = args.token.strip()
        where = "--token"
    else:
        token = os.environ.get(args.token_env, "").strip()
        where = f"the environment variable {args.token_env}"
        if not token:
            raise _UsageError(f"no token: pass --token, or set {args.token_env}")
    if not token:
        raise _UsageError("no token: --token is empty")
    if not _TOKEN_RE.fullmatch(token):
        # Never echo the token, not even a part of it.
        raise _UsageError(f"the token in {where} holds spaces, control or non-ASCII characters")
    return token


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


def _progress_mode(*, quiet: bool, interactive: bool = False) -> str:
    """``bar`` on a terminal, ``lines`` otherwise (or while the user types IDs), or ``off``."""
    if quiet:
        return "off"
    return "bar" if sys.stderr.isatty() and not interactive else "lines"


# -- reading the input ----------------------------------------------------------------------


class _Input(NamedTuple):
    """One input: its position among the IDs, the ID as read, its line, why it is invalid."""

    position: int
    track_id: str
    line: int
    problem: str | None


_MAX_LINE: Final = 1 << 16
"""The longest input line read, in bytes: an ID is at most 1,024 characters, a CSV row more."""
_HEAD: Final = 256
"""Bytes kept of a longer line, for its excerpt."""
_EXCERPT: Final = 64
"""Characters of a longer line's excerpt, which stands for it in its result."""


class _LongLine(str):
    """A line over :data:`_MAX_LINE` bytes: its value is a short excerpt, ``length`` its size."""

    length: int = 0

    @classmethod
    def of(cls, head: bytes, length: int) -> _LongLine:
        """The line whose first bytes are ``head`` and whose length is ``length`` bytes."""
        text = head[:_HEAD].decode("utf-8", "replace").lstrip("\ufeff").strip()
        line = cls(text[:_EXCERPT] + "...")
        line.length = length
        return line


def _decode(part: bytes) -> str:
    if len(part) > _MAX_LINE:
        return _LongLine.of(part, len(part))
    return part.decode("utf-8", "replace")


class _Splitter:
    """Bytes in, decoded lines out (UTF-8, a leading BOM dropped, bad bytes replaced).

    Linear in its input whatever the lines: an unfinished line is kept as a list of pieces,
    joined once when it ends, and only up to :data:`_MAX_LINE` bytes; past that the rest of it
    streams by, counted but not kept, and it comes out as a :class:`_LongLine`.
    """

    __slots__ = ("_first", "_head", "_pieces", "_size")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []  # the unfinished line, while it is short enough
        self._head: bytes | None = None  # the start of an unfinished line past _MAX_LINE
        self._size = 0  # the unfinished line's length so far
        self._first = True

    def feed(self, chunk: bytes) -> list[str]:
        """The complete lines so far; an empty ``chunk`` means the end and flushes the rest."""
        if not chunk:
            lines = [self._take(b"")] if self._size else []
        else:
            parts = chunk.split(b"\n")
            rest = parts.pop()
            if parts and self._size:
                lines = [self._take(parts[0]), *map(_decode, parts[1:])]
            else:
                lines = [_decode(part) for part in parts]
            self._keep(rest)
        if self._first and lines:
            self._first = False
            if not isinstance(lines[0], _LongLine):
                lines[0] = lines[0].removeprefix("\ufeff")
        return lines

    def _keep(self, piece: bytes) -> None:
        """Add ``piece`` to the unfinished line (only its head, once it is too long)."""
        if not piece:
            return
        self._size += len(piece)
        if self._head is None:
            self._pieces.append(piece)
            if self._size > _MAX_LINE:
                self._head = b"".join(self._pieces)[:_HEAD]
                self._pieces = []

    def _take(self, piece: bytes) -> str:
        """The unfinished line, ended by ``piece``; the next one starts empty."""
        self._keep(piece)
        head, size = self._head, self._size
        line = _LongLine.of(head, size) if head is not None else _decode(b"".join(self._pieces))
        self._pieces, self._head, self._size = [], None, 0
        return line


class _Parser:
    """Lines in, :class:`_Input` s out: skips blanks and comments, reads CSV, checks IDs."""

    __slots__ = ("_column", "_started", "line", "position")

    def __init__(self) -> None:
        self.line = 0
        self.position = 0
        self._column: int | None = None
        self._started = False

    def feed(self, raw: str, *, check: bool = True) -> _Input | None:
        """The input on this line, or ``None`` for a blank, comment or header line.

        With ``check=False`` the ID is not validated (counting only). A :class:`_LongLine` is
        an input of its own, invalid, whose ID is its excerpt.
        """
        self.line += 1
        if isinstance(raw, _LongLine):
            self._started = True
            too_long = f"the line is {raw.length:,} bytes long (at most {_MAX_LINE:,})"
            return self._next(str(raw), too_long)
        text = raw.strip()
        if not text or text.startswith("#"):
            return None
        problem: str | None = None
        if not self._started:
            self._started = True
            self._column = _csv_id_column(text)
            if self._column is not None:
                return None
        if self._column is None:
            value = text
        else:
            cells = next(csv.reader([text]), [])
            if not any(cell.strip() for cell in cells):
                return None
            if self._column < len(cells):
                value = cells[self._column].strip()
            else:
                value, problem = "", "this CSV row has no 'id' column"
        if problem is None and check:
            problem = _id_problem(value)
        return self._next(value, problem)

    def _next(self, value: str, problem: str | None) -> _Input:
        item = _Input(self.position, value, self.line, problem)
        self.position += 1
        return item


def _csv_id_column(first_line: str) -> int | None:
    """The index of the ``id`` column if the first line is a CSV header, else ``None``."""
    if "," not in first_line and first_line.strip('"').lower() != "id":
        return None
    names = [cell.strip().lower() for cell in next(csv.reader([first_line]), [])]
    return names.index("id") if "id" in names else None


def _id_problem(value: str) -> str | None:
    """Why ``value`` is not an ID the client would accept, or ``None`` if it is."""
    if _ID_RE.fullmatch(value):
        return None
    if not value:
        return "empty ID"
    if not value.startswith("music.") or value == "music.":
        return "an ID must look like 'music.<id>'"
    if len(value) > 1024:
        return f"an ID is at most 1,024 characters, this one {len(value):,}"
    return "an ID holds only printable ASCII, without spaces or control characters"


class _Source(Protocol):
    """Where input lines come from."""

    async def read(self) -> tuple[list[str], bool]:
        """The next complete lines (maybe none yet) and whether the input has ended."""
        ...

    def close(self) -> None:
        """Release the file, if any."""
        ...


class _FileSource:
    """A regular file, read in the event loop (reads of a local file do not block for long)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 -- closed by close()
        self._splitter = _Splitter()

    async def read(self) -> tuple[list[str], bool]:
        chunk = self._file.read(_CHUNK)
        return self._splitter.feed(chunk), not chunk

    def close(self) -> None:
        self._file.close()


class _StreamSource:
    """Stdin or a pipe, read by a daemon thread so that waiting for data never blocks the loop.

    The thread reads the raw file descriptor (no buffered-reader lock to trip over at exit) and
    stays at most :data:`_STDIN_CHUNKS_AHEAD` chunks ahead of the consumer. Being a daemon, a
    thread still blocked on an idle terminal does not keep the process alive after Ctrl-C.
    """

    def __init__(self, fd: int, file: IO[bytes] | None = None) -> None:
        self._fd = fd
        self._file = file
        self._splitter = _Splitter()
        self._queue: asyncio.Queue[bytes | OSError] | None = None
        self._room = threading.Semaphore(_STDIN_CHUNKS_AHEAD)

    async def read(self) -> tuple[list[str], bool]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            threading.Thread(
                target=self._pump,
                args=(asyncio.get_running_loop(), self._queue),
                name="groove-async-input",
                daemon=True,
            ).start()
        chunk = await self._queue.get()  # cancelled here: nothing lost, the chunk stays queued
        self._room.release()
        if isinstance(chunk, OSError):
            raise chunk
        return self._splitter.feed(chunk), not chunk

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | OSError]) -> None:
        while True:
            self._room.acquire()
            chunk: bytes | OSError
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError as exc:
                chunk = exc
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: nobody is reading any more
                return
            if not isinstance(chunk, bytes) or not chunk:
                return

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _ListSource:
    """Lines from memory (the demo's generated library)."""

    def __init__(self, lines: Sequence[str], chunk: int = 1000) -> None:
        self._lines = lines
        self._next = 0
        self._chunk = chunk

    async def read(self) -> tuple[list[str], bool]:
        start = self._next
        self._next = min(start + self._chunk, len(self._lines))
        return list(self._lines[start : self._next]), self._next >= len(self._lines)

    def close(self) -> None:
        """Nothing to release."""


class _Inputs:
    """The inputs of a source, as an async iterator that loses nothing when cancelled."""

    def __init__(self, source: _Source) -> None:
        self._source = source
        self._parser = _Parser()
        self._lines: deque[str] = deque()
        self._ended = False

    def __aiter__(self) -> _Inputs:
        return self

    async def __anext__(self) -> _Input:
        lines, parse = self._lines, self._parser.feed
        while True:
            while not lines:
                if self._ended:
                    raise StopAsyncIteration
                more, self._ended = await self._source.read()
                lines.extend(more)
            item = parse(lines.popleft())
            if item is not None:
                return item


def _open_input(
    path: str, *, journal: bool
) -> tuple[_Source, Callable[[], tuple[int, str]] | None]:
    """The source for ``path`` and, for a regular file, a function counting and hashing it."""
    if path == "-":
        if journal:
            raise _UsageError("--journal needs an input FILE: stdin cannot be read again to resume")
        return _StreamSource(sys.stdin.fileno()), None
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise _UsageError(f"{path} is a directory, not a file of IDs")
        if stat.S_ISREG(mode):
            return _FileSource(path), lambda: _scan(path)
        if journal:
            raise _UsageError(f"--journal needs a regular input file; {path} is a pipe or device")
        file = open(path, "rb")  # noqa: SIM115 -- closed by the source
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _StreamSource(file.fileno(), file), None


def _scan(path: str) -> tuple[int, str]:
    """How many inputs a file holds (for the progress bar) and its SHA-256 (for the journal)."""
    digest = hashlib.sha256()
    splitter, parser = _Splitter(), _Parser()
    count = 0
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
                for line in splitter.feed(chunk):
                    if parser.feed(line, check=False) is not None:
                        count += 1
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in splitter.feed(b""):
        if parser.feed(line, check=False) is not None:
            count += 1
    return count, digest.hexdigest()


# -- progress -------------------------------------------------------------------------------


class _Progress:
    """The live view of an import: a tqdm bar on a terminal, plain lines otherwise, or nothing.

    Item counts come from the results (exact, one per input); POSTs, retries and throttling come
    from the client's ``on_event`` callback. Everything goes to stderr.
    """

    def __init__(self, mode: str, action: str, total: int | None) -> None:
        self.mode = mode
        self.action = action
        self.total = total
        self.resumed = 0  # finished in an earlier run: shown as done from the start
        self.done = 0
        self.fresh = 0  # answered in this run (NOT_SENT excluded): what the rate counts
        self.outcomes: Counter[str] = Counter()
        self.batches = 0
        self.retries = 0
        self.throttled = 0
        self.started = time.monotonic()
        self._bar: Any = None
        self._status: Any = None
        self._task: asyncio.Task[None] | None = None

    def event(self, event: ProgressEvent) -> None:
        """The client's ``on_event`` callback."""
        if isinstance(event, BatchStarted):
            self.batches += 1
        elif isinstance(event, RetryScheduled):
            self.retries += 1
        elif isinstance(event, Throttled):
            self.throttled += 1

    def resume(self, finished: int) -> None:
        """Count the inputs an earlier run finished (before :meth:`start`)."""
        self.resumed = finished
        self.done = finished if self.total is None else min(finished, self.total)

    def advance(self, outcome: str, *, resumed: bool = False) -> None:
        """One more input has its result (``resumed``: from the journal, counted already)."""
        if not resumed:
            self.done += 1
            if outcome != "NOT_SENT":
                self.fresh += 1
        self.outcomes[outcome] += 1

    def start(self) -> None:
        """Show the bar, or start the plain lines."""
        self.started = time.monotonic()
        if self.mode == "bar":
            from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

            self._bar = tqdm(
                total=self.total,
                initial=self.resumed,
                desc=self.action,
                unit=" IDs",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
            )
            # The counts on a status line of their own, below the bar, so neither is squeezed.
            self._status = tqdm(
                bar_format="{desc}", desc=self._counts(), position=1, file=sys.stderr
            )
        if self.mode != "off":
            self._task = asyncio.get_running_loop().create_task(self._tick(), name="progress")

    def message(self, text: str) -> None:
        """An informational line (not shown with ``--quiet``), without garbling the bar."""
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    async def _tick(self) -> None:
        interval = 0.1 if self._bar is not None else PLAIN_PROGRESS_INTERVAL
        while True:
            await asyncio.sleep(interval)
            self._show()

    def _show(self) -> None:
        if self._bar is not None:
            delta = self.done - self._bar.n
            if delta > 0:
                self._bar.update(delta)
            else:
                self._bar.refresh()
            self._status.set_description_str(self._counts())
        elif self.mode == "lines":
            print(self.line(), file=sys.stderr, flush=True)

    def _counts(self) -> str:
        o = self.outcomes
        text = (
            f"  succeeded {o['SUCCEEDED']:,} | rejected {o['REJECTED']:,} | failed {o['FAILED']:,}"
        )
        if o["NOT_SENT"]:
            text += f" | not sent {o['NOT_SENT']:,}"
        return f"{text} | retries {self.retries:,} | throttled {self.throttled:,}"

    def line(self) -> str:
        """The plain progress line."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        done = f"{self.done:,}"
        if self.total:
            done += f"/{self.total:,} ({100 * self.done / self.total:.0f}%)"
        o = self.outcomes
        return (
            f"{self.action}: {done} IDs, {self.fresh / elapsed:,.0f} IDs/s; "
            f"{o['SUCCEEDED']:,} succeeded, {o['REJECTED']:,} rejected, {o['FAILED']:,} failed, "
            f"{o['NOT_SENT']:,} not sent; {_count(self.retries, 'retry', 'retries')}, "
            f"throttled {_count(self.throttled, 'time', 'times')}"
        )

    def close(self) -> None:
        """Stop the ticker and show the final state."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self._show()
        if self._bar is not None:
            self._bar.close()
            self._status.close()
            self._bar = self._status = None


# -- the import -----------------------------------------------------------------------------


class _Slot:
    """An input waiting for its place in the output: ``text`` is its JSON line once known."""

    __slots__ = ("input", "text")

    def __init__(self, item: _Input) -> None:
        self.input = item
        self.text: str | None = None


class _JournalWriter:
    """Group commit: results are appended by a background task, one ``fsync`` per group.

    Results of one batch arrive together (the stream yields them without waiting), so a group
    is at least one batch; while one group is being synced in a thread, the next one gathers.
    """

    def __init__(self, journal: Journal, on_error: Callable[[OSError], None]) -> None:
        self._journal = journal
        self._on_error = on_error
        self._pending: list[tuple[int, str]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="journal")
        self.error: OSError | None = None

    def add(self, position: int, result: str) -> None:
        """Queue a finished result (its output line)."""
        if self.error is None:
            self._pending.append((position, result))
            self._wake.set()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            group, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._journal.append, group)
            except OSError as exc:
                self.error = exc
                self._pending.clear()
                self._on_error(exc)
                return

    async def close(self) -> None:
        """Write what is queued, then close the journal."""
        self._closing = True
        self._wake.set()
        try:
            await self._task
        finally:
            self._journal.close()


def _replaced_output(path: str) -> tuple[Path, Path] | None:
    """Where an ``--output`` file is written: its real path and the ``.part`` beside it.

    ``None`` for what is written directly: stdout (``-``), a pipe, a socket, a device. Through a
    symlink, the real path is the link's target, which is replaced and the link kept.

    Raises:
        _UsageError: ``path`` is a directory.
    """
    if path == "-":
        return None
    with contextlib.suppress(OSError):  # missing, or not reachable: a new regular file
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise _UsageError(f"cannot write {path}: it is a directory")
        if not stat.S_ISREG(mode):
            return None
    final = Path(os.path.realpath(path))
    return final, final.with_name(final.name + ".part")


class _Output:
    """The ``--output`` JSON Lines, in input order.

    A file is written to ``FILE.part`` and moved into place when complete (for a symlink, next
    to its target, which is replaced); stdout, a pipe or a device is written directly. The first
    failed write (disk full, a closed pipe) is kept in :attr:`error` and passed to ``on_error``;
    later writes do nothing, and the ``.part`` is removed, never moved over the earlier FILE.
    """

    def __init__(self, path: str, on_error: Callable[[OSError], None] | None = None) -> None:
        self.name = "stdout" if path == "-" else path
        self.error: OSError | None = None
        self._on_error = on_error
        replaced = _replaced_output(path)
        self._final: Path | None = replaced[0] if replaced is not None else None
        self._temp: Path | None = replaced[1] if replaced is not None else None
        if path == "-":
            self._file: IO[str] = sys.stdout
            return
        try:
            self._file = open(self._temp or path, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise _UsageError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write(self, line: str) -> None:
        if self.error is None:
            try:
                self._file.write(line + "\n")
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)

    def close(self, *, complete: bool = True) -> None:
        """Flush; move a complete file into place, or remove an incomplete or failed one."""
        file = self._file
        try:
            if self.error is None:
                file.flush()
                if self._temp is not None:
                    os.fsync(file.fileno())
        except OSError as exc:
            self._fail(exc)
        if file is sys.stdout:
            return
        with contextlib.suppress(OSError):  # after a failed write, closing flushes in vain
            file.close()
        if self._temp is None or self._final is None:
            return
        if complete and self.error is None:
            try:
                os.replace(self._temp, self._final)
                return
            except OSError as exc:
                self._fail(exc)
        with contextlib.suppress(OSError):
            self._temp.unlink()


def _record(result: TrackResult) -> dict[str, Any]:
    """A result as the output's (and the journal's) JSON object."""
    error = result.error
    return {
        "input_id": result.input_id,
        "id": result.id,
        "outcome": result.outcome.value,
        "error": None
        if error is None
        else {"code": error.code, "description": error.description, "message": error.message},
    }


def _made_up(
    item: _Input, outcome: str, code: str, description: str, message: str | None
) -> dict[str, Any]:
    return {
        "input_id": item.track_id,
        "id": None,
        "outcome": outcome,
        "error": {"code": code, "description": description, "message": message},
    }


class _Importer:
    """Feeds the inputs to a client stream and puts every result back in its input position.

    Inputs finished in an earlier run (the journal's) and invalid lines are answered without
    being sent; the rest go to the client, whose results come back in the order they were fed.
    """

    def __init__(
        self,
        action: str,
        inputs: _Inputs,
        *,
        source_name: str,
        finished: Mapping[int, JournalRecord],
        progress: _Progress,
        output: _Output | None,
        journal: _JournalWriter | None,
        rerunnable: bool,
        on_result: Callable[[_Input, dict[str, Any]], None] | None = None,
    ) -> None:
        self.action = action
        self.inputs = inputs
        self.source_name = source_name
        self.finished = finished
        self.progress = progress
        self.output = output
        self.journal = journal
        self.rerunnable = rerunnable
        self.on_result = on_result
        self.slots: deque[_Slot] = deque()  # input order, not yet written out
        self.waiting: deque[_Slot] = deque()  # fed to the client, awaiting results, in order
        self.counts: Counter[str] = Counter()
        self.codes: Counter[tuple[str, str]] = Counter()
        self.resumed = 0
        self.auth_error: AuthenticationError | None = None
        self.input_error: OSError | None = None

    @property
    def total(self) -> int:
        """Inputs answered so far."""
        return sum(self.counts.values())

    async def run(self, client: GrooveClient, stop: asyncio.Event) -> None:
        """Send everything (or until ``stop`` is set) and answer every input fed to the client."""
        send = client.stream_add_tracks if self.action == "add" else client.stream_delete_tracks
        stream = send(self._feed(), stop=stop)
        try:
            async for result in stream:
                self._answer(result)
        except AuthenticationError as exc:
            self.auth_error = exc
            for result in exc.partial or ():
                self._answer(result)
        except OSError as exc:  # reading the input failed; the inputs before it are answered
            self.input_error = exc
        finally:
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()

    async def finish(self, *, stopped: bool, abandoned: bool) -> None:
        """Answer what the client never answered, so every input read has its output line.

        After a stop, the rest of a file is read and answered too (NOT_SENT, or its journal
        result); stdin is not read any further.
        """
        while self.waiting:
            slot = self.waiting.popleft()
            if abandoned:
                record = _made_up(
                    slot.input,
                    "FAILED",
                    "ABANDONED",
                    "Abandoned by a second interrupt before an answer came (it may or may not "
                    "have been applied)",
                    None,
                )
            else:
                record = _made_up(slot.input, "NOT_SENT", "NOT_SENT", self._not_sent(), None)
            self._settle(slot, record)
        output_failed = self.output is not None and self.output.error is not None
        if (stopped or self.auth_error is not None) and self.rerunnable and not output_failed:
            async for item in self.inputs:
                unsent = self._admit(item)
                if unsent is not None:
                    record = _made_up(item, "NOT_SENT", "NOT_SENT", self._not_sent(), None)
                    self._settle(unsent, record)
        self._drain()

    def _not_sent(self) -> str:
        if self.auth_error is not None:
            return "Not sent: the import stopped after an authentication failure"
        if self.input_error is not None:
            return "Not sent: the import stopped after the input could not be read"
        if self.output is not None and self.output.error is not None:
            return "Not sent: the import stopped after the output could not be written"
        return "Not sent: the import was stopped"

    async def _feed(self) -> AsyncIterator[str]:
        async for item in self.inputs:
            slot = self._admit(item)
            if slot is not None:
                self.waiting.append(slot)
                yield item.track_id

    def _admit(self, item: _Input) -> _Slot | None:
        """Queue an input's slot; answer it now if it needs no sending, else return it."""
        slot = _Slot(item)
        self.slots.append(slot)
        done = self.finished.get(item.position)
        if done is not None and done.input_id == item.track_id:
            slot.text = done.result
            self.resumed += 1
            self._count(done.outcome, done.code, resumed=True)
        elif item.problem is not None:
            record = _made_up(
                item,
                "REJECTED",
                "INVALID_INPUT",
                f"Not a valid track ID: {item.problem}",
                f"line {item.line} of {self.source_name}",
            )
            self._settle(slot, record, final=True)
        else:
            return slot
        self._drain()
        return None

    def _answer(self, result: TrackResult) -> None:
        slot = self.waiting.popleft()
        if slot.input.track_id != result.input_id:  # the client's contract: input order
            raise RuntimeError(
                f"result for {result.input_id!r} arrived in the place of {slot.input.track_id!r}"
            )
        record = _record(result)
        self._settle(slot, record, final=record["outcome"] in FINISHED)
        if self.on_result is not None:
            self.on_result(slot.input, record)
        self._drain()

    def _settle(self, slot: _Slot, record: dict[str, Any], *, final: bool = False) -> None:
        slot.text = text = _encode(record)
        error = record["error"]
        self._count(record["outcome"], error["code"] if error else None)
        if final and self.journal is not None:
            self.journal.add(slot.input.position, text)

    def _count(self, outcome: str, code: str | None, *, resumed: bool = False) -> None:
        self.counts[outcome] += 1
        if outcome != "SUCCEEDED":
            self.codes[(outcome, code or "?")] += 1
        self.progress.advance(outcome, resumed=resumed)

    def _drain(self) -> None:
        slots, output = self.slots, self.output
        while slots and slots[0].text is not None:
            text = slots.popleft().text
            if output is not None and text is not None:
                output.write(text)


class _Job(NamedTuple):
    """Everything ``add`` / ``delete`` / ``demo`` need to run an import."""

    action: str
    source: _Source
    source_name: str
    total: int | None
    progress: str
    output: str | None
    client_options: Mapping[str, Any]
    journal: str | None = None
    input_sha256: str | None = None
    rerunnable: bool = True
    same_user: bool = False


class _Outcome(NamedTuple):
    """How an import ended."""

    importer: _Importer
    progress: _Progress
    elapsed: float
    signal: int | None
    journal: Journal | None
    journal_error: OSError | None
    output: _Output | None = None


def _run(job: _Job, token: str, prog: str) -> int:
    """Run an import command to its exit status (errors are printed here)."""
    try:
        ended = asyncio.run(_import(job, token))
    except KeyboardInterrupt:  # before the signal handlers were installed, or on Windows
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    summary = sys.stderr if job.output == "-" else sys.stdout
    if job.progress != "off":
        _print_summary(ended, summary)
    return _report_end(ended, prog, quiet=job.progress == "off")


async def _import(
    job: _Job,
    token: str,
    on_result: Callable[[_Input, dict[str, Any]], None] | None = None,
) -> _Outcome:
    """Run one import: open the journal and output, stream, finish, close everything."""
    progress = _Progress(job.progress, job.action, job.total)
    try:
        client = GrooveClient(token, on_event=progress.event, **job.client_options)
    except (TypeError, ValueError) as exc:
        raise _UsageError(str(exc)) from None
    stop = asyncio.Event()
    async with client:
        journal: Journal | None = None
        if job.journal is not None:
            header = JournalHeader(
                job.action, client.base_url, job.input_sha256 or "", job.source_name
            )
            try:
                journal = Journal.open(job.journal, header, token=token)
            except JournalError as exc:
                raise _UsageError(str(exc)) from None
            except OSError as exc:
                raise _UsageError(f"cannot use the journal {job.journal}: {exc}") from None
        try:
            output = _Output(job.output, lambda _: stop.set()) if job.output is not None else None
        except BaseException:
            if journal is not None:
                journal.close()
            raise
        writer = _JournalWriter(journal, lambda _: stop.set()) if journal is not None else None
        finished: Mapping[int, JournalRecord] = {}
        if journal is not None and not journal.created:
            finished = _trusted(journal, job, progress)
        importer = _Importer(
            job.action,
            _Inputs(job.source),
            source_name=job.source_name,
            finished=finished,
            progress=progress,
            output=output,
            journal=writer,
            rerunnable=job.rerunnable,
            on_result=on_result,
        )
        progress.start()
        started = time.monotonic()
        signals = _Signals(stop, progress)
        complete = False
        try:
            await signals.run(importer.run(client, stop))
            await importer.finish(stopped=stop.is_set(), abandoned=signals.abandoned)
            complete = True
        finally:
            try:
                progress.close()
                if writer is not None:
                    await writer.close()
                if output is not None:
                    output.close(complete=complete)
            finally:
                signals.remove()
        return _Outcome(
            importer,
            progress,
            time.monotonic() - started,
            signals.received,
            journal,
            writer.error if writer is not None else None,
            output,
        )


def _trusted(journal: Journal, job: _Job, progress: _Progress) -> Mapping[int, JournalRecord]:
    """The results of a resumed journal that this run keeps instead of sending them again.

    All of them when the journal was written under this token, or ``--same-user`` vouches for
    it; none (and a warning, even with ``--quiet``) when it was written under another token or
    an unknown one: another user's results say nothing of this user's collection, and sending
    again is safe (adds are idempotent; deletes are answered item by item).
    """
    count = len(journal.finished)
    repaired = " (a line torn by a crash was dropped)" if journal.repaired else ""
    if journal.token_matches or job.same_user or not count:
        progress.resume(count)
        progress.message(
            f"Resuming from {job.journal}: {count:,} IDs finished earlier will not be sent "
            f"again{repaired}."
        )
        return journal.finished
    whose = "another token" if journal.token_matches is False else "an unrecorded token"
    print(
        f"groove-async {job.action}: warning: the journal {job.journal} was written under "
        f"{whose}: its {count:,} finished IDs are sent again (if it is your own token, "
        f"refreshed, pass --same-user to skip them){repaired}.",
        file=sys.stderr,
        flush=True,
    )
    return {}


class _Signals:
    """SIGINT/SIGTERM while an import runs: the first stops it gracefully, the second abandons.

    Installed for the whole import, cleanup included, so that no signal lands as a
    ``KeyboardInterrupt`` while the journal and the output are being closed.

    Attributes:
        received: the first signal's number, else ``None``.
        abandoned: whether a second signal cancelled the import's task.
    """

    def __init__(self, stop: asyncio.Event, progress: _Progress) -> None:
        self._stop = stop
        self._progress = progress
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._installed: list[int] = []
        self.received: int | None = None
        self.abandoned = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, threads
                self._loop.add_signal_handler(signum, self._on_signal, signum)
                self._installed.append(signum)

    def _on_signal(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
            self._stop.set()
            self._progress.message(
                "Stopping: batches in flight finish, the rest is not sent "
                "(Ctrl-C again to abandon them)."
            )
        elif not self.abandoned and self._task is not None and not self._task.done():
            self.abandoned = True
            self._progress.message("Abandoning the batches in flight.")
            self._task.cancel()

    async def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task that a second signal cancels (which is not an error here)."""
        self._task = task = asyncio.create_task(work, name="import")
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self.abandoned or (current is not None and current.cancelling()):
                raise

    def remove(self) -> None:
        """Restore the default handlers."""
        for signum in self._installed:
            self._loop.remove_signal_handler(signum)
        self._installed.clear()


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
    if ended.signal is not None:
        if not quiet:
            unfinished = importer.total - importer.counts["SUCCEEDED"] - importer.counts["REJECTED"]
            again = (
                "run the same command again to resume"
                if ended.journal is not None
                else "use --journal to make an import resumable"
            )
            print(
                f"{prog}: interrupted; {unfinished:,} of the IDs read are not finished ({again})",
                file=sys.stderr,
            )
        return 128 + ended.signal
    failed = ended.journal_error is not None or output_error is not None
    if importer.total == importer.counts["SUCCEEDED"] and not failed:
        return EXIT_OK
    return EXIT_NOT_ALL_SUCCEEDED


def _print_summary(ended: _Outcome, out: IO[str], extra: Sequence[str] = ()) -> None:
    """The table printed at the end of an import."""
    importer, progress = ended.importer, ended.progress
    total = importer.total
    answered = total - importer.resumed - importer.counts["NOT_SENT"]
    rate = max(answered, 0) / max(ended.elapsed, 1e-9)
    lines = [
        f"groove-async {importer.action}: {total:,} IDs in {ended.elapsed:.2f} s "
        f"({rate:,.0f} IDs/s)",
        f"  {'outcome':<10} {'IDs':>9}  reasons",
    ]
    for outcome in ("SUCCEEDED", "REJECTED", "FAILED", "NOT_SENT"):
        reasons = sorted(
            ((n, code) for (o, code), n in importer.codes.items() if o == outcome), reverse=True
        )
        shown = ", ".join(f"{code} {n:,}" for n, code in reasons[:4])
        if len(reasons) > 4:
            shown += ", ..."
        lines.append(f"  {outcome:<10} {importer.counts[outcome]:>9,}  {shown}".rstrip())
    lines.append(f"  {'total':<10} {total:>9,}")
    if importer.resumed:
        lines.append(f"  {importer.resumed:,} of them finished in an earlier run (journal)")
    lines.append(
        f"  requests: {_count(progress.batches, 'batch', 'batches')}, "
        f"{_count(progress.retries, 'retry', 'retries')}, "
        f"throttled {_count(progress.throttled, 'time', 'times')}"
    )
    lines.extend(extra)
    with contextlib.suppress(BrokenPipeError):
        print("\n".join(lines), file=out, flush=True)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


# -- demo -----------------------------------------------------------------------------------


def _add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="import a generated library into the embedded emulator",
        description=(
            "Start the Groove emulator in this process, generate a realistic library (catalog "
            "track IDs with about 2%% unknown IDs and 5%% repeats), import it with the progress "
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
    demo.set_defaults(handler=_demo)


def _demo_library(size: int, seed: int) -> tuple[list[str], set[str]]:
    """Catalog IDs with ~2% unknown ones (random v4 GUIDs) and ~5% repeats; and the unknown."""
    rng = random.Random(seed)
    ids = [catalog_track_id(rng.getrandbits(32)) for _ in range(size)]
    unknown: set[str] = set()
    for i in rng.sample(range(size), size // 50):
        guid = (
            f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
            f"{rng.choice('89ab')}{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
        )
        ids[i] = f"music.{guid}"
        unknown.add(ids[i])
    for i in rng.sample(range(size), size // 20):
        ids[i] = ids[rng.randrange(size)]
    return ids, unknown


def _demo(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo_main(args))
    except KeyboardInterrupt:
        print("groove-async demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _demo_main(args: argparse.Namespace) -> int:
    from .testing import FakeGrooveServer, FaultPlan

    ids, unknown = _demo_library(args.size, args.seed)
    planted = sum(1 for track_id in ids if track_id in unknown)
    repeats = len(ids) - len(set(ids))
    faults = FaultPlan(latency=args.latency)
    if args.faults:
        faults = FaultPlan(
            latency=args.latency, p_429=0.02, retry_after=0.05, p_503=0.03, p_500=0.01, p_drop=0.01
        )
    unexpected: list[str] = []

    def check(item: _Input, record: dict[str, Any]) -> None:
        outcome, error = record["outcome"], record["error"]
        is_unknown = item.track_id in unknown
        expected = "REJECTED" if is_unknown else "SUCCEEDED"
        if outcome != expected or (is_unknown and error["code"] != "COLLECTION_INVALID_ID"):
            code = f" ({error['code']})" if error else ""
            unexpected.append(f"{item.track_id}: {outcome}{code}, expected {expected}")

    server = FakeGrooveServer(
        [DEFAULT_TOKEN],
        faults=faults,
        seed=args.seed,
        capacity=max(50_000, args.size),
        log_limit=None,
    )
    async with server:
        if not args.quiet:
            faulty = "; faults: 429, 503, 500, drops" if args.faults else ""
            print(
                f"Embedded Groove emulator at {server.url} "
                f"(latency {args.latency * 1000:g} ms{faulty})\n"
                f"Importing {len(ids):,} track IDs ({planted:,} unknown to the catalog, "
                f"{repeats:,} repeats), {args.concurrency} requests in flight",
                flush=True,
            )
        job = _Job(
            action="add",
            source=_ListSource(ids),
            source_name="the demo library",
            total=len(ids),
            progress=_progress_mode(quiet=args.quiet),
            output=None,
            client_options={"base_url": server.url, "max_concurrency": args.concurrency},
        )
        ended = await _import(job, DEFAULT_TOKEN, check)
        posts = [r for r in server.requests if r.method == "POST"]
        faulted = sum(1 for r in posts if r.fault is not None)
        held = len(server.collection(DEFAULT_TOKEN))
    importer = ended.importer
    ok = importer.total == len(ids) and not unexpected
    if not args.quiet:
        _print_summary(
            ended,
            sys.stdout,
            [
                f"  the emulator saw {len(posts):,} POSTs ({faulted:,} answered with an "
                f"injected fault) and now holds {held:,} tracks",
            ],
        )
    if ended.signal is not None:
        print("groove-async demo: interrupted", file=sys.stderr)
        return 128 + ended.signal
    if not ok:
        print(
            f"groove-async demo: {len(unexpected):,} unexpected results; "
            f"{importer.total:,} of {len(ids):,} inputs answered",
            file=sys.stderr,
        )
        for line in unexpected[:5]:
            print(f"  {line}", file=sys.stderr)
        return EXIT_NOT_ALL_SUCCEEDED
    if not args.quiet:
        print(
            f"Demo OK: every input got a result, and the only rejections are the "
            f"{planted:,} planted unknown IDs.",
            flush=True,
        )
    return EXIT_OK


# -- serve ----------------------------------------------------------------------------------


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
