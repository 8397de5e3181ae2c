"""``groove-async export``: the library read back, as the input of ``add`` for another account.

The library's tracks go out in the order they were added (``iter_collection_tracks``), one
catalog ID per line (``--format ids``) or one JSON object per track (``--format jsonl``:
``{"id", "catalog_id", "name"}``). A track whose catalog ID cannot be recovered from its link
is left out of the ``ids`` format (and counted in a warning: the copy is not complete, exit
status 1) and kept with ``"catalog_id": null`` in ``jsonl``.

``--playlists DIR`` writes each playlist to a file of DIR in playlist order, in the same format,
named after the playlist (:mod:`~groove_async.cli.export_files`), and ``DIR/index.jsonl``, one
line per file, oldest playlist first: the order to create them in. With ``--playlists`` the
library is written only where ``--output`` says.

Every file is written to ``FILE.part`` and renamed when complete
(:class:`~groove_async.cli.output._Output`), so a failed or interrupted export never leaves a
truncated file under the final name. The first SIGINT or SIGTERM cancels the export.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from groove_async import AuthenticationError, BatchError, GrooveClient, LibraryTrack

from .add_delete import _client_options, _resolve_token, _same_file
from .export_files import INDEX, _file_names, _index_line, _key, _track_line
from .output import _Output, _replaced_output, _written_paths
from .parser import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SUCCEEDED,
    EXIT_OK,
    EXIT_USAGE,
    _FileError,
    _in_cli_terms,
    _report_usage_error,
    _UsageError,
)
from .progress import _count, _Progress, _progress_mode
from .signals import _CancelOnSignal, _stopped_by

_PROG: Final = "groove-async export"


class _WriteFailed(Exception):
    """A file could not be written: the export stops.

    Attributes:
        reader_gone: the file was stdout, whose reader went away (``| head``): the export ends
            quietly.
    """

    def __init__(self, message: str, *, reader_gone: bool = False) -> None:
        super().__init__(message)
        self.reader_gone = reader_gone


class _ExportProgress(_Progress):
    """The tracks read so far: a tqdm bar without a total on a terminal, else plain lines."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode, "export", None)
        self.playlists = 0

    def track(self) -> None:
        """One more track (or playlist entry) read."""
        self.advance("SUCCEEDED")

    def _counts(self) -> str:
        return f"  tracks and entries read {self.done:,} | playlists {self.playlists:,}"

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"export: {self.done:,} tracks and entries read, {self.done / elapsed:,.0f}/s; "
            f"{_count(self.playlists, 'playlist', 'playlists')} written"
        )


class _Export:
    """One export: what to write where, and what was written."""

    def __init__(self, args: argparse.Namespace, progress: _ExportProgress) -> None:
        self.form: str = args.format
        self.directory: Path | None = Path(args.playlists) if args.playlists else None
        self.output: str | None = args.output
        if self.output is None and self.directory is None:
            self.output = "-"
        self.progress = progress
        self.tracks = 0
        self.entries = 0
        self.skipped = 0

    async def run(self, client: GrooveClient) -> None:
        """Write the library (if asked) and the playlists (if asked)."""
        if self.output is not None:
            with _Writing(self.output, usage=True) as out:
                self.tracks = await self._write(client.iter_collection_tracks(), out)
        if self.directory is not None:
            await self._playlists(client, self.directory)

    async def _write(self, tracks: AsyncIterator[LibraryTrack], out: _Writing) -> int:
        """Write ``tracks``, one line each; how many there were."""
        count = 0
        async for track in tracks:
            count += 1
            line = _track_line(track, self.form)
            if line is None:
                self.skipped += 1
            else:
                out.write(line)
            self.progress.track()
        return count

    async def _playlists(self, client: GrooveClient, directory: Path) -> None:
        playlists = [playlist async for playlist in client.iter_playlists()]
        playlists.reverse()  # oldest first: the order to create them in again
        suffix = ".txt" if self.form == "ids" else ".jsonl"
        files = _file_names([p.name for p in playlists], suffix, self._taken(directory))
        index: list[str] = []
        for playlist, file in zip(playlists, files, strict=True):
            with _Writing(str(directory / file)) as out:
                count = await self._write(client.iter_playlist_tracks(playlist.id), out)
            self.entries += count
            self.progress.playlists += 1
            index.append(
                _index_line(
                    file=file,
                    name=playlist.name,
                    id=playlist.id,
                    track_count=count,
                    is_published=playlist.is_published,
                )
            )
        with _Writing(str(directory / INDEX)) as out:
            for line in index:
                out.write(line)

    def _taken(self, directory: Path) -> list[str]:
        """The names in ``directory`` no playlist's file may have: those through which the
        library's output was written (its name, its target's, their ``.part``, a link to it)."""
        if self.output is None or self.output == "-":
            return []
        return _names_reaching(self.output, directory)

    def summary(self, elapsed: float) -> str:
        parts = []
        if self.output is not None:
            where = "stdout" if self.output == "-" else self.output
            parts.append(f"{_count(self.tracks, 'track', 'tracks')} to {where}")
        if self.directory is not None:
            playlists = _count(self.progress.playlists, "playlist", "playlists")
            entries = _count(self.entries, "entry", "entries")
            parts.append(f"{playlists} ({entries}) to {self.directory}")
        return f"{_PROG}: {', '.join(parts)} in {elapsed:.2f} s"


