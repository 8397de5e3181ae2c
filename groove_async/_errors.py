"""The exception tree of groove_async.

Only failures that end a whole operation are raised to callers; a batch that fails is reported as
``FAILED`` or ``REJECTED`` items whose :class:`~groove_async.ErrorInfo` carries the reason. The
batch-level exceptions below are still public: they are what the retry machinery classifies, and
what a FAILED or REJECTED item's :class:`~groove_async.ErrorInfo` describes. They are never
raised to callers, nor chained to what is.

::

    GrooveError
    ├── AuthenticationError      401 that a token refresh could not cure (raised; has .partial)
    ├── PlaylistEditError        a playlist edit stopped (raised; .playlist_id, .partial, .code)
    │   └── PlaylistConflictError    someone else edited the playlist meanwhile
    └── BatchError               one POST failed; becomes FAILED/REJECTED items, not raised
        ├── HTTPStatusError      a non-200 status (status, code, retry_after, transient)
        ├── TransportError       connection refused/dropped, timeout, oversized body
        │                        (defined with the transport seam, groove_async._transport)
        ├── DecodeError          a body that is not a readable TrackActionResponse
        └── ResultMismatchError  a 200 whose results do not line up with the IDs sent

Every exception holds plain facts (numbers and strings), never an I/O handle or a token, and
survives ``pickle``.

This module imports nothing but the standard library so that every other module can use it
without import cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import BulkResult

__all__ = [
    "AuthenticationError",
    "BatchError",
    "DecodeError",
    "GrooveError",
    "HTTPStatusError",
    "PlaylistConflictError",
    "PlaylistEditError",
    "ResultMismatchError",
]


class GrooveError(Exception):
    """Root of every exception groove_async raises on purpose."""


class BatchError(GrooveError):
    """One POST of one batch failed.

    Attributes:
        code: a short machine-readable reason (the client's own code, or the service's
            ``ErrorCode`` for :class:`HTTPStatusError`).
        transient: whether trying the same request again may succeed.
    """

    code: str | None = "BATCH_ERROR"
    transient: bool = True


class HTTPStatusError(BatchError):
    """The service answered with a status other than 200.

    Attributes:
        status: the HTTP status code.
        code: the service's ``ErrorCode`` in underscore spelling, or ``None`` when the body had none
            (an HTML page from a proxy, an empty body).
        description: the service's ``Description``, if any.
        message: the service's ``Message``, if any.
        retry_after: seconds the server asked us to wait (``Retry-After``), if it said.
        transient: whether the status is worth retrying (spec section 5).
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        description: str | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        transient: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.description = description
        self.message = message
        self.retry_after = retry_after
        self.transient = transient
        super().__init__(status, code, description, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_status_error,
            (
                self.status,
                self.code,
                self.description,
                self.message,
                self.retry_after,
                self.transient,
            ),
        )

    def __str__(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.code:
            parts.append(self.code)
        if self.description:
            parts.append(self.description)
        if self.retry_after is not None:
            parts.append(f"Retry-After {self.retry_after:g}s")
        return ": ".join(parts[:2]) + "".join(f" ({p})" for p in parts[2:])


def _rebuild_status_error(
    status: int,
    code: str | None,
    description: str | None,
    message: str | None,
    retry_after: float | None,
    transient: bool,
) -> HTTPStatusError:
    return HTTPStatusError(
        status, code, description, message, retry_after=retry_after, transient=transient
    )


class DecodeError(BatchError):
    """A response body could not be read as a TrackActionResponse (truncated, HTML, wrong shape)."""

    code = "UNREADABLE_RESPONSE"


class ResultMismatchError(BatchError):
    """A 200 whose results do not match the IDs sent (missing, extra or different input IDs).

    Such a response is not trusted at all: assigning its items by position could give one track
    another track's result.
    """

    code = "RESULT_MISMATCH"


class AuthenticationError(GrooveError):
    """The service refused the credentials and a refresh could not cure it.

    Raised when a 401 arrives with a static token, when the refreshed token is refused as well,
    when the 401 code says a refresh cannot help (``MSA_SCOPE_REQUIRES_USER_CONSENT``), or when the
    token provider itself fails.

    Attributes:
        status: the HTTP status (401), or ``None`` when the token provider failed.
        code: the service's ``ErrorCode`` in underscore spelling, if any.
        partial: a :class:`~groove_async.BulkResult` with one result per input read before the
            failure: batches that finished keep their results, every other input is ``NOT_SENT``
            (or ``FAILED`` when one of its attempts had already reached the server). ``None`` when
            raised outside a bulk operation. For ``stream_*`` calls it holds only the inputs that
            had not been yielded yet.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        partial: BulkResult | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.partial = partial

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_auth_error, (str(self), self.status, self.code, self.partial))


def _rebuild_auth_error(
    message: str, status: int | None, code: str | None, partial: BulkResult | None
) -> AuthenticationError:
    return AuthenticationError(message, status=status, code=code, partial=partial)


class PlaylistEditError(GrooveError):
    """A playlist edit (create, append) stopped before it was done.

    Raised when the policy was spent on failures that leave an edit's outcome unknown (an
    outage: the last cause and "gave up after N attempts"), when the service refused an edit
    for good, when the playlist could not be read back, or when an edit of unknown outcome
    could not be resent safely (a service that gives no ``CollectionStateToken``).

    Attributes:
        playlist_id: the playlist's ID (``music.playlist.<guid>``) once it exists, so that the
            caller can append the rest to it (``add_to_playlist``), else ``None``.
        partial: a :class:`~groove_async.BulkResult` with one result per track asked for:
            SUCCEEDED (with its entry ID) for what the playlist holds, FAILED where a chunk was
            sent and its outcome is unknown (it may or may not have been applied: read the
            playlist back before sending it again), REJECTED where the service refused it,
            NOT_SENT for the rest.
        code: the cause's code (the service's ``ErrorCode``, ``HTTP_<status>``, ``TIMEOUT``,
            ``CONNECTION_ERROR``, ``CONCURRENT_EDIT``...), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        playlist_id: str | None = None,
        partial: BulkResult | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.playlist_id = playlist_id
        self.partial = partial
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_edit_error, (str(self), self.playlist_id, self.partial, self.code))


