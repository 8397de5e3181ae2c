"""The steps of a playlist edit and the decisions of creating, renaming and deleting, without
I/O (spec 9.1).

A driver (:mod:`groove_async._playlists`) executes the steps a state machine hands it and
reports what it observed back; the chunk's machine is in :mod:`groove_async._playlist_steps`.
Nothing here awaits, reads a clock or sends: the time is handed in, the waits are asked for.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from ._errors import BatchError, HTTPStatusError
from ._models import Columns, ErrorInfo
from ._protocol import error_info_for
from ._retry import RetryPolicy

__all__ = [
    "BACKOFF_CAP",
    "CONCURRENT_UPDATE",
    "CreateSteps",
    "Created",
    "Done",
    "Find",
    "Read",
    "ReadTail",
    "ResendSteps",
    "Send",
    "Step",
    "Stop",
    "StopKind",
    "attempts_text",
]

#: The status of an edit refused under a stale state token: nothing applied (spec 9.1).
CONCURRENT_UPDATE: Final = 409
#: The most rounds the 409 backoff grows over.
BACKOFF_CAP: Final = 8


class StopKind(enum.Enum):
    """Why an edit stopped before it was done."""

    CONFLICT = "conflict"
    """Someone else edited the playlist (or the collection kept changing)."""
    UNKNOWN = "unknown"
    """The outcome could not be settled: the policy is spent, or a resend would be blind."""
    REFUSED = "refused"
    """The service refused the edit for good (nothing applied by it)."""


# -- the steps a driver executes ------------------------------------------------------------------


@attrs.frozen
class Read:
    """Read the playlist (entry count and state token), after waiting ``wait`` seconds."""

    wait: float = 0.0


@attrs.frozen
class Send:
    """Send the edit under ``token`` (``None``: the service gave none; unguarded), after waiting
    ``wait`` seconds."""

    token: str | None
    wait: float = 0.0


@attrs.frozen
class ReadTail:
    """Read the playlist's entries from position ``start`` up to ``stop``."""

    start: int
    stop: int


@attrs.frozen
class Find:
    """Search the user's playlists for the provisional name."""


@attrs.frozen
class Created:
    """The playlist exists: its edit-form ID."""

    playlist_id: str


@attrs.frozen
class Done:
    """The chunk is settled: its results, the playlist's count after it, and the refusal that
    ends the operation when the playlist is full (the rest is refused with it)."""

    columns: Columns
    count: int
    full: ErrorInfo | None = None


@attrs.frozen
class Stop:
    """The chunk could not be settled: ``columns`` holds its results (FAILED where sent and
    unknown, REJECTED where refused, NOT_SENT where never sent)."""

    kind: StopKind
    reason: str
    columns: Columns
    code: str | None = None
    sent: bool = False


Step = Read | Send | ReadTail | Find | Created | Done | Stop


# -- creating and idempotent edits ----------------------------------------------------------


