"""Playlist edits, each track exactly once and in order (spec 9.1): the driver.

The decisions are state machines without I/O (:mod:`groove_async._playlist_steps` for a chunk's
append, :mod:`groove_async._edit_steps` for create, rename and delete); this module executes
their steps through the client's one send path (:class:`~groove_async._calls.Caller` and the
:class:`~groove_async._library.LibraryReader`), reports what it observed back, and waits only
through :meth:`Caller.wait <groove_async._calls.Caller.wait>`. It has no retry loop of its own.

* The chunks of one playlist go one after another (a lock per playlist, keyed by its
  normalised ID); different playlists proceed concurrently.
* A playlist is created under a provisional name (the caller's name and a marker) until the
  creation is confirmed, then renamed: a lost answer cannot make two playlists, and a caller
  who journals the marker finds the playlist again after a crash (``marker=``).
* Every failure once the playlist exists raises :class:`~groove_async.PlaylistEditError` (or
  its :class:`~groove_async.PlaylistConflictError`) naming the playlist, with one result per
  track.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Literal

import attrs

from ._calls import Caller, OutcomeUnknown
from ._edit_steps import (
    Created,
    CreateSteps,
    Done,
    Find,
    Read,
    ReadTail,
    ResendSteps,
    Send,
    Step,
    Stop,
    StopKind,
)
from ._errors import (
    AuthenticationError,
    BatchError,
    HTTPStatusError,
    PlaylistConflictError,
    PlaylistEditError,
)
from ._ids import normalise_id
from ._library import LibraryReader
from ._library_wire import EditResult, edit_playlist_id, playlist_action, read_edit
from ._models import BulkResult, Columns, ErrorInfo, Outcome, PlaylistResult
from ._playlist_steps import PLAYLIST_FULL, ChunkSteps, settle
from ._retry import RetryPolicy
from ._routes import playlist_edit_path

__all__ = [
    "MAX_PLAYLIST_NAME_LENGTH",
    "PLAYLIST_CHUNK",
    "PLAYLIST_FULL",
    "PlaylistEditor",
    "check_marker",
    "provisional_name",
]

EditAction = Literal["create", "update", "delete"]

#: The most track actions per edit (spec 9.1).
PLAYLIST_CHUNK: Final = 100
#: A playlist name's length limit (spec 9.1).
MAX_PLAYLIST_NAME_LENGTH: Final = 256
_MARKER: Final = re.compile(r"[0-9a-z]{1,32}")


def provisional_name(name: str, marker: str) -> str:
    """The name a playlist carries until its creation is confirmed: ``name`` (cut to fit) and
    `` [groove-async <marker>]``."""
    suffix = f" [groove-async {marker}]"
    return name[: MAX_PLAYLIST_NAME_LENGTH - len(suffix)] + suffix


def check_marker(marker: object) -> None:
    """A caller's marker: 1 to 32 lower-case letters and digits."""
    if not isinstance(marker, str) or not _MARKER.fullmatch(marker):
        raise ValueError(f"marker must be 1 to 32 lower-case letters and digits, got {marker!r}")


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

    # -- create -----------------------------------------------------------------------------------

    async def create(
        self, name: str, track_ids: list[str], *, published: bool, marker: str | None = None
    ) -> PlaylistResult:
        """A new playlist named ``name`` holding ``track_ids`` in order, each once.

        With a caller's ``marker``, a playlist left under that marker's provisional name (a
        crash between its creation and its rename) is taken over instead of making another.
        """
        adopt = marker is not None
        try:
            playlist_id = await self._created(name, published, marker, track_ids)
        except AuthenticationError as exc:
            exc.partial = settle(Columns(), track_ids).build()  # nothing was sent
            raise
        tracks = await self.append(playlist_id, track_ids, expected=None if adopt else 0)
        return PlaylistResult(playlist_id, name, tracks)

    async def _created(
        self, name: str, published: bool, marker: str | None, track_ids: list[str]
    ) -> str:
        """The new playlist, created once and named ``name``: its ID.

        Raises:
            PlaylistEditError: it could not be created, or not named (then with its ID).
        """
        provisional = provisional_name(name, marker or secrets.token_hex(4))
        steps = CreateSteps(self._policy, time.monotonic(), adopt=marker is not None)
        outcome = await self._run(
            steps.start(), self._create_executor(steps, provisional, published)
        )
        if isinstance(outcome, Stop):
            raise _error(outcome, None, settle(Columns(), track_ids).build(), "creating it")
        assert isinstance(outcome, Created)
        renamed = await self._rename(outcome.playlist_id, name)
        if renamed is not None:
            partial = settle(Columns(), track_ids).build()
            raise _error(renamed, outcome.playlist_id, partial, "naming it")
        return outcome.playlist_id

    def _create_executor(self, steps: CreateSteps, provisional: str, published: bool) -> _Executor:
        async def execute(step: Step) -> Step:
            await self._wait(step.wait if isinstance(step, Read | Send) else 0.0)
            if isinstance(step, Read):
                try:
                    token = (await self._reader.profile()).token
                except BatchError as exc:
                    return steps.read_failed(exc)
                return steps.read(token)
            if isinstance(step, Find):
                try:
                    return steps.found(await self._find(provisional))
                except BatchError as exc:
                    return steps.read_failed(exc)
            assert isinstance(step, Send)
            body = playlist_action(name=provisional, published=published, state_token=step.token)
            answer = await self._post("create", body)
            if isinstance(answer, EditResult):
                return steps.answered(edit_playlist_id(self._namespace, answer.id))
            if isinstance(answer, HTTPStatusError):
                return steps.refused(answer, time.monotonic())
            return steps.unknown(answer.cause)

        return execute

    async def _find(self, name: str) -> str | None:
        async for playlist in self._reader.playlists():
            if playlist.name == name:
                return edit_playlist_id(self._namespace, playlist.id)
        return None

    # -- append -----------------------------------------------------------------------------------

    async def append(
        self, playlist_id: str, track_ids: list[str], *, expected: int | None = None
    ) -> BulkResult:
        """Append ``track_ids`` in order, each exactly once; one result per input.

        Raises:
            PlaylistConflictError: someone else edited the playlist meanwhile.
            PlaylistEditError: the append stopped (see the class); ``partial`` holds one result
                per input, ``playlist_id`` the playlist.
            AuthenticationError: with ``partial`` (the rest NOT_SENT).
        """
        playlist_id = edit_playlist_id(self._namespace, playlist_id)
        lock = self._locks.setdefault(_lock_key(playlist_id), asyncio.Lock())
        async with lock:
            done = Columns()
            refused: dict[str, ErrorInfo] = {}  # tracks the service refused: explained if missing
            count = expected
            for start in range(0, len(track_ids), PLAYLIST_CHUNK):
                steps = ChunkSteps(
                    track_ids[start : start + PLAYLIST_CHUNK],
                    count,
                    self._policy,
                    time.monotonic(),
                    refused,
                )
                try:
                    outcome = await self._run(
                        steps.start(), self._chunk_executor(steps, playlist_id)
                    )
                except AuthenticationError as exc:
                    exc.partial = settle(done, track_ids[start:]).build()
                    raise
                if isinstance(outcome, Stop):
                    partial = settle(done, track_ids[start:], outcome).build()
                    raise _error(outcome, playlist_id, partial, "adding to it")
                assert isinstance(outcome, Done)
                _note_refusals(refused, outcome.columns)
                done.extend(outcome.columns)
                count = outcome.count
                if outcome.full is not None:  # the rest would be refused the same way
                    return settle(
                        done, track_ids[start + PLAYLIST_CHUNK :], full=outcome.full
                    ).build()
            return done.build()

    def _chunk_executor(self, steps: ChunkSteps, playlist_id: str) -> _Executor:
        async def execute(step: Step) -> Step:
            await self._wait(step.wait if isinstance(step, Read | Send) else 0.0)
            if isinstance(step, Read):
                try:
                    playlist, token = await self._reader.lookup(playlist_id)
                except BatchError as exc:
                    return steps.read_failed(exc)
                return steps.read(playlist.track_count, token)
            if isinstance(step, ReadTail):
                try:
                    tracks = await self._reader.entries(playlist_id, step.start, step.stop)
                except BatchError as exc:
                    return steps.read_failed(exc)
                return steps.entries(tracks)
            assert isinstance(step, Send)
            body = playlist_action(
                playlist_id=playlist_id, state_token=step.token, adds=steps.chunk
            )
            answer = await self._post("update", body, adds=steps.chunk)
            if isinstance(answer, EditResult):
                return steps.answered(answer)
            if isinstance(answer, HTTPStatusError):
                return steps.refused(answer, time.monotonic())
            return steps.unknown(answer.cause)

        return execute

    # -- delete -----------------------------------------------------------------------------------

    async def delete(self, playlist_id: str) -> None:
        """Delete a playlist; a delete retried after a lost answer that finds it gone is done.

        Raises:
            HTTPStatusError: a refusal (404: no such playlist).
            BatchError: every attempt's outcome was unknown (its last cause).
        """
        body = playlist_action(playlist_id=edit_playlist_id(self._namespace, playlist_id))
        steps = ResendSteps(self._policy, gone_is_done=True)
        last: list[BatchError] = []
        outcome = await self._run(steps.start(), self._resend_executor(steps, "delete", body, last))
        if isinstance(outcome, Stop):
            raise last[-1]

    # -- the steps' execution -----------------------------------------------------------------

    async def _rename(self, playlist_id: str, name: str) -> Stop | None:
        """Give the playlist its name (harmless twice; a lost answer is resolved by reading
        the name back): ``None`` once done."""
        steps = ResendSteps(self._policy, check=True)
        body = playlist_action(playlist_id=playlist_id, name=name)
        execute = self._resend_executor(steps, "update", body, [])

        async def read_back(step: Step) -> Step:
            if not isinstance(step, Read):
                return await execute(step)
            await self._wait(step.wait)
            try:
                playlist, _ = await self._reader.lookup(playlist_id)
            except BatchError as exc:
                return steps.read_failed(exc)
            return steps.checked(playlist.name == name)

        outcome = await self._run(steps.start(), read_back)
        return outcome if isinstance(outcome, Stop) else None

    def _resend_executor(
        self, steps: ResendSteps, action: EditAction, body: bytes, last: list[BatchError]
    ) -> _Executor:
        async def execute(step: Step) -> Step:
            assert isinstance(step, Send)
            await self._wait(step.wait)
            answer = await self._post(action, body)
            if isinstance(answer, EditResult):
                return steps.answered()
            if isinstance(answer, HTTPStatusError):
                last.append(answer)
                return steps.refused(answer)
            last.append(answer.cause)
            return steps.unknown(answer.cause)

        return execute

    @staticmethod
    async def _run(step: Step, execute: _Executor) -> Step:
        """Execute steps until one settles the edit (``Done``, ``Created`` or ``Stop``)."""
        while not isinstance(step, Done | Created | Stop):
            step = await execute(step)
        return step

    async def _post(
        self, action: EditAction, body: bytes, adds: Sequence[str] = ()
    ) -> EditResult | HTTPStatusError | _Lost:
        """One edit through the send path: its answer, the refusal (nothing applied), or the
        cause of an unknown outcome (an unreadable 200 included)."""
        try:
            answer = await self._caller.post(playlist_edit_path(self._namespace, action), body)
            return read_edit(answer, adds, self._caller.auth.redact)
        except OutcomeUnknown as exc:
            return _Lost(exc.cause)
        except HTTPStatusError as exc:  # a refusal: nothing of this attempt was applied
            return exc
        except BatchError as exc:  # an unreadable 200 (or anything else): unknown too
            return _Lost(exc)

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self._caller.wait(seconds)


