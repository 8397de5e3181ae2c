"""The playlist editor's decisions, as a state machine without I/O (spec 9.1).

An Add appends a new entry every time, so an edit whose outcome is unknown may only be sent
again when nothing can make it apply twice. What to send next, what an answer or a read-back
means and when to give up are decided here, from what the driver observed; the driver
(:mod:`groove_async._playlists`) executes the steps and reports back. Nothing here awaits, reads
a clock or sends: the time is handed in, the waits are asked for.

The rules of one chunk's append (:class:`ChunkSteps`):

* every round starts by reading the playlist (its entry count and the collection's
  ``CollectionStateToken``); before anything was sent, another count is someone else's edit;
* an edit goes out under the token just read: should it land on a collection changed meanwhile
  it gets 409 and applies nothing, so a resend can never apply twice, even if an earlier attempt
  is committed late;
* after an attempt whose outcome is unknown (5xx, timeout, dropped connection, unreadable
  answer), the playlist is read back: a grown count is matched against the chunk, an unchanged
  one means nothing was applied yet. The chunk is then sent again under a fresh token, up to the
  policy's attempts; without a token (a server that gives none) it is never resent: the playlist
  is read again, a few times, and if the edit does not show the chunk ends FAILED, saying why;
* a read-back is accepted only when the service could have produced it from our edit: an
  update commits all its valid actions or none, so the entries past the expected count must be
  the chunk itself, or the chunk less tracks the service already refused in this operation
  (their refusal explained). Anything else is someone else's edit: a conflict, the chunk FAILED;
* a read that fails (a lagging replica's 404) is not a refusal of the edit: it is retried within
  the policy, then the chunk ends FAILED with that cause, never REJECTED;
* 409s (a collection others keep changing) are waited out up to the policy's ``timeout``; an
  outage (unknown outcomes) is given up after the policy's ``attempts``, with the last cause;
* ``COLLECTION_PLAYLIST_FULL`` refuses the chunk (nothing applied): it and the rest are REJECTED
  with that code, and the operation returns normally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ._edit_steps import (
    BACKOFF_CAP,
    CONCURRENT_UPDATE,
    Done,
    Read,
    ReadTail,
    Send,
    Step,
    Stop,
    StopKind,
    attempts_text,
)
from ._errors import BatchError, DecodeError, HTTPStatusError
from ._ids import normalise_id
from ._library_wire import EditResult
from ._models import Columns, ErrorInfo, LibraryTrack, Outcome
from ._protocol import error_info_for
from ._retry import RetryPolicy

__all__ = ["PLAYLIST_FULL", "ChunkSteps", "answered_columns", "settle"]

#: The refusal of an edit that would leave more than 1,000 entries (spec 9.1).
PLAYLIST_FULL: Final = "COLLECTION_PLAYLIST_FULL"
# -- one chunk --------------------------------------------------------------------------------


class ChunkSteps:
    """The decisions of appending one chunk exactly once (see the module docstring).

    Args:
        chunk: the catalog IDs to append, in order.
        expected: the entries the playlist holds before the chunk (``None``: what the first
            read finds).
        policy: the client's retry policy (attempts, timeout, backoff).
        started: the time the chunk started (any monotonic clock, the one ``now`` is read on).
        refused: catalog IDs (normalised) the service refused for good earlier in the same
            operation, with their errors: a read-back missing only those is still ours.
    """

    def __init__(
        self,
        chunk: Sequence[str],
        expected: int | None,
        policy: RetryPolicy,
        started: float,
        refused: Mapping[str, ErrorInfo] | None = None,
    ) -> None:
        self.chunk = list(chunk)
        self.expected = expected
        self._wanted = [normalise_id(track_id) for track_id in chunk]
        self._policy = policy
        self._started = started
        self._refused = refused or {}
        self._unknown = 0  # attempts whose outcome is unknown
        self._blind = False  # one of them went without a state token
        self._token: str | None = None  # the token of the attempt in flight
        self._checks = 0  # reads waiting for a blind attempt to show
        self._read_failures = 0
        self._conflicts = 0
        self._cause: BatchError | None = None

    def start(self) -> Step:
        """The first step: read the playlist."""
        return Read()

    # -- what was observed ----------------------------------------------------------------

    def read(self, count: int, token: str | None) -> Step:
        """The playlist holds ``count`` entries; the collection's token is ``token``."""
        if self.expected is None:
            self.expected = count
        expected = self.expected
        if self._unknown == 0:
            if count != expected:
                return self._conflict(_edited(count, expected), sent=False)
            return self._send(token)
        if count < expected:
            return self._conflict(_edited(count, expected), sent=True)
        if count > expected:
            return ReadTail(expected, count)
        return self._unchanged(token)

    def answered(self, result: EditResult) -> Step:
        """A 200 to the chunk's edit."""
        columns = answered_columns(self.chunk, result)
        if columns is None:  # a 200 that does not answer every action: read back instead
            return self.unknown(DecodeError(_short_answer(result, len(self.chunk))))
        assert self.expected is not None
        added = sum(1 for i in range(len(columns)) if columns.outcome(i) is Outcome.SUCCEEDED)
        return Done(columns, self.expected + added)

    def refused(self, exc: HTTPStatusError, now: float) -> Step:
        """The edit was refused: nothing of this attempt was applied."""
        if exc.status == CONCURRENT_UPDATE:
            self._conflicts += 1
            if now - self._started > self._policy.timeout:
                timeout = self._policy.timeout
                reason = f"the collection kept changing for {timeout:g}s: giving up"
                return self._conflict(reason, sent=self._unknown > 0)
            return Read(self._policy.backoff(min(self._conflicts, BACKOFF_CAP)))
        info = error_info_for(exc)
        if exc.code == PLAYLIST_FULL and self._unknown == 0:
            assert self.expected is not None
            return Done(Columns.uniform(self.chunk, Outcome.REJECTED, info), self.expected, info)
        if self._unknown > 0:  # an earlier attempt may still have been applied
            self._cause = exc
            return self._stop(StopKind.UNKNOWN, f"the service refused a resend: {exc}")
        if exc.transient:  # throttled past the policy: nothing applied, worth sending later
            columns = Columns.uniform(self.chunk, Outcome.FAILED, info)
            return Stop(StopKind.UNKNOWN, str(exc), columns, info.code)
        columns = Columns.uniform(self.chunk, Outcome.REJECTED, info)
        return Stop(StopKind.REFUSED, str(exc), columns, info.code)

    def unknown(self, cause: BatchError) -> Step:
        """The attempt's outcome is unknown (``cause``): it may or may not have been applied."""
        self._unknown += 1
        self._cause = cause
        self._blind = self._blind or self._token is None  # nothing would refuse a late commit
        return Read(self._policy.backoff(self._unknown))

    def read_failed(self, cause: BatchError) -> Step:
        """A read failed for good: not a refusal of the edit. A refusal (a lagging replica's
        404: the send path does not retry refusals) is read again within the policy; a
        transient failure already had the policy's attempts. Then the chunk stops with that
        cause: NOT_SENT when nothing was sent, else FAILED (its outcome unknown)."""
        self._read_failures += 1
        refusal = isinstance(cause, HTTPStatusError) and not cause.transient
        first_contact = self.expected is None  # nothing says the playlist exists: a 404 is final
        if refusal and not first_contact and self._read_failures < self._policy.attempts:
            return Read(self._policy.backoff(self._read_failures))
        if self._unknown == 0:
            info = error_info_for(cause)
            columns = Columns.uniform(self.chunk, Outcome.NOT_SENT, info)
            kind = StopKind.REFUSED if refusal else StopKind.UNKNOWN
            return Stop(kind, f"cannot read the playlist: {cause}", columns, info.code)
        self._cause = cause
        tries = self._read_failures
        return self._stop(
            StopKind.UNKNOWN, f"cannot read the playlist back ({attempts_text(tries)}): {cause}"
        )

    def entries(self, tracks: Sequence[LibraryTrack]) -> Step:
        """The entries past the expected count, read back after an unknown outcome."""
        assert self.expected is not None
        got = [track.catalog_id for track in tracks]
        size = len(self.chunk)
        if got[:size] == self._wanted:
            columns = Columns(list(self.chunk), [t.id for t in tracks[:size]], None, {})
            if len(got) == size:
                return Done(columns, self.expected + size)
            reason = _edited(self.expected + len(got), self.expected + size)
            return Stop(StopKind.CONFLICT, reason, columns, "CONCURRENT_EDIT", sent=True)
        explained = self._explained(tracks)
        if explained is not None:
            return Done(explained, self.expected + len(tracks))
        return self._conflict(
            f"it was edited by someone else: it holds {len(got)} new entries that the chunk sent "
            "could not have left",
            sent=True,
        )

    # -- decisions ------------------------------------------------------------------------

    def _unchanged(self, token: str | None) -> Step:
        """After an unknown outcome the playlist holds nothing new (yet)."""
        if self._blind or token is None:
            # A resend could apply twice (nothing would refuse a late commit): only read.
            self._checks += 1
            if self._checks < self._policy.attempts:
                return Read(self._policy.backoff(self._checks))
            reason = (
                "the service gives no collection state token, so an edit whose outcome is unknown "
                "is never sent again (it would add its tracks twice if it was applied): "
                f"{self._cause}"
            )
            return self._stop(StopKind.UNKNOWN, reason)
        if self._unknown >= self._policy.attempts:
            return self._stop(StopKind.UNKNOWN, f"{self._cause} ({attempts_text(self._unknown)})")
        return self._send(token)

    def _send(self, token: str | None) -> Send:
        self._token = token
        return Send(token)

    def _explained(self, tracks: Sequence[LibraryTrack]) -> Columns | None:
        """The chunk's results when ``tracks`` are the chunk less tracks already refused in
        this operation (the only refusals a read-back can explain), else ``None``."""
        if not self._refused or len(tracks) >= len(self.chunk):
            return None
        columns = Columns(list(self.chunk), [None] * len(self.chunk), [], {})
        assert columns.outcomes is not None
        position = 0
        for i, wanted in enumerate(self._wanted):
            if position < len(tracks) and tracks[position].catalog_id == wanted:
                columns.ids[i] = tracks[position].id
                columns.outcomes.append(Outcome.SUCCEEDED)
                position += 1
            elif wanted in self._refused:
                columns.outcomes.append(Outcome.REJECTED)
                columns.errors[i] = self._refused[wanted]
            else:
                return None
        return columns if position == len(tracks) else None

    def _conflict(self, reason: str, *, sent: bool) -> Stop:
        if sent:
            return self._stop(StopKind.CONFLICT, reason, code="CONCURRENT_EDIT")
        columns = Columns.uniform(self.chunk, Outcome.NOT_SENT, _NOT_SENT)
        return Stop(StopKind.CONFLICT, reason, columns, "CONCURRENT_EDIT")

    def _stop(self, kind: StopKind, reason: str, *, code: str | None = None) -> Stop:
        """Stop with the chunk FAILED: it went out and its outcome is unknown."""
        if self._cause is not None and kind is StopKind.UNKNOWN:
            cause = error_info_for(self._cause)
            error = ErrorInfo(cause.code, _MAYBE, reason)
        else:
            error = ErrorInfo(code or "CONCURRENT_EDIT", _MAYBE_CONFLICT, reason)
        columns = Columns.uniform(self.chunk, Outcome.FAILED, error)
        return Stop(kind, reason, columns, error.code, sent=True)


