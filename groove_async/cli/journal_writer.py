"""Appending to the journal while an import runs: group commit from a background task.

The results of one batch (or one playlist chunk) arrive together, so a group is at least one
batch; while one group is being ``fsync``'d in a thread, the next one gathers. The first failed
write stops the writer and is reported once (``on_error``); the import is then stopped by its
caller. :mod:`groove_async.cli.journal` holds the file format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .journal import Journal


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
        self._idle = asyncio.Event()  # set while nothing is queued or being written
        self._idle.set()
        self._closing = False
        self._writing = asyncio.Lock()  # one write at a time: groups and the playlist's line
        self._task = asyncio.get_running_loop().create_task(self._run(), name="journal")
        self.error: OSError | None = None

    @property
    def journal(self) -> Journal:
        """The journal written to."""
        return self._journal

    def add(self, position: int, result: str) -> None:
        """Queue a finished result (its output line)."""
        if self.error is None:
            self._pending.append((position, result))
            self._idle.clear()
            self._wake.set()

    async def drained(self) -> bool:
        """Wait until everything queued so far is on disk; whether it was written (no error)."""
        if self._task.done():
            return self.error is None and not self._pending
        idle = asyncio.ensure_future(self._idle.wait())
        await asyncio.wait({idle, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not idle.done():
            idle.cancel()
        return self.error is None

    async def write_playlist(self, playlist_id: str) -> bool:
        """Record the playlist's ID durably, after what is queued; whether it was written."""
        if not await self.drained():
            return False
        try:
            async with self._writing:
                await asyncio.to_thread(self._journal.append_playlist, playlist_id)
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            group, self._pending = self._pending, []
            try:
                async with self._writing:
                    await asyncio.to_thread(self._journal.append, group)
            except OSError as exc:
                self._fail(exc)
                return

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
            self._pending.clear()
            self._on_error(exc)

    async def close(self) -> None:
        """Write what is queued, then close the journal."""
        self._closing = True
        self._wake.set()
        try:
            await self._task
        finally:
            self._journal.close()
