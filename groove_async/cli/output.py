"""The ``--output`` writer: one JSON line per input, in input order.

A regular file is written to ``FILE.part`` and renamed over FILE when complete (through a symlink,
next to its target, which is replaced and the link kept); stdout, a pipe, a socket or a device is
written directly. A failed write (disk full, a closed pipe) stops the import, and an earlier FILE
is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from .parser import _FileError, _stdout_gone, _UsageError

PART: Final = ".part"
"""The suffix of the file an output is written to before it is renamed into place."""


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
    return final, final.with_name(final.name + PART)


def _written_paths(path: str) -> list[Path]:
    """Every path an ``--output`` of ``path`` writes, resolved: the file it replaces and the
    ``.part`` beside it, or the file itself when it is written directly (a pipe, a device).

    Raises:
        _UsageError: ``path`` is a directory.
    """
    replaced = _replaced_output(path)
    return list(replaced) if replaced is not None else [Path(os.path.realpath(path))]


class _Output:
    """The ``--output`` JSON Lines, in input order.

    A file is written to ``FILE.part`` and moved into place when complete (for a symlink, next
    to its target, which is replaced); stdout, a pipe or a device is written directly. The first
    failed write (disk full, a closed pipe) is kept in :attr:`error` and passed to ``on_error``;
    later writes do nothing, and the ``.part`` is removed, never moved over the earlier FILE.

    Attributes:
        reader_gone: stdout's reader went away (a broken pipe: ``| head``): the command stops
            quietly, without an error line or a summary.
    """

    def __init__(self, path: str, on_error: Callable[[OSError], None] | None = None) -> None:
        self.name = "stdout" if path == "-" else path
        self.error: OSError | None = None
        self.reader_gone = False
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
            raise _FileError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write(self, line: str) -> None:
        if self.error is None:
            try:
                self._file.write(line + "\n")
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
            if self._file is sys.stdout and isinstance(exc, BrokenPipeError):
                self.reader_gone = True
                _stdout_gone()
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
