"""Sans-I/O protocol rules: requests as data, responses to values or typed errors.

Nothing here touches the network or the event loop; the transport feeds it bytes and headers.
"""

from __future__ import annotations

import email.utils
import ipaddress
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, Literal
from urllib.parse import urlsplit

from ._errors import BatchError, DecodeError, HTTPStatusError, ResultMismatchError
from ._models import ErrorInfo, Outcome
from ._transport import Request, TransportError
from ._wire import WireFormat, WireResponse, decode_error_body, decode_response, media_type

__all__ = [
    "NON_REFRESHABLE_401_CODES",
    "NOT_APPLIED_STATUSES",
    "REFUSAL_STATUSES",
    "TRANSIENT_STATUSES",
    "Action",
    "UnauthorizedResponse",
    "build_request",
    "check_status",
    "error_info_for",
    "failure_outcome",
    "header",
    "is_throttle",
    "is_transient_status",
    "may_resend",
    "outcome_unknown",
    "parse_retry_after",
    "read_response",
    "token_of",
    "validate_base_url",
    "validate_namespace",
]

Action = Literal["add", "delete"]

#: Statuses worth retrying besides every 5xx and every 2xx other than 200 (spec section 5):
#: conflict, request timeout, too early, throttling.
TRANSIENT_STATUSES: Final = frozenset({408, 409, 425, 429})

#: The contract's refusals of a whole batch (spec section 5): the only statuses that make its
#: items REJECTED, which callers (and the CLI's journal) treat as final. Any other status that
#: is not transient (a 3xx, a 4xx the contract does not name, 600 and up) ends FAILED: the
#: service did not say no, something between us did not work.
REFUSAL_STATUSES: Final = frozenset({400, 403, 404})

#: 401 codes a token refresh cannot cure (spec section 2: the user must sign in again).
NON_REFRESHABLE_401_CODES: Final = frozenset({"MSA_SCOPE_REQUIRES_USER_CONSENT"})

_NAMESPACE_RE: Final = re.compile(r"[A-Za-z0-9_]+")


class UnauthorizedResponse(Exception):
    """A 401 arrived; the client decides whether a token refresh may cure it."""

    def __init__(self, code: str | None) -> None:
        super().__init__(code)
        self.code = code

    @property
    def refreshable(self) -> bool:
        return self.code not in NON_REFRESHABLE_401_CODES


def validate_namespace(namespace: object) -> str:
    """Check a namespace is a plain word: it is spliced into the URL path.

    Raises:
        TypeError: not a string.
        ValueError: empty, or holding anything but letters, digits and ``_`` (no ``/``, ``..``).
    """
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str, not {type(namespace).__name__}")
    if not _NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(f"namespace must be letters, digits or '_' only, got {namespace!r:.60}")
    return namespace


def validate_base_url(base_url: object, *, allow_insecure_http: bool = False) -> str:
    """Check and normalise the service's base URL (no trailing slash).

    Plain ``http`` is accepted for loopback hosts (the emulator) and otherwise only with
    ``allow_insecure_http``: the user token would cross the network in clear text.

    Raises:
        TypeError: not a string.
        ValueError: not an absolute http(s) URL, has a query, fragment or credentials, or is
            plain http to a non-loopback host without the opt-in.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in base_url):
        raise ValueError("base_url must not contain whitespace or control characters")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r:.80}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("base_url must not carry a query, a fragment or credentials")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http to {parts.hostname!r}: the user token would travel unencrypted; "
            "use https, or pass allow_insecure_http=True if you really mean it"
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    """Exactly ``localhost``, or an IP literal in 127.0.0.0/8, or ``::1``; never a DNS name."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a DNS name, such as 127.0.0.1.evil.example
        return False
    return address.is_loopback  # 127.0.0.0/8 for IPv4; exactly ::1 for IPv6


def is_transient_status(status: int) -> bool:
    """Whether a non-200 status may be cured by sending the same request again.

    Every 5xx (the service or a proxy failed; it may have applied the batch), 408, 409, 425,
    429, and any 2xx other than 200 (no refusal: the batch may have been applied; adding is
    idempotent).
    """
    return 500 <= status <= 599 or status in TRANSIENT_STATUSES or 200 < status < 300


def build_request(
    method: str,
    url: str,
    token: str,
    body: bytes = b"",
    wire_format: WireFormat = "json",
) -> Request:
    """Any request of the client, as plain data: the one place that spells its headers.

    ``body`` must already be encoded in ``wire_format``: the request declares it in
    ``Content-Type`` (a GET has none) and asks for the same format with ``Accept`` (spec
    section 6).

    Raises:
        ValueError: an unknown ``wire_format``.
    """
    media = media_type(wire_format)
    headers = {"Authorization": f"Bearer {token}", "Accept": media}
    if method != "GET":
        headers["Content-Type"] = media
    return Request(method, url, headers, body)


def token_of(request: Request) -> str:
    """The token a request built by :func:`build_request` carries (for redaction)."""
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


