"""The emulator's request log: one :class:`RequestRecord` per request received."""

from __future__ import annotations

import attrs

__all__ = ["RequestRecord"]


@attrs.frozen
class RequestRecord:
    """One request the emulator received, as kept in :attr:`FakeGrooveServer.requests`.

    Attributes:
        method: the HTTP method.
        path: the URL path, without the query string (which could hold a legacy token).
        status: the status sent, or ``None`` when the connection was dropped.
        id_count: how many IDs the body held: a TrackActionRequest's ``TrackIds``, a
            PlaylistAction's ``TrackActions`` (0 when the body was not readable, and for reads).
        ids: those IDs exactly as received.
        time: ``time.monotonic()`` when the request arrived.
        fault: what answered instead of the genuine response: a :class:`FaultPlan` fault
            (``"drop"``, ``"429"``, ``"409"``, ``"500"``, ``"502"``, ``"503"``, ``"504"``,
            ``"html"``, ``"non_json"``, ``"truncated"``, ``"missing_item"``, ``"lost_500"``,
            ``"lost_504"``, ``"lost_drop"``, ``"late"``) or ``"scripted"``; ``None`` for a
            genuine answer.
        token: a label for the bearer token, never the token: ``"token#N"`` for the N-th token
            the server knows (1-based, in the order given), ``"missing"`` when no
            ``Authorization`` header came, ``"unknown"`` for anything else.
    """

    method: str
    path: str
    status: int | None
    id_count: int
    ids: tuple[str, ...]
    time: float
    fault: str | None
    token: str
