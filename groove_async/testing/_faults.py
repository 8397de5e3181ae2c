"""Fault plans, scripted responses and the seeded fault decision of the emulator.

A :class:`FaultPlan` says how often each kind of failure happens; the server rolls it once per
``POST`` (a TrackAction request, spec section 3, or a playlist edit, section 9.1) with its own
seeded :class:`random.Random`, which also mints collection IDs, so a given seed and sequence of
requests always yields the same faults and the same IDs. Reads (``GET``, section 9.2) are never
faulted.

A :class:`ScriptedResponse` is an exact response for one upcoming ``POST``: the queue of them is
served first-in first-out before any fault is rolled.

The failures are those the spec tells clients to expect (section 5): throttling with or without
``Retry-After``, transient 409/5xx statuses with their JSON bodies, empty or HTML bodies from a
proxy, truncated bodies, dropped connections; plus a 200 whose results miss an item. Section 9.1
adds the failures that make an edit's outcome unknown: the server commits, then its answer is
lost (a 5xx, a dropped connection) or comes too late.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
from collections.abc import Mapping
from typing import Any, Final

import attrs

__all__ = [
    "FAULT_NAMES",
    "POST_PROCESSING_FAULTS",
    "FaultPlan",
    "ScriptedResponse",
    "format_retry_after",
]

FAULT_NAMES: Final = (
    "drop",
    "429",
    "409",
    "500",
    "502",
    "503",
    "504",
    "html",
    "non_json",
    "truncated",
    "missing_item",
    "lost_500",
    "lost_504",
    "lost_drop",
    "late",
)
"""The labels a rolled fault gets in the request log, in the order the roll tests them."""

POST_PROCESSING_FAULTS: Final = frozenset(
    {"non_json", "truncated", "missing_item", "lost_500", "lost_504", "lost_drop", "late"}
)
"""Faults applied after the request was processed: the collection changed, the answer is bad,
lost or late."""


def _probability(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _optional_non_negative(
    instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not value >= 0.0:
        raise ValueError(f"{attribute.name} must be >= 0 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class FaultPlan:
    """How often the emulator misbehaves, and how slowly it answers. Every knob defaults to off.

    At most one fault hits a request: the server draws one uniform number per ``POST`` and walks
    the probabilities in the order listed below, so their sum must not exceed 1. Faults apply to
    every ``POST``: ``collection/add`` and ``collection/delete`` (spec section 3) and the
    playlist edits ``collection/playlists/{create|update|delete}`` (section 9.1); never to the
    reads (browse, lookup, profile), which only wait the plan's ``latency``.

    Faults that stop the request before the collection sees it (state unchanged):

    * ``p_drop``: the connection is closed without any response.
    * ``p_429``: 429 ``TOO_MANY_REQUESTS``, with ``Retry-After`` when :attr:`retry_after` is set.
    * ``p_409``: 409 ``COLLECTION_CONCURRENT_UPDATE``.
    * ``p_500``: 500 ``INTERNAL_SERVER_ERROR``.
    * ``p_502``: 502 ``CATALOG_UNAVAILABLE``.
    * ``p_503``: 503 with an empty body (and ``Retry-After`` when :attr:`retry_after` is set).
    * ``p_504``: 504 with an HTML page from a gateway.
    * ``p_html``: 502 with an HTML error page from a "proxy" (``text/html``).

    Faults applied after the request was processed (the collection changed; the client loses or
    misreads the answer). When the genuine answer is not a 200 (say, a 401), it is sent
    undamaged and the request log shows no fault:

    * ``p_non_json``: 200 labelled ``application/json`` (or XML) whose body is neither.
    * ``p_truncated``: 200 whose body (JSON, or XML for an XML request) is cut in half.
    * ``p_missing_item``: 200 whose ``TrackActionResults`` lacks one item (picked at random);
      a playlist edit whose answer has no ``TrackActionResults`` is answered undamaged.

    Faults that commit and then lose the answer (spec section 9.1: "a server may still commit
    and then fail to answer: the client cannot tell"); again only when the genuine answer is a
    200, else it is sent as it is and the log shows no fault:

    * ``p_lost_500``: carried out, then 500 ``INTERNAL_SERVER_ERROR``.
    * ``p_lost_504``: carried out, then 504 with an HTML page from a gateway.
    * ``p_lost_drop``: carried out, then the connection is closed without any response.
    * ``p_late``: held :attr:`late_delay` seconds more (on top of the latency), then carried
      out and answered genuinely (the log shows ``"late"`` whatever the status). A client whose
      timeout is shorter gives up first, and the edit commits after it did.

    Attributes:
        latency: seconds to wait before answering every request (``asyncio.sleep``), reads
            (browse, lookup, profile) included.
        latency_jitter: extra uniform random delay from 0 to this many seconds, for ``POST``
            requests only: reads draw nothing from the generator.
        retry_after: the ``Retry-After`` of 429 and 503 answers, in seconds (decimals allowed,
            sent with millisecond precision); ``None`` sends no header.
        retry_after_http_date: send ``Retry-After`` as an HTTP-date that many seconds (rounded up)
            from now instead of a number of seconds.
        late_delay: the extra seconds a ``p_late`` request waits before it is carried out.
        seed: when not ``None``, assigning the plan to a running server (or passing it to one
            created without ``seed``) restarts the server's random stream at this seed.
    """

    latency: float = attrs.field(default=0.0, validator=_non_negative)
    latency_jitter: float = attrs.field(default=0.0, validator=_non_negative)
    p_429: float = attrs.field(default=0.0, validator=_probability)
    retry_after: float | None = attrs.field(default=None, validator=_optional_non_negative)
    retry_after_http_date: bool = False
    p_409: float = attrs.field(default=0.0, validator=_probability)
    p_500: float = attrs.field(default=0.0, validator=_probability)
    p_502: float = attrs.field(default=0.0, validator=_probability)
    p_503: float = attrs.field(default=0.0, validator=_probability)
    p_504: float = attrs.field(default=0.0, validator=_probability)
    p_drop: float = attrs.field(default=0.0, validator=_probability)
    p_truncated: float = attrs.field(default=0.0, validator=_probability)
    p_non_json: float = attrs.field(default=0.0, validator=_probability)
    p_html: float = attrs.field(default=0.0, validator=_probability)
    p_missing_item: float = attrs.field(default=0.0, validator=_probability)
    p_lost_500: float = attrs.field(default=0.0, validator=_probability)
    p_lost_504: float = attrs.field(default=0.0, validator=_probability)
    p_lost_drop: float = attrs.field(default=0.0, validator=_probability)
    p_late: float = attrs.field(default=0.0, validator=_probability)
    late_delay: float = attrs.field(default=5.0, validator=_non_negative)
    seed: int | None = None
    _table: tuple[tuple[float, str], ...] = attrs.field(
        init=False, repr=False, eq=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        probabilities = {
            "drop": self.p_drop,
            "429": self.p_429,
            "409": self.p_409,
            "500": self.p_500,
            "502": self.p_502,
            "503": self.p_503,
            "504": self.p_504,
            "html": self.p_html,
            "non_json": self.p_non_json,
            "truncated": self.p_truncated,
            "missing_item": self.p_missing_item,
            "lost_500": self.p_lost_500,
            "lost_504": self.p_lost_504,
            "lost_drop": self.p_lost_drop,
            "late": self.p_late,
        }
        table: list[tuple[float, str]] = []
        total = 0.0
        for name in FAULT_NAMES:
            p = probabilities[name]
            if p > 0.0:
                total += p
                table.append((total, name))
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total:g}, more than 1")
        object.__setattr__(self, "_table", tuple(table))

    def roll(self, rng: random.Random) -> str | None:
        """Decide the fault of one request.

        Always draws exactly one number from ``rng``, whatever the plan, so that the random
        stream (and so the minted IDs) does not depend on which faults are enabled.

        Args:
            rng: the server's seeded generator.

        Returns:
            The fault's name as the request log shows it (``"drop"``, ``"429"``, ``"409"``,
            ``"500"``, ``"502"``, ``"503"``, ``"504"``, ``"html"``, ``"non_json"``,
            ``"truncated"``, ``"missing_item"``, ``"lost_500"``, ``"lost_504"``,
            ``"lost_drop"``, ``"late"``), or ``None`` for a healthy answer.
        """
        u = rng.random()
        for threshold, name in self._table:
            if u < threshold:
                return name
        return None

    def delay(self, rng: random.Random, fault: str | None = None) -> float:
        """Return the seconds to wait before answering (draws from ``rng`` only with jitter).

        Args:
            rng: the server's seeded generator.
            fault: the fault rolled for the request; ``"late"`` adds :attr:`late_delay`.

        Returns:
            ``latency`` plus a uniform random share of ``latency_jitter`` (plus ``late_delay``).
        """
        extra = self.late_delay if fault == "late" else 0.0
        if self.latency_jitter > 0.0:
            return self.latency + rng.uniform(0.0, self.latency_jitter) + extra
        return self.latency + extra

    def retry_after_header(self, now: float) -> str | None:
        """Return the ``Retry-After`` value to send with a 429 or 503, if any.

        Args:
            now: the current wall-clock time (``time.time()``), used for the HTTP-date form.

        Returns:
            The header value, or ``None`` when :attr:`retry_after` is ``None``.
        """
        if self.retry_after is None:
            return None
        if self.retry_after_http_date:
            return email.utils.formatdate(math.ceil(now + self.retry_after), usegmt=True)
        return format_retry_after(self.retry_after)


def format_retry_after(seconds: float) -> str:
    """Format a delay in seconds for ``Retry-After``: ``"2"``, ``"1.5"``, ``"0.25"``.

    Args:
        seconds: a non-negative delay.

    Returns:
        The shortest decimal form with at most 3 decimals.
    """
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _freeze_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


@attrs.frozen
class ScriptedResponse:
    """An exact response for one upcoming ``POST`` (see ``FakeGrooveServer.script``): a
    TrackAction request (spec section 3) or a playlist edit (section 9.1).

    ``ScriptedResponse(500, apply=True)`` commits the request, then answers 500;
    ``ScriptedResponse(drop=True, apply=True)`` commits it, then drops the connection;
    ``ScriptedResponse(200, apply=True, delay=10)`` commits it at once and answers (an empty
    200) too late for most clients; ``ScriptedResponse(drop=True, delay=1, apply=True,
    apply_late=True)`` commits it only when the delay is over, after a client with a shorter
    timeout gave up; ``ScriptedResponse(429, headers={"Retry-After": "0.05"})`` throttles it
    without applying it.

    Attributes:
        status: the HTTP status to send.
        body: bytes and strings are sent as they are (strings UTF-8 encoded); a mapping is encoded
            as JSON exactly as given (no error-code respelling); ``None`` sends an empty body.
        headers: extra response headers. ``Content-Type`` defaults to
            ``application/json; charset=utf-8`` when there is a body.
        drop: close the connection without any response (after ``delay``).
        delay: seconds to wait before answering or dropping.
        apply: process the request into the collection first, as a real server that did the work
            before the answer got lost (e.g. with ``drop=True`` or a 500). The work is done
            when the request arrives (its answer is then discarded), unless ``apply_late``.
        apply_late: with ``apply``, do the work when ``delay`` is over, just before answering
            (or dropping), instead of on arrival: a commit that lands after the client gave up.
    """

    status: int = attrs.field(default=200)
    body: bytes | str | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_freeze_headers)
    drop: bool = False
    delay: float = attrs.field(default=0.0, validator=_non_negative)
    apply: bool = False
    apply_late: bool = attrs.field(default=False)

    @apply_late.validator
    def _check_apply_late(self, attribute: attrs.Attribute[bool], value: bool) -> None:
        if value and not self.apply:
            raise ValueError("apply_late=True needs apply=True")

    @status.validator
    def _check_status(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not 100 <= value <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), got {value!r}")

    def encode(self) -> tuple[bytes, dict[str, str]]:
        """Return the body bytes and the headers to send.

        Returns:
            ``(body, headers)`` with a default JSON ``Content-Type`` when there is a body and the
            headers do not name one.
        """
        body: bytes
        if self.body is None:
            body = b""
        elif isinstance(self.body, bytes):
            body = self.body
        elif isinstance(self.body, str):
            body = self.body.encode("utf-8")
        else:
            body = json.dumps(self.body, separators=(",", ":")).encode("utf-8")
        headers = dict(self.headers)
        if body and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json; charset=utf-8"
        return body, headers
