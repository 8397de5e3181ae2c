"""The import journal of ``groove-async add/delete --journal``: durable, append-only progress.

A journal is a UTF-8 JSON Lines file. Its first line is a header naming what it belongs to::

    {"journal": "groove-async", "version": 2, "action": "add",
     "base_url": "https://music.xboxlive.com", "input_sha256": "9f86d0...", "input": "ids.txt",
     "token": {"kdf": "pbkdf2-sha256", "iterations": 200000, "salt": "5d1c...", "hash": "0be4..."}}

``token`` is a salted, slow one-way fingerprint of the token the journal was started with
(:class:`TokenFingerprint`): it tells a resume under another token (another user, or the same
user's refreshed token) from one under the same token, and the token cannot be recovered from
it. Version 1 journals, which have no fingerprint, are still read (their token is unknown).

Every further line is the result of one finished input position (0-based, counting the input's
IDs, not its blank or comment lines), in the order results arrived, which is not input order::

    {"p": 17, "input_id": "music.1F...", "id": "music.AQQf...", "outcome": "SUCCEEDED",
     "error": null}

Rules that make it crash-safe:

* Lines are only ever appended, a group at a time, each group written, flushed and ``fsync``'d
  before the command counts it done. A line counts once its newline is on disk.
* A crash (``kill -9``, power loss) can leave at most the last line torn; opening the journal
  again cuts that line off and carries on. An unreadable line anywhere else means the file was
  damaged by something else, and the journal is refused rather than guessed at.
* A journal only serves the input it was started for: the same ``action``, ``base_url`` and
  SHA-256 of the input's bytes. Anything else is refused with :class:`JournalError`, and a file
  that is not a journal at all is never modified.
* Only SUCCEEDED and REJECTED results are final (:data:`FINISHED`): a position whose latest line
  says FAILED or NOT_SENT is sent again on resume.
* Whose results they are is not part of the identity: a journal opened with another token is
  opened all the same, and :attr:`Journal.token_matches` says so; the caller decides.

A ``playlist create`` journal (version 3) also names the playlist in its header
(``"playlist_name"``, part of its identity) and, once the playlist is created, holds its ID on a
line of its own, written and ``fsync``'d before any track is sent to it (the latest such line
counts)::

    {"kind": "playlist", "id": "music.playlist.d7e2d6b8-8028-00fe-a58d-423bda374ad1"}

A result's ``id`` is then the playlist-entry ID. A line with a ``kind`` this module does not
know is refused as damage, like any line that is not a record.

The header and the token's fingerprint are in :mod:`groove_async.cli.journal_header`; the writer
that appends the results of a running import from a background task is in
:mod:`groove_async.cli.journal_writer`. This is pure file handling (no network, no event loop)
and knows nothing of the client: records are plain JSON objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

import attrs

from .journal_header import (
    MAGIC,
    READABLE_VERSIONS,
    VERSION,
    JournalError,
    JournalHeader,
    TokenFingerprint,
    _encode,
)

__all__ = [
    "FINISHED",
    "MAGIC",
    "OUTCOMES",
    "READABLE_VERSIONS",
    "VERSION",
    "Journal",
    "JournalError",
    "JournalHeader",
    "JournalRecord",
    "TokenFingerprint",
    "sha256_of",
]

OUTCOMES: Final = frozenset({"SUCCEEDED", "REJECTED", "FAILED", "NOT_SENT"})
"""The outcomes a record may hold."""

FINISHED: Final = frozenset({"SUCCEEDED", "REJECTED"})
"""Outcomes that are final: such positions are never sent again."""

_CHUNK: Final = 1 << 16


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes (the input's identity in the header).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@attrs.frozen(slots=True)
class JournalRecord:
    """One finished input position, as kept in memory after loading a journal.

    Attributes:
        position: the 0-based input position.
        input_id: the input as read at that position (checked against the input on resume).
        outcome: ``"SUCCEEDED"`` or ``"REJECTED"`` (only finished records are kept).
        result: the result object (``input_id``, ``id``, ``outcome``, ``error``) as JSON text,
            ready to be written as a line of the command's output.
        code: the error code for a REJECTED result, else ``None``.
        id: the result's ``id`` (a collection or playlist-entry ID), if any.
    """

    position: int
    input_id: str
    outcome: str
    result: str
    code: str | None = None
    id: str | None = None


class _PlaylistLine(NamedTuple):
    """A ``{"kind": "playlist", "id": ...}`` line: the playlist a journal fills."""

    id: str


class _Loaded:
    """What the lines after the header say: the finished positions and the playlist."""

    def __init__(self) -> None:
        self.finished: dict[int, JournalRecord] = {}
        self.playlist: str | None = None

    def keep(self, loaded: JournalRecord | _PlaylistLine | int) -> None:
        """Take one loaded line into account: the latest line of a position wins."""
        if isinstance(loaded, JournalRecord):
            self.finished[loaded.position] = loaded
        elif isinstance(loaded, _PlaylistLine):
            self.playlist = loaded.id
        else:
            self.finished.pop(loaded, None)


class Journal:
    """An open journal: what earlier runs finished, and a durable append handle.

    Open one with :meth:`open`; it holds an exclusive lock (POSIX) until :meth:`close`, so two
    commands cannot interleave lines in the same file.

    Attributes:
        path: the journal file.
        header: the header it was opened for.
        finished: input position -> :class:`JournalRecord`, for positions whose latest record
            is SUCCEEDED or REJECTED.
        repaired: True when a torn last line was found and cut off.
        created: True when this call started a new journal.
        token_matches: whether the token given to :meth:`open` is the one the journal was
            started with: True for a new journal, False for another token, ``None`` when
            unknown (no token given, or a journal without a fingerprint).
        playlist_id: the ID of the playlist a ``playlist create`` journal fills, once created.
    """

    def __init__(
        self,
        path: Path,
        header: JournalHeader,
        file: IO[bytes],
        finished: dict[int, JournalRecord],
        *,
        repaired: bool,
        created: bool,
        token_matches: bool | None = None,
        playlist_id: str | None = None,
    ) -> None:
        self.path = path
        self.header = header
        self.finished = finished
        self.repaired = repaired
        self.created = created
        self.token_matches = token_matches
        self.playlist_id = playlist_id
        self._file: IO[bytes] | None = file

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], header: JournalHeader, *, token: str | None = None
    ) -> Journal:
        """Open the journal at ``path`` for ``header``'s input, creating it if needed.

        A missing or empty file (or one holding only a torn start of this very header) becomes
        a new journal: the header is written and ``fsync``'d, and so is the directory entry.
        An existing journal is read: its header must match, a torn last line is cut off, and
        the finished positions are loaded.

        Args:
            path: the journal file.
            header: what the journal must belong to (its ``token`` is ignored).
            token: the token of this run: a new journal stores its fingerprint, an existing
                one is checked against its own (:attr:`token_matches`). Never stored itself.

        Returns:
            The open journal, ready for :meth:`append`.

        Raises:
            JournalError: the file is not a journal, belongs to another input, action or base
                URL, is damaged before its last line, or is locked by another process.
            OSError: the file cannot be read or written.
        """
        path = Path(path)
        file = open(path, "a+b")  # noqa: SIM115 -- kept open until close(); never truncates
        try:
            _lock(file, path)
            file.seek(0)
            first = file.readline()
            if not first.endswith(b"\n") and header._torn(first):
                # Missing, empty, or a crash while the header was being written.
                fingerprint = TokenFingerprint.of(token) if token is not None else None
                header = attrs.evolve(header, token=fingerprint)
                file.truncate(0)
                _write_durably(file, header.to_line())
                _sync_directory(path)
                return cls(
                    path, header, file, {}, repaired=bool(first), created=True, token_matches=True
                )
            stored = JournalHeader.from_json(_parse(first, path, 1))
            problem = stored.mismatch(header)
            if problem is not None:
                raise JournalError(
                    f"journal {path} does not belong to this command: {problem}. Use another "
                    "--journal file, or delete this one to start over"
                )
            loaded, good_end = _read_records(file, path, start=len(first))
            size = file.seek(0, os.SEEK_END)
            repaired = good_end < size
            if repaired:
                file.truncate(good_end)
                file.flush()
                os.fsync(file.fileno())
            matches = None if stored.token is None or token is None else stored.token.matches(token)
            return cls(
                path,
                stored,
                file,
                loaded.finished,
                repaired=repaired,
                created=False,
                token_matches=matches,
                playlist_id=loaded.playlist,
            )
        except BaseException:
            file.close()
            raise

    def append(self, records: Iterable[tuple[int, str]]) -> None:
        """Append results durably: one write, a flush and an ``fsync`` for the whole group.

        Args:
            records: ``(position, result)`` pairs; a result is the text of a JSON object with
                ``input_id``, ``id``, ``outcome`` and ``error`` (as written to the command's
                output), to which the position is prepended as ``"p"``.

        Raises:
            RuntimeError: the journal is closed.
            ValueError: a result is not the text of a JSON object.
            OSError: the write or the ``fsync`` failed.
        """
        if self._file is None:
            raise RuntimeError("the journal is closed")
        lines = []
        for position, result in records:
            body = result.strip()
            if not (body.startswith("{") and body.endswith("}")) or "\n" in body:
                raise ValueError("a journal result must be one JSON object on one line")
            rest = body[1:].lstrip()
            lines.append(f'{{"p": {int(position)}{", " if rest != "}" else ""}{rest}\n')
        if lines:
            _write_durably(self._file, "".join(lines).encode())

    def append_playlist(self, playlist_id: str) -> None:
        """Record durably the ID of the playlist this journal fills (:attr:`playlist_id`).

        Raises:
            RuntimeError: the journal is closed.
            OSError: the write or the ``fsync`` failed.
        """
        if self._file is None:
            raise RuntimeError("the journal is closed")
        _write_durably(
            self._file, _encode({"kind": "playlist", "id": playlist_id}).encode() + b"\n"
        )
        self.playlist_id = playlist_id

    def close(self) -> None:
        """Release the lock and close the file. Safe to call twice."""
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _parse(line: bytes, path: Path, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise JournalError(
            f"journal {path} is not a groove-async journal or is damaged (line {number} is "
            "not JSON)"
        ) from None


def _record(value: object) -> JournalRecord | _PlaylistLine | int | None:
    """A loaded line: a finished record, the position of an unfinished one, the playlist's ID,
    or None if invalid."""
    if not isinstance(value, dict):
        return None
    if "kind" in value:
        playlist_id = value.get("id")
        if value["kind"] == "playlist" and isinstance(playlist_id, str) and playlist_id:
            return _PlaylistLine(playlist_id)
        return None
    position = value.get("p")
    outcome = value.get("outcome")
    if (
        type(position) is not int
        or position < 0
        or outcome not in OUTCOMES
        or not isinstance(value.get("input_id"), str)
    ):
        return None
    if outcome not in FINISHED:
        return position
    error = value.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    result = {
        "input_id": value["input_id"],
        "id": value.get("id"),
        "outcome": outcome,
        "error": error,
    }
    entry_id = result["id"]
    return JournalRecord(
        position,
        value["input_id"],
        outcome,
        _encode(result),
        code if isinstance(code, str) else None,
        entry_id if isinstance(entry_id, str) else None,
    )


def _read_records(file: IO[bytes], path: Path, *, start: int) -> tuple[_Loaded, int]:
    """Load the records after the header; return them and where the last good line ends."""
    loaded_lines = _Loaded()
    good_end = start
    number = 1
    pending: bytes | None = None  # a line is judged once we know whether it is the last
    for line in file:
        if pending is not None:
            # Not the last line: it must be whole and valid.
            loaded = _load(pending)
            if loaded is None:
                raise JournalError(
                    f"journal {path} is damaged at line {number} (only the last line may be "
                    "torn by a crash); delete it to start over"
                )
            loaded_lines.keep(loaded)
            good_end += len(pending)
        number += 1
        pending = line
    if pending is not None:
        loaded = _load(pending)
        if loaded is not None:  # else: a torn (or garbled) last line, cut off by the caller
            loaded_lines.keep(loaded)
            good_end += len(pending)
    return loaded_lines, good_end


def _load(line: bytes) -> JournalRecord | _PlaylistLine | int | None:
    """A record line: see :func:`_record`; ``None`` when it is torn or not a record."""
    if not line.endswith(b"\n"):
        return None
    try:
        return _record(json.loads(line))
    except ValueError:
        return None


def _write_durably(file: IO[bytes], data: bytes) -> None:
    file.write(data)
    file.flush()
    os.fsync(file.fileno())


def _sync_directory(path: Path) -> None:
    """Make a new file's directory entry durable (POSIX; a no-op elsewhere)."""
    if sys.platform == "win32":
        return
    fd = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def _lock(file: IO[bytes], path: Path) -> None:
    """Take an exclusive, non-blocking lock on the journal (POSIX; a no-op elsewhere)."""
    if sys.platform == "win32":
        return
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalError(
            f"journal {path} is in use by another groove-async command; wait for it to end"
        ) from None