class _Writing:
    """An output file for the length of a ``with``: complete (renamed into place) only when the
    block ends without an exception; a failed write raises :class:`_WriteFailed`.

    A file that cannot be opened is a :class:`_UsageError` (exit status 2) for ``--output``,
    opened before anything is read, and a :class:`_WriteFailed` for a playlist's file.
    """

    def __init__(self, path: str, *, usage: bool = False) -> None:
        try:
            self._output = _Output(path)
        except _UsageError as exc:
            if usage:
                raise
            raise _WriteFailed(str(exc)) from None

    def write(self, line: str) -> None:
        self._output.write(line)
        if self._output.error is not None:
            raise _WriteFailed(self._failure(), reader_gone=self._output.reader_gone)

    def _failure(self) -> str:
        error = self._output.error
        return f"cannot write {self._output.name}: {getattr(error, 'strerror', None) or error}"

    def __enter__(self) -> _Writing:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self._output.close(complete=kind is None)
        if kind is None and self._output.error is not None:
            raise _WriteFailed(self._failure(), reader_gone=self._output.reader_gone)


def _export(args: argparse.Namespace) -> int:
    """The handler of ``export``."""
    try:
        token = _resolve_token(args)
        _check_paths(args.output, args.playlists)
    except _UsageError as exc:
        return _report_usage_error(_PROG, exc)
    try:
        return asyncio.run(_export_main(args, token))
    except KeyboardInterrupt:  # before the signal handlers were installed, or on Windows
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _UsageError as exc:
        return _report_usage_error(_PROG, exc)


def _check_paths(output: str | None, playlists: str | None) -> None:
    """Refuse an ``--output`` that is a directory, a ``--playlists`` that is not one, and two
    outputs that collide (exit 2), before anything is written; make the directory."""
    if output is not None:
        _replaced_output(output)  # raises for a directory
    if playlists is None:
        return
    directory = Path(playlists)
    if output is not None and output != "-":
        _check_apart(output, directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise _UsageError(f"--playlists {playlists} is not a directory") from None
    except OSError as exc:
        raise _FileError(f"cannot make the directory {playlists}: {exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise _FileError(f"cannot write in the directory {playlists}")


def _check_apart(output: str, directory: Path) -> None:
    """Refuse an ``--output`` that is the ``--playlists`` directory, or that the index would
    overwrite (``DIR/index.jsonl`` or its ``.part``, however spelled: relative, through a
    symlink, in another case) or the other way round.

    The playlists' own files cannot collide: their names avoid the output's (:meth:`_taken`).
    """
    if _same_file(Path(output), directory):
        raise _UsageError(f"--output and --playlists are the same path: {directory}")
    index = directory / INDEX
    # One file where case does not count, as the playlists' file names are (export_files).
    ours = {(path.parent, _key(path.name)) for path in _written_paths(output)}
    if any((path.parent, _key(path.name)) in ours for path in _written_paths(str(index))):
        raise _UsageError(
            f"--output {output} and the index of --playlists ({index}) are the same file: "
            "give --output another name"
        )


def _names_reaching(output: str, directory: Path) -> list[str]:
    """The names of ``directory`` through which ``output`` is written: the output's own name
    and its target's (when in ``directory``), their ``.part``, and any symlink to them."""
    written = _written_paths(output)
    real = os.path.realpath(directory)
    names = [p.name for p in written if os.path.realpath(p.parent) == real]
    link = Path(output)
    if os.path.realpath(link.parent) == real:
        names.append(link.name)
    targets = {str(p) for p in written}
    # A new directory has nothing in it yet.
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        names += [e.name for e in entries if os.path.realpath(e.path) in targets]
    return names


async def _export_main(args: argparse.Namespace, token: str) -> int:
    progress = _ExportProgress(_progress_mode(quiet=args.quiet))
    try:
        client = GrooveClient(token, **_client_options(args))
    except (TypeError, ValueError) as exc:
        raise _UsageError(_in_cli_terms(str(exc), "--base-url")) from None
    export = _Export(args, progress)
    signals = _CancelOnSignal()
    started = time.monotonic()
    async with client:
        progress.start()
        try:
            error = await signals.run(_run(export, client))
        finally:
            progress.close()
    if signals.received is not None:
        print(f"{_PROG}: {_stopped_by(signals.received)}", file=sys.stderr)
        return 128 + signals.received
    return _report(export, error, time.monotonic() - started, quiet=args.quiet)


async def _run(export: _Export, client: GrooveClient) -> tuple[int, str] | None:
    """Run the export; the exit status and the line saying why it failed, if it did."""
    try:
        await export.run(client)
    except AuthenticationError as exc:
        return EXIT_USAGE, f"authentication failed: {exc}"
    except BatchError as exc:
        return EXIT_NOT_ALL_SUCCEEDED, f"cannot read the library: {exc}"
    except _WriteFailed as exc:
        return EXIT_NOT_ALL_SUCCEEDED, "" if exc.reader_gone else str(exc)
    return None


def _report(export: _Export, error: tuple[int, str] | None, elapsed: float, *, quiet: bool) -> int:
    """Print the summary (or the error) and the warning; the exit status."""
    if error is not None:
        if error[1]:  # nothing to say when the reader of stdout went away
            print(f"{_PROG}: error: {error[1]}", file=sys.stderr)
        return error[0]
    if not quiet:
        out = sys.stderr if export.output == "-" else sys.stdout
        print(export.summary(elapsed), file=out, flush=True)
    if export.skipped:
        print(
            f"{_PROG}: warning: {_count(export.skipped, 'track', 'tracks')} left out: no "
            "catalog ID in the link (--format jsonl keeps them, with a null catalog_id)",
            file=sys.stderr,
        )
        return EXIT_NOT_ALL_SUCCEEDED
    return EXIT_OK
