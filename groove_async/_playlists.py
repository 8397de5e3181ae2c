"""Playlist edits, each track exactly once and in order (spec 9.1).

A playlist Add appends a new entry every time (no idempotency), so the batcher's habits (chunks
sent concurrently, blind retries) would interleave and duplicate. Here:

* the chunks of one playlist go one after another (a lock per playlist); different playlists
  proceed concurrently;
* every edit carries the collection's ``CollectionStateToken``, read just before: an edit that
  would land on a collection changed meanwhile gets 409 and applies nothing, so a resend can
  never apply twice, even if an earlier attempt is committed late;
* after an attempt whose outcome is unknown (5xx, timeout, dropped connection, unreadable
  answer) nothing is resent blindly: the playlist is read back and, if the chunk is there, its
  entries are taken as the answer; if not, it is sent again under a fresh token;
* the playlist's entry count is checked before every chunk: someone else editing the same
  playlist meanwhile raises :class:`~groove_async.PlaylistConflictError`, never papered over.

Creating is made exactly-once the same way, with a name no other playlist has (the caller's name
and a random marker) until the creation is confirmed, then the caller's name.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from typing import Final

from ._calls import Caller, OutcomeUnknown
from ._errors import DecodeError, HTTPStatusError, PlaylistConflictError
from ._ids import normalise_id
from ._library import LibraryReader
from ._library_wire import EditResult, edit_playlist_id, playlist_action, read_edit
from ._models import BulkResult, Columns, ErrorInfo, LibraryTrack, Outcome, PlaylistResult
from ._retry import RetryPolicy

__all__ = ["MAX_PLAYLIST_NAME_LENGTH", "PLAYLIST_CHUNK", "PlaylistEditor"]

#: The most track actions per edit (spec 9.1).
PLAYLIST_CHUNK: Final = 100
#: A playlist name's length limit (spec 9.1).
MAX_PLAYLIST_NAME_LENGTH: Final = 256

_CONCURRENT_UPDATE: Final = 409
#: What :meth:`PlaylistEditor._guarded` says of an edit whose outcome is unknown.
_OUTCOME_UNKNOWN: Final = object()
#: A bound on the rounds of one step whatever the clock says (a test policy does not wait).
_MAX_ROUNDS: Final = 10_000
_LOST: Final = ErrorInfo(
    "NOT_ADDED",
    "The edit was applied without this track; the service's reason was lost with its answer",
)


class PlaylistEditor:
    """Creates, appends to and deletes playlists for one client (see the module docstring)."""

    def __init__(
        self, caller: Caller, reader: LibraryReader, namespace: str, policy: RetryPolicy
    ) -> None:
        self._caller = caller
        self._reader = reader
        self._namespace = namespace
        self._policy = policy
        self._locks: dict[str, asyncio.Lock] = {}

    def _path(self, action: str) -> str:
        return f"/1/content/{self._namespace}/collection/playlists/{action}"

    # -- create -----------------------------------------------------------------------------------

    async def create(self, name: str, track_ids: list[str], *, published: bool) -> PlaylistResult:
        """A new playlist named ``name`` holding ``track_ids`` in order, each once."""
        marker = f" [groove-async {secrets.token_hex(4)}]"
        provisional = name[: MAX_PLAYLIST_NAME_LENGTH - len(marker)] + marker
        playlist_id = await self._create_once(provisional, published)
        await self._rename(playlist_id, name)
        tracks = await self.append(playlist_id, track_ids, expected=0)
        return PlaylistResult(playlist_id, name, tracks)

    async def _create_once(self, provisional: str, published: bool) -> str:
        """Create the playlist once: after an unknown outcome, the state is read (token first),
        then searched for the provisional name, and only then is the create sent again, under
        that token; a late commit of an earlier attempt makes the resend a 409, and the next
        search finds it."""
        started = time.monotonic()
        unknown = False
        for round_ in self._rounds():
            token = (await self._reader.profile()).token
            if unknown and (found := await self._find(provisional)) is not None:
                return found
            body = playlist_action(name=provisional, published=published, state_token=token)
            answer = await self._guarded("create", body)
            if isinstance(answer, EditResult):
                return edit_playlist_id(self._namespace, answer.id)
            unknown = unknown or answer is _OUTCOME_UNKNOWN
            await self._pause(round_, started)
        raise PlaylistConflictError(
            "the collection kept changing: the playlist could not be created"
        )

    async def _find(self, name: str) -> str | None:
        async for playlist in self._reader.playlists():
            if playlist.name == name:
                return edit_playlist_id(self._namespace, playlist.id)
        return None

    async def _rename(self, playlist_id: str, name: str) -> None:
        """Give the playlist its name: setting a name twice is harmless, so a lost answer is
        simply sent again (up to ``RetryPolicy.attempts`` times, then its cause is raised)."""
        await self._idempotent(playlist_action(playlist_id=playlist_id, name=name), "update")

    async def _idempotent(self, body: bytes, action: str, *, gone_is_done: bool = False) -> None:
        unknown: OutcomeUnknown | None = None
        for _ in range(self._policy.attempts):
            try:
                await self._caller.post(self._path(action), body)
                return
            except OutcomeUnknown as exc:
                unknown = exc
            except HTTPStatusError as exc:
                # A delete retried after a lost answer may find the playlist gone: done.
                if gone_is_done and unknown is not None and exc.status == 404:
                    return
                raise
        assert unknown is not None
        raise unknown.cause

    # -- append -----------------------------------------------------------------------------------

    async def append(
        self, playlist_id: str, track_ids: list[str], *, expected: int | None = None
    ) -> BulkResult:
        """Append ``track_ids`` in order, each exactly once; one result per input.

        Raises:
            PlaylistConflictError: someone else edited the playlist meanwhile; ``partial``
                holds the results so far (the rest NOT_SENT, or FAILED where unknown).
        """
        playlist_id = edit_playlist_id(self._namespace, playlist_id)
        lock = self._locks.setdefault(playlist_id, asyncio.Lock())
        async with lock:
            results = Columns()
            count = expected
            if count is None:
                count = (await self._reader.lookup(playlist_id))[0].track_count
            for start in range(0, len(track_ids), PLAYLIST_CHUNK):
                chunk = track_ids[start : start + PLAYLIST_CHUNK]
                try:
                    columns, count = await self._append_chunk(playlist_id, chunk, count)
                except PlaylistConflictError as exc:
                    exc.partial = _with_rest(results, track_ids, start, exc)
                    raise
                results.extend(columns)
            return results.build()

    async def _append_chunk(
        self, playlist_id: str, chunk: list[str], count: int
    ) -> tuple[Columns, int]:
        """Append one chunk exactly once. Each round reads the playlist first: before anything
        was sent, another count is someone else's edit; after an attempt whose outcome is
        unknown, a grown count is read back and matched against the chunk (it may be ours,
        committed late), an unchanged one means nothing was applied: the chunk is sent again
        under the token just read."""
        started = time.monotonic()
        unknown = False
        for round_ in self._rounds():
            playlist, token = await self._reader.lookup(playlist_id)
            now = playlist.track_count
            if now != count:
                if not unknown:
                    raise _conflict(playlist_id, count, now, sent=False)
                return await self._held(playlist_id, chunk, count, now)
            body = playlist_action(playlist_id=playlist_id, state_token=token, adds=chunk)
            answer = await self._guarded("update", body, chunk)
            if isinstance(answer, EditResult):
                try:
                    return _answered(chunk, answer, count)
                except DecodeError:  # a 200 that does not answer every action: read it back
                    answer = _OUTCOME_UNKNOWN
            unknown = unknown or answer is _OUTCOME_UNKNOWN
            await self._pause(round_, started)
        raise PlaylistConflictError(
            f"the collection kept changing: could not append to {playlist_id}",
            chunk_sent=unknown,
        )

    async def _held(
        self, playlist_id: str, chunk: list[str], count: int, now: int
    ) -> tuple[Columns, int]:
        """The chunk's results read back from the entries past ``count``; a conflict when they
        are not the chunk's tracks in order (someone else edited the playlist)."""
        if now < count:
            raise _conflict(playlist_id, count, now, sent=True)
        entries = await self._reader.entries(playlist_id, count, now)
        columns = _matched(chunk, entries)
        if columns is None:
            raise _conflict(playlist_id, count, now, sent=True)
        return columns, now

    async def _guarded(
        self, action: str, body: bytes, adds: Sequence[str] = ()
    ) -> EditResult | object | None:
        """One edit carrying a state token: its answer; ``None`` when refused as concurrent (a
        409: nothing applied); :data:`_OUTCOME_UNKNOWN` when it may or may not have been
        applied."""
        try:
            answer = await self._caller.post(self._path(action), body)
            return read_edit(answer, adds, self._caller.auth.redact)
        except (OutcomeUnknown, DecodeError):  # an unreadable 200 leaves it unknown too
            return _OUTCOME_UNKNOWN
        except HTTPStatusError as exc:
            if exc.status != _CONCURRENT_UPDATE:
                raise
            return None

    # -- delete -----------------------------------------------------------------------------------

    async def delete(self, playlist_id: str) -> None:
        """Delete a playlist; a delete retried after a lost answer that finds it gone is done.

        Raises:
            HTTPStatusError: a refusal (404: no such playlist).
            BatchError: every attempt's outcome was unknown (its last cause).
        """
        body = playlist_action(playlist_id=edit_playlist_id(self._namespace, playlist_id))
        await self._idempotent(body, "delete", gone_is_done=True)

    def _rounds(self) -> range:
        """Rounds of one step: a collection that keeps changing (a 409 for every edit while
        others write to it) is waited out up to ``RetryPolicy.timeout``, not a fixed count."""
        return range(1, _MAX_ROUNDS + 1)

    async def _pause(self, round_: int, started: float) -> None:
        if time.monotonic() - started > self._policy.timeout:
            raise PlaylistConflictError(
                f"the collection kept changing for {self._policy.timeout:g}s: giving up"
            )
        if self._policy.wait:
            await asyncio.sleep(self._policy.backoff(min(round_, 8)))
        else:
            await asyncio.sleep(0)  # let the writers we race with go on


