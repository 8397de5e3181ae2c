"""``groove-async playlist create NAME [FILE|-]``: a playlist of the tracks of a file, in order.

The command is ``add``'s (:func:`~groove_async.cli.add_delete._run_command`: the same input,
output, progress, summary, journal and exit statuses) with a sender of its own,
:class:`_PlaylistSender`, in place of the client's bulk stream:

* the valid IDs are sent in chunks of 100, one chunk after another, through
  :meth:`GrooveClient.add_to_playlist`, which adds each track exactly once and in order; the
  playlist itself is created (:meth:`GrooveClient.create_playlist`, empty) just before the first
  chunk, so an input without a valid ID makes no playlist;
* with ``--journal``, the playlist's ID is on disk before any track is sent to it, and each
  chunk's results are on disk before the next chunk is sent; a resumed run appends to that same
  playlist, after reading it back (:mod:`~groove_async.cli.playlist_resume`), so that no track
  is added twice across a crash;
* a chunk that fails (someone else edited the playlist, a refusal, an outage, a playlist that
  could not be read back) stops the command: that chunk's results are recorded
  (:attr:`PlaylistEditError.partial`: FAILED where it was sent and its outcome is unknown, which a
  resume settles by reading the playlist back), the rest is NOT_SENT, one line says why, and the
  exit status is 1; so does a playlist that reaches the service's cap (the refused chunk
  REJECTED ``COLLECTION_PLAYLIST_FULL``);
* with ``--journal``, the playlist is created under a marker derived from the journal, so that
  a run killed between the creation and the journaling of its ID leaves nothing the resumed run
  does not find again.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Final

from groove_async import (
    PLAYLIST_CHUNK,
    PLAYLIST_FULL,
    BatchError,
    ErrorInfo,
    Outcome,
    PlaylistEditError,
    TrackResult,
)

from .add_delete import _run_command
from .importer import _Context, _Job
from .playlist_resume import _Conflict, _reconcile
from .progress import _count

"""Tracks per playlist edit: the most the service takes (spec 9.1), as the client cuts them."""


def _playlist_command(args: argparse.Namespace) -> int:
    """The handler of ``playlist`` (whose only action is ``create``)."""
    return _run_command(args, _playlist_job)


def _playlist_job(args: argparse.Namespace, job: _Job) -> _Job:
    name: str = args.name
    published: bool = args.published
    input_path = None if args.input == "-" else args.input

    def sender(context: _Context) -> _PlaylistSender:
        return _PlaylistSender(context, name, published=published, input_path=input_path)

    return job._replace(playlist=name, sender=sender)


class _PlaylistSender:
    """Sends the IDs fed to it to one playlist, chunk after chunk (see the module docstring).

    Attributes:
        halted: why it stopped on its own (one line), or ``None``.
        playlist_id: the playlist's ID once created (or read from the journal).
        chunks: the chunks sent.
    """

    def __init__(
        self, context: _Context, name: str, *, published: bool, input_path: str | None
    ) -> None:
        self._client = context.client
        self._progress = context.progress
        self._progress.requests = False  # playlist edits report no retries: not shown as 0
        self._journal = context.journal
        self._finished = context.finished
        self._name = name
        self._published = published
        self._input_path = input_path
        self._stop = asyncio.Event()
        self.halted: str | None = None
        self.playlist_id: str | None = None
        self.chunks = 0
        # The entries the playlist holds, as far as this run knows: each chunk is sent expecting
        # exactly these, so that someone else's edit between two chunks is seen, not absorbed.
        self._entries = 0

    @property
    def requests(self) -> str:
        """The summary's line: the playlist, and the chunks sent to it."""
        where = self.playlist_id or "(none created)"
        return f"  playlist {where} {self._name!r}: {_count(self.chunks, 'chunk', 'chunks')} sent"

    async def __call__(
        self, ids: AsyncIterator[str], stop: asyncio.Event
    ) -> AsyncIterator[TrackResult]:
        """Send the IDs, chunk after chunk; yield each chunk's results once it is answered."""
        self._stop = stop
        if not await self._resume():
            return
        async for chunk in _chunks(ids, stop):
            for result in await self._send(chunk):
                yield result
            if stop.is_set():
                return

    async def _resume(self) -> bool:
        """Take over the journal's playlist, recording what it holds that the journal does not
        say yet; whether to go on."""
        writer = self._journal
        playlist_id = writer.journal.playlist_id if writer is not None else None
        if writer is None or playlist_id is None:
            return True
        self.playlist_id = playlist_id
        if self._input_path is None:  # a journal needs an input file: never the case
            return True
        try:
            found = await _reconcile(self._client, playlist_id, self._finished, self._input_path)
        except _Conflict as exc:
            return self._halt(str(exc))
        except BatchError as exc:
            return self._halt(f"cannot read the playlist {playlist_id} back: {exc}")
        for record in found:
            self._finished[record.position] = record
            writer.add(record.position, record.result)
        # The playlist holds exactly the journal's successes now (reconciled above).
        self._entries = sum(r.outcome == "SUCCEEDED" for r in self._finished.values())
        if found:
            added = sum(record.outcome == "SUCCEEDED" for record in found)
            self._progress.resume(len(self._finished))
            self._progress.message(
                f"The playlist holds {added:,} tracks the journal had not recorded yet (sent "
                "when the earlier run ended): they are recorded, not sent again."
            )
        return await writer.drained()

    async def _send(self, chunk: list[str]) -> list[TrackResult]:
        """One chunk's results; none (the chunk is then NOT_SENT) if it could not be sent."""
        if self._journal is not None and not await self._journal.drained():
            return []  # the journal failed: the import is stopping
        if self._stop.is_set() or (self.playlist_id is None and not await self._create()):
            return []
        assert self.playlist_id is not None
        self.chunks += 1
        try:
            results = await self._client.add_to_playlist(
                self.playlist_id, chunk, expected_count=self._entries
            )
        except PlaylistEditError as exc:  # a conflict, a refusal, an outage, a failed read-back
            self._halt(f"stopped: {exc}")
            if exc.partial is not None and len(exc.partial) == len(chunk):
                return list(exc.partial)
            return _all(chunk, Outcome.FAILED, _CONFLICT)
        self._entries += len(results.succeeded)
        full = next((r.error for r in results if r.error and r.error.code == PLAYLIST_FULL), None)
        if full is not None:  # the service's cap: the rest would be refused the same way
            self._halt(
                f"stopped: adding to the playlist {self.playlist_id} failed: it is full: "
                f"{full.code} ({full.description or 'the playlist holds 1,000 entries'})"
            )
        return list(results)

    async def _create(self) -> bool:
        """Create the playlist (and journal its ID); whether it was.

        With a journal, the creation is named by a marker derived from the journal's header:
        a run killed after the playlist was created but before its ID reached the journal
        leaves it under ``NAME [groove-async <marker>]``, and the resumed run takes it over
        instead of making another.
        """
        marker = None if self._journal is None else _marker(self._journal.journal.header.to_line())
        try:
            made = await self._client.create_playlist(
                self._name, (), published=self._published, marker=marker
            )
        except PlaylistEditError as exc:
            where = f" {exc.playlist_id}" if exc.playlist_id else ""
            return self._halt(
                f"stopped: the playlist {self._name!r}{where} could not be created: {exc}"
            )
        self.playlist_id = made.id
        self._progress.message(f"Created the playlist {self._name!r}: {made.id}")
        return self._journal is None or await self._journal.write_playlist(made.id)

    def _halt(self, reason: str) -> bool:
        """Stop the import for ``reason``; always ``False`` (do not go on)."""
        if self.halted is None:
            self.halted = reason
        self._stop.set()
        return False