class CreateSteps:
    """The decisions of creating a playlist exactly once, under a provisional name no other
    playlist has (the caller's name and a marker).

    ``Read`` reads the collection's state token, ``Find`` searches for the provisional name,
    ``Send`` sends the create under the token. After an unknown outcome the token is read first,
    then the name searched for, and only then is the create sent again, under that token: an
    earlier attempt committed late makes the resend a 409, and the next search finds it.
    Without a token nothing is resent: the search is repeated, then the create stops.

    Args:
        policy: the client's retry policy.
        started: the time the create started.
        adopt: search for the provisional name first (a caller's marker: a resumed run may
            have created it already).
    """

    def __init__(self, policy: RetryPolicy, started: float, *, adopt: bool = False) -> None:
        self._policy = policy
        self._started = started
        self._adopt = adopt
        self._unknown = 0
        self._blind = False
        self._checks = 0
        self._read_failures = 0
        self._conflicts = 0
        self._token: str | None = None
        self._cause: BatchError | None = None

    def start(self) -> Step:
        """The first step: read the state token."""
        return Read()

    def read(self, token: str | None) -> Step:
        """The collection's state token is ``token``."""
        self._token = token
        if self._unknown > 0 or self._adopt:
            return Find()
        return Send(token)

    def found(self, playlist_id: str | None) -> Step:
        """The search found the provisional name (``playlist_id``), or not."""
        if playlist_id is not None:
            return Created(playlist_id)
        self._adopt = False
        if self._unknown == 0:
            return Send(self._token)
        if self._blind or self._token is None:
            self._checks += 1
            if self._checks < self._policy.attempts:
                return Read(self._policy.backoff(self._checks))
            return self._gave_up(
                "the service gives no collection state token, so a create whose outcome is "
                f"unknown is never sent again (it could make two playlists): {self._cause}"
            )
        if self._unknown >= self._policy.attempts:
            return self._gave_up(f"{self._cause} ({attempts_text(self._unknown)})")
        return Send(self._token)

    def answered(self, playlist_id: str) -> Step:
        """A 200 to the create, naming the new playlist."""
        return Created(playlist_id)

    def refused(self, exc: HTTPStatusError, now: float) -> Step:
        """The create was refused: nothing of this attempt was applied."""
        if exc.status == CONCURRENT_UPDATE:
            self._conflicts += 1
            if now - self._started > self._policy.timeout:
                timeout = self._policy.timeout
                reason = f"the collection kept changing for {timeout:g}s: giving up"
                return Stop(StopKind.CONFLICT, reason, Columns(), "CONCURRENT_EDIT")
            return Read(self._policy.backoff(min(self._conflicts, BACKOFF_CAP)))
        if self._unknown > 0:
            self._cause = exc
            return self._gave_up(f"the service refused a resend: {exc}")
        kind = StopKind.UNKNOWN if exc.transient else StopKind.REFUSED
        return Stop(kind, str(exc), Columns(), error_info_for(exc).code)

    def unknown(self, cause: BatchError) -> Step:
        """The create's outcome is unknown (``cause``)."""
        self._unknown += 1
        self._cause = cause
        self._blind = self._blind or self._token is None
        return Read(self._policy.backoff(self._unknown))

    def read_failed(self, cause: BatchError) -> Step:
        """A read (the token, the search) failed for good: read again within the policy."""
        self._read_failures += 1
        if self._read_failures < self._policy.attempts:
            return Read(self._policy.backoff(self._read_failures))
        self._cause = cause
        return self._gave_up(f"cannot read the playlists ({attempts_text(self._read_failures)})")

    def _gave_up(self, reason: str) -> Stop:
        code = None if self._cause is None else error_info_for(self._cause).code
        return Stop(StopKind.UNKNOWN, reason, Columns(), code, sent=self._unknown > 0)


class ResendSteps:
    """The decisions of an edit that may be sent again blindly: a rename (setting a name twice
    is harmless; with ``check``, a lost answer is first resolved by reading the name back) or a
    delete (``gone_is_done``: one that finds the playlist gone after a lost answer is done)."""

    def __init__(
        self, policy: RetryPolicy, *, gone_is_done: bool = False, check: bool = False
    ) -> None:
        self._policy = policy
        self._gone_is_done = gone_is_done
        self._check = check
        self._unknown = 0
        self._cause: BatchError | None = None

    def start(self) -> Step:
        """The first step: send it."""
        return Send(None)

    def answered(self) -> Step:
        """A 200: done."""
        return Done(Columns(), 0)

    def unknown(self, cause: BatchError) -> Step:
        """The outcome is unknown: read back (``check``) or send again, up to the attempts."""
        self._unknown += 1
        self._cause = cause
        if self._unknown >= self._policy.attempts:
            reason = f"{cause} ({attempts_text(self._unknown)})"
            return Stop(StopKind.UNKNOWN, reason, Columns(), error_info_for(cause).code, sent=True)
        wait = self._policy.backoff(self._unknown)
        return Read(wait) if self._check else Send(None, wait)

    def checked(self, applied: bool) -> Step:
        """The read-back says whether the edit is in place: done, or send it again."""
        return Done(Columns(), 0) if applied else Send(None)

    def read_failed(self, cause: BatchError) -> Step:
        """The read-back failed: the edit is harmless to send again, so send it."""
        return Send(None)

    def refused(self, exc: HTTPStatusError) -> Step:
        """Refused: done if it is a delete that finds the playlist gone after a lost answer."""
        if self._gone_is_done and self._unknown > 0 and exc.status == 404:
            return Done(Columns(), 0)
        return Stop(StopKind.REFUSED, str(exc), Columns(), error_info_for(exc).code)


def attempts_text(n: int) -> str:
    """``gave up after N attempts``, as the add path says it."""
    return f"gave up after {n} attempt{'s' if n != 1 else ''}"