def _rebuild_edit_error(
    message: str, playlist_id: str | None, partial: BulkResult | None, code: str | None
) -> PlaylistEditError:
    return PlaylistEditError(message, playlist_id=playlist_id, partial=partial, code=code)


class PlaylistConflictError(PlaylistEditError):
    """A playlist edit could not go on without papering over someone else's edit.

    Raised when the playlist holds other entries than the edit expects (someone else added or
    removed entries meanwhile), when a read-back holds what our edit could not have left, or
    when the collection kept changing under every attempt (409s for the policy's ``timeout``).

    Attributes:
        playlist_id: as :class:`PlaylistEditError`.
        partial: a :class:`~groove_async.BulkResult` with one result per input: what was added
            (SUCCEEDED with its entry ID), the chunk in flight FAILED (``CONCURRENT_EDIT``: its
            outcome is unknown), the rest NOT_SENT; ``None`` for a create that did not start.
        code: ``CONCURRENT_EDIT``.
        chunk_sent: whether the chunk in flight had gone out when the conflict was found.
    """

    def __init__(
        self,
        message: str,
        *,
        playlist_id: str | None = None,
        partial: BulkResult | None = None,
        chunk_sent: bool = False,
        code: str | None = "CONCURRENT_EDIT",
    ) -> None:
        super().__init__(message, playlist_id=playlist_id, partial=partial, code=code)
        self.chunk_sent = chunk_sent

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_conflict,
            (str(self), self.playlist_id, self.partial, self.chunk_sent, self.code),
        )


def _rebuild_conflict(
    message: str,
    playlist_id: str | None,
    partial: BulkResult | None,
    chunk_sent: bool,
    code: str | None,
) -> PlaylistConflictError:
    return PlaylistConflictError(
        message, playlist_id=playlist_id, partial=partial, chunk_sent=chunk_sent, code=code
    )