def _answered(chunk: list[str], answer: EditResult, count: int) -> tuple[Columns, int]:
    if len(answer.actions) != len(chunk):
        # A 200 that does not answer every action: what it applied is read back instead.
        raise DecodeError(f"{len(answer.actions)} results for {len(chunk)} track actions")
    columns = Columns(chunk, [], [], {})
    assert columns.outcomes is not None
    for i, (entry, error) in enumerate(answer.actions):
        columns.ids.append(entry)
        columns.outcomes.append(Outcome.REJECTED if error is not None else Outcome.SUCCEEDED)
        if error is not None:
            columns.errors[i] = error
    added = sum(1 for entry, error in answer.actions if error is None)
    if columns.errors == {}:
        columns.outcomes = None
    return columns, count + added


def _matched(chunk: Sequence[str], entries: list[LibraryTrack]) -> Columns | None:
    """The chunk's results from the entries it left (its IDs in order, some perhaps refused),
    or ``None`` when the entries are not such a subsequence of the chunk."""
    columns = Columns(list(chunk), [None] * len(chunk), [Outcome.REJECTED] * len(chunk), {})
    assert columns.outcomes is not None
    position = 0
    for entry in entries:
        while position < len(chunk) and normalise_id(chunk[position]) != entry.catalog_id:
            position += 1
        if position == len(chunk):
            return None
        columns.ids[position] = entry.id
        columns.outcomes[position] = Outcome.SUCCEEDED
        position += 1
    columns.errors = {i: _LOST for i, o in enumerate(columns.outcomes) if o is Outcome.REJECTED}
    return columns


def _conflict(playlist_id: str, expected: int, found: int, *, sent: bool) -> PlaylistConflictError:
    return PlaylistConflictError(
        f"the playlist {playlist_id} was edited by someone else: it holds {found} entries where "
        f"{expected} were expected",
        chunk_sent=sent,
    )


def _with_rest(
    done: Columns, track_ids: list[str], start: int, exc: PlaylistConflictError
) -> BulkResult:
    rest = track_ids[start:]
    chunk = rest[:PLAYLIST_CHUNK]
    if exc.chunk_sent:  # the chunk went out and what became of it is unknown
        done.extend(Columns.uniform(chunk, Outcome.FAILED, _UNKNOWN))
        rest = rest[PLAYLIST_CHUNK:]
    done.extend(Columns.uniform(rest, Outcome.NOT_SENT, _NOT_SENT))
    return done.build()


_UNKNOWN: Final = ErrorInfo(
    "CONCURRENT_EDIT", "Sent, but the playlist was edited by someone else: outcome unknown"
)
_NOT_SENT: Final = ErrorInfo(
    "NOT_SENT", "Not sent: the playlist was edited by someone else during the import"
)