@attrs.frozen
class _Lost:
    """The cause of an edit's unknown outcome."""

    cause: BatchError


_Executor = Callable[[Step], Awaitable[Step]]


def _lock_key(playlist_id: str) -> str:
    """One lock per playlist however its ID is spelt (a GUID in either case)."""
    return playlist_id.lower()


def _note_refusals(refused: dict[str, ErrorInfo], columns: Columns) -> None:
    """Remember the tracks the service refused for good (an unknown catalog ID): a read-back
    missing them later in the same operation is explained."""
    for i, error in columns.errors.items():
        if columns.outcome(i) is Outcome.REJECTED:
            refused[normalise_id(columns.input_ids[i])] = error


def _error(
    stop: Stop, playlist_id: str | None, partial: BulkResult, doing: str
) -> PlaylistEditError:
    """The exception of an edit that stopped: which playlist, and each track's state."""
    if playlist_id is None:
        message = f"the playlist could not be created: {stop.reason}"
    else:
        message = f"the playlist {playlist_id}: {doing}: {stop.reason}"
    if stop.kind is StopKind.CONFLICT:
        return PlaylistConflictError(
            message, playlist_id=playlist_id, partial=partial, chunk_sent=stop.sent, code=stop.code
        )
    return PlaylistEditError(message, playlist_id=playlist_id, partial=partial, code=stop.code)