def read_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime
) -> WireResponse:
    """Turn a response into a decoded TrackActionResponse, or raise what it means.

    The body is read as JSON or XML according to its ``Content-Type`` (or, when that says
    neither, its first byte), whatever format the request asked for: a server that ignores
    ``Accept`` is still understood. ``now`` is the time a ``Retry-After`` date is measured from:
    the clock is the caller's, so this stays a pure function.

    Raises:
        UnauthorizedResponse: a 401 (the caller decides about refreshing).
        HTTPStatusError: any other non-200 status; ``transient`` is set from the status table.
        DecodeError: a 200 whose body is not a readable TrackActionResponse (transient).
    """
    content_type = header(headers, "Content-Type")
    check_status(status, headers, body, now=now)
    return decode_response(body, content_type=content_type)


def check_status(status: int, headers: Mapping[str, str], body: bytes, *, now: datetime) -> None:
    """Return for a 200; raise what any other status means (the status table of spec section 5).

    Raises:
        UnauthorizedResponse: a 401, with its code (the caller decides about refreshing).
        HTTPStatusError: any other status; ``transient`` from the table, the error body's code,
            description and message when it has one, and ``Retry-After`` as of ``now``.
    """
    if status == 200:
        return
    error = decode_error_body(body, header(headers, "Content-Type"))
    # An empty ErrorCode says nothing: the status decides, as with no error body at all.
    code = (error.code or None) if error else None
    if status == 401:
        raise UnauthorizedResponse(code)
    raise HTTPStatusError(
        status,
        code,
        error.description if error else None,
        error.message if error else None,
        retry_after=parse_retry_after(header(headers, "Retry-After"), now=now),
        transient=is_transient_status(status),
    )


def failure_outcome(exc: BatchError) -> Outcome:
    """What a batch that failed for good with ``exc`` means for its items.

    REJECTED only for the contract's refusals of a whole batch (400, 403, 404): the service said
    no, and sending it again is pointless. Anything else (a transient failure that outlasted the
    retries, a 3xx, a status the contract does not name) is FAILED: worth sending again later.
    """
    if isinstance(exc, HTTPStatusError) and exc.status in REFUSAL_STATUSES:
        return Outcome.REJECTED
    return Outcome.FAILED


def is_throttle(exc: BaseException | None) -> bool:
    """A 429, or a 503 that named a wait: the service asks the whole client to slow down (the
    throttle rule: the send path then closes the gate and lowers the concurrency limit)."""
    return isinstance(exc, HTTPStatusError) and (
        exc.status == 429 or (exc.status == 503 and exc.retry_after is not None)
    )


#: Answers that prove a request was not applied besides a 401: what a request that must not be
#: resent blindly may still be sent again after (a 409 is not among them: for a guarded edit it
#: is the service's refusal of a stale state token, which resending cannot cure).
NOT_APPLIED_STATUSES: Final = frozenset({408, 425, 429})


def may_resend(exc: BatchError, *, blind: bool) -> bool:
    """The one rule for sending a failed request again.

    A request that may be retried blindly (a read; a collection add or delete, which the
    service applies idempotently) is sent again after every transient failure. Any other (a
    playlist edit) only after an answer that proves nothing was applied (408, 425, 429): an
    outcome that is unknown is for its front end to resolve first (read back what the server
    holds), never resent here.
    """
    if not exc.transient:
        return False
    if blind:
        return True
    return isinstance(exc, HTTPStatusError) and exc.status in NOT_APPLIED_STATUSES


def outcome_unknown(exc: BaseException) -> bool:
    """Whether the service may have applied a request that failed with ``exc``.

    A 5xx (or a 2xx other than 200), a timeout, a dropped connection, an unreadable or
    mismatched body: the request may have been carried out before the failure. A refusal
    (4xx, 429, 401) applied nothing.
    """
    if isinstance(exc, HTTPStatusError):
        return exc.status >= 500 or 200 < exc.status < 300
    return isinstance(exc, TransportError | DecodeError | ResultMismatchError)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value; names are case-insensitive (aiohttp's mapping is, a plain dict is not)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        for key, candidate in headers.items():
            if key.lower() == wanted:
                return candidate
    return value


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when absent or unreadable.

    Accepts delta-seconds, decimal seconds (some proxies send them) and an HTTP-date. A date in
    the past or a negative number means "now" (0.0). Absurd values are returned as they are; the
    retry policy caps them.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            return None
        return max(0.0, seconds) if math.isfinite(seconds) else (math.inf if seconds > 0 else 0.0)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives naive for "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def error_info_for(exc: BaseException) -> ErrorInfo:
    """Describe a batch failure as an :class:`ErrorInfo` for the items it leaves FAILED/REJECTED."""
    if isinstance(exc, HTTPStatusError):
        if exc.code:
            return ErrorInfo(exc.code, exc.description or "", exc.message)
        return ErrorInfo(f"HTTP_{exc.status}", f"HTTP {exc.status} without an error body")
    if isinstance(exc, BatchError):
        return ErrorInfo(exc.code or "BATCH_ERROR", _DESCRIPTIONS.get(exc.code, ""), str(exc))
    return ErrorInfo("CLIENT_ERROR", type(exc).__name__, str(exc))


_DESCRIPTIONS: Final[Mapping[str | None, str]] = {
    "CONNECTION_ERROR": "The connection failed or was dropped",
    "TIMEOUT": "The request timed out",
    "RESPONSE_TOO_LARGE": "The response body exceeded the size limit",
    "UNREADABLE_RESPONSE": "The response body could not be read",
    "RESULT_MISMATCH": "The response's results did not match the IDs sent",
}