# -- results ----------------------------------------------------------------------------------


def answered_columns(chunk: Sequence[str], result: EditResult) -> Columns | None:
    """The chunk's results from a 200 answering it, or ``None`` when the answer does not answer
    every action (a count that differs, an Add success without its entry ID)."""
    if len(result.actions) != len(chunk):
        return None
    columns = Columns(list(chunk), [], [], {})
    assert columns.outcomes is not None
    for i, (entry, error) in enumerate(result.actions):
        if error is None and entry is None:
            return None  # an Add's success always names its new entry
        columns.ids.append(entry)
        columns.outcomes.append(Outcome.SUCCEEDED if error is None else Outcome.REJECTED)
        if error is not None:
            columns.errors[i] = error
    if not columns.errors:
        columns.outcomes = None
    return columns


def settle(
    done: Columns, rest: Sequence[str], stop: Stop | None = None, full: ErrorInfo | None = None
) -> Columns:
    """Every input's result in one layout: ``done`` (the chunks settled), then the chunk a
    ``stop`` ended (its own results), then the rest NOT_SENT, or REJECTED with ``full`` when the
    playlist is full."""
    if stop is not None:
        done.extend(stop.columns)
        rest = rest[len(stop.columns) :]
    if full is not None:
        done.extend(Columns.uniform(list(rest), Outcome.REJECTED, full))
    else:
        done.extend(Columns.uniform(list(rest), Outcome.NOT_SENT, _NOT_SENT))
    return done


def _edited(found: int, expected: int) -> str:
    return f"it was edited by someone else: it holds {found} entries where {expected} were expected"


def _short_answer(result: EditResult, size: int) -> str:
    return f"{len(result.actions)} results (or an Add without its entry ID) for {size} actions"


_MAYBE: Final = "Sent, but its outcome is unknown: it may or may not have been applied"
_MAYBE_CONFLICT: Final = "Sent, but the playlist was edited by someone else: its outcome is unknown"
_NOT_SENT: Final = ErrorInfo("NOT_SENT", "Not sent: the playlist edit stopped before it")
