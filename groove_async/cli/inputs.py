"""The input of ``add`` / ``delete``: sources, the line splitter, the CSV column, the ID check.

Lines are read as they are needed: a regular file in the event loop, stdin or a pipe in a daemon
thread, so that a slow producer never stalls the loop or Ctrl-C. Each non-blank, non-comment line
is one input (:class:`_Input`) with its position among the IDs; a line that is not a valid ID
carries the reason, in the command line's words, why the client's own validator
(:class:`groove_async.IdValidator`) refuses it.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import os
import stat
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, Final, NamedTuple, Protocol

from groove_async import MAX_ID_LENGTH, IdValidator

from .parser import _FileError, _UsageError

_CHUNK: Final = 1 << 16
_STDIN_CHUNKS_AHEAD: Final = 16


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


_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's, which it begins with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),  # what Windows PowerShell's `>` writes
    (codecs.BOM_UTF16_BE, "utf-16"),
)
"""The byte-order marks of the encodings read besides UTF-8 (with or without its own BOM)."""


class _Splitter:
    """Bytes in, decoded lines out (UTF-8, a leading BOM dropped, bad bytes replaced).

    A UTF-16 or UTF-32 input, told by its byte-order mark, is read too: it is decoded as it
    comes and handed on as UTF-8. Linear in its input whatever the lines: an unfinished line is
    kept as a list of pieces, joined once when it ends, and only up to :data:`_MAX_LINE` bytes;
    past that the rest of it streams by, counted but not kept, and it comes out as a
    :class:`_LongLine`.
    """

    __slots__ = ("_decoder", "_first", "_head", "_pieces", "_size", "_start")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []  # the unfinished line, while it is short enough
        self._head: bytes | None = None  # the start of an unfinished line past _MAX_LINE
        self._size = 0  # the unfinished line's length so far
        self._first = True
        self._start: bytes | None = b""  # the first bytes, until the encoding is known
        self._decoder: codecs.IncrementalDecoder | None = None  # for UTF-16 and UTF-32

    def feed(self, chunk: bytes) -> list[str]:
        """The complete lines so far; an empty ``chunk`` means the end and flushes the rest."""
        end = not chunk
        if self._start is not None:
            chunk = self._sniff(chunk, end=end)
            if not chunk and not end:
                return []  # too few bytes yet to tell the encoding
        if self._decoder is not None:
            chunk = self._decoder.decode(chunk, final=end).encode("utf-8")
        lines = self._split(chunk) if chunk else []
        if end and self._size:
            lines.append(self._take(b""))
        if self._first and lines:
            self._first = False
            if not isinstance(lines[0], _LongLine):
                lines[0] = lines[0].removeprefix("\ufeff")
        return lines

    def _sniff(self, chunk: bytes, *, end: bool) -> bytes:
        """Keep the first bytes until they tell the encoding (a BOM); then the bytes so far."""
        start = (self._start or b"") + chunk
        if len(start) < 4 and not end:
            self._start = start
            return b""
        self._start = None
        for bom, encoding in _BOMS:
            if start.startswith(bom):
                self._decoder = codecs.getincrementaldecoder(encoding)("replace")
                break
        return start

    def _split(self, chunk: bytes) -> list[str]:
        """The lines that ``chunk`` completes; its unfinished end is kept."""
        parts = chunk.split(b"\n")
        rest = parts.pop()
        if parts and self._size:
            lines = [self._take(parts[0]), *map(_decode, parts[1:])]
        else:
            lines = [_decode(part) for part in parts]
        self._keep(rest)
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


_NAMESPACE: Final = "music"
"""The namespace of the IDs: the client's default, which the command line never changes."""
_VALIDATOR: Final = IdValidator(_NAMESPACE)
"""The client's own ID check: what it accepts, the command line accepts."""
_REFUSAL_PREFIX: Final = "track ID at position 0 "
"""How the validator's message for position 0 starts; its reason follows."""


def _id_problem(value: str) -> str | None:
    """Why ``value`` is not an ID the client would accept, or ``None`` if it is.

    The client's validator decides; its reason is told in the command line's own words, which
    the output and the README quote.
    """
    try:
        _VALIDATOR.check(value, 0)
    except ValueError as exc:
        return _explain(value, str(exc).removeprefix(_REFUSAL_PREFIX))
    return None


def _explain(value: str, reason: str) -> str:
    """The command line's wording of the validator's ``reason`` for refusing ``value``."""
    # UTF-16 without a byte-order mark, read as UTF-8: every other byte of an ASCII text is NUL.
    if value and 3 * value.count("\0") >= len(value):
        return (
            "the line holds NUL characters: is the file UTF-16 without a byte-order mark? "
            "Save it as UTF-8 (or UTF-16 with its BOM)"
        )
    if reason.startswith("is empty"):
        return "empty ID"
    if reason.startswith("must look like"):
        return f"an ID must look like '{_NAMESPACE}.<id>'"
    if reason.startswith("is ") and "characters long" in reason:
        return f"an ID is at most {MAX_ID_LENGTH:,} characters, this one {len(value):,}"
    if reason.startswith("may hold only printable ASCII"):
        return "an ID holds only printable ASCII, without spaces or control characters"
    return "the ID " + reason.partition(": ")[0]  # a reason without words of our own: the client's


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
        raise _FileError(f"cannot read {path}: {exc.strerror or exc}") from None
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
        raise _FileError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in splitter.feed(b""):
        if parser.feed(line, check=False) is not None:
            count += 1
    return count, digest.hexdigest()