async def _chunks(ids: AsyncIterator[str], stop: asyncio.Event) -> AsyncIterator[list[str]]:
    """The IDs in chunks of :data:`~groove_async.PLAYLIST_CHUNK` (the last one shorter), until
    ``stop`` is set."""
    chunk: list[str] = []
    while (track_id := await _next(ids, stop)) is not None:
        chunk.append(track_id)
        if len(chunk) == PLAYLIST_CHUNK:
            yield chunk
            chunk = []
    if chunk and not stop.is_set():
        yield chunk


async def _next(ids: AsyncIterator[str], stop: asyncio.Event) -> str | None:
    """The next ID, or ``None`` at the end of the input or once ``stop`` is set (a slow stdin
    does not hold up Ctrl-C)."""
    if stop.is_set():
        return None
    reading: asyncio.Future[str | None] = asyncio.ensure_future(anext(ids, None))
    stopping: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((reading, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not reading.done():
            reading.cancel()  # the inputs lose nothing: what was not fed is read again
            await asyncio.wait({reading})
    if reading.cancelled():
        return None
    return reading.result()


_CONFLICT: Final = ErrorInfo(
    "CONCURRENT_EDIT", "Sent, but the playlist was edited by someone else: outcome unknown"
)


def _all(chunk: list[str], outcome: Outcome, error: ErrorInfo) -> list[TrackResult]:
    return [TrackResult(track_id, None, error, outcome) for track_id in chunk]


def _marker(header: bytes) -> str:
    """The marker of a journal's playlist creation: the same for every run of that journal."""
    return hashlib.sha256(b"playlist-marker\0" + header).hexdigest()[:12]
