"""The emulator's per-token quota: requests per second, then a pause every request must honour.

Off unless set (``server.quota = TokenQuota(rate=...)``). Each token has fixed windows of
``window`` seconds; the request that goes over ``rate * window`` in a window is answered 429
``TOO_MANY_REQUESTS`` with a ``Retry-After`` reaching the end of the window: the pause. While
the pause runs, every request of that token gets a 429 too (with the time left). The quota's
429s are answered at once, without the plan's latency, as a rate limiter in front of a service
answers.

A pause counts as announced when its first 429 is sent. A request of the token that arrives
after the announcement and before the pause is over is a violation:
:attr:`TokenQuota.violations` records each one with how long after the announcement it
arrived, so a test can tell the requests already on their way when it was announced (a few
milliseconds) from those of a client that was not told.
"""

from __future__ import annotations

import attrs

__all__ = ["TokenQuota", "Violation"]


@attrs.frozen
class Violation:
    """A request that arrived inside a pause the emulator had announced.

    Attributes:
        token: the token's log label.
        after: seconds between the pause's announcement and the request's arrival.
    """

    token: str
    after: float


@attrs.define
class _Window:
    start: float
    count: int = 0
    until: float = 0.0
    announced: float | None = None


class TokenQuota:
    """At most ``rate`` requests per second per token (see the module's description).

    Args:
        rate: requests per second each token may make (> 0).
        window: the length of a counting window, in seconds (> 0).

    Attributes:
        violations: every request that arrived inside an announced pause.
        admitted: requests let through, per token label.
        throttled: requests answered 429 by the quota, per token label.
    """

    def __init__(self, rate: float, *, window: float = 1.0) -> None:
        if not rate > 0 or not window > 0:
            raise ValueError(f"rate and window must be > 0, got {rate} and {window}")
        self.rate = rate
        self.window = window
        self.violations: list[Violation] = []
        self.admitted: dict[str, int] = {}
        self.throttled: dict[str, int] = {}
        self._windows: dict[str, _Window] = {}

    def __repr__(self) -> str:
        return f"TokenQuota(rate={self.rate}, window={self.window})"

    def violation_count(self, grace: float = 0.0) -> int:
        """Violations that arrived more than ``grace`` seconds after their announcement."""
        return sum(1 for v in self.violations if v.after > grace)

    def arrive(self, token: str, now: float) -> float | None:
        """A request of ``token`` arrives at ``now`` (monotonic): ``None`` to let it through,
        else the end of the pause it falls in."""
        window = self._windows.get(token)
        if window is None:
            window = self._windows[token] = _Window(now)
        if now < window.until:
            if window.announced is not None and now >= window.announced:
                self.violations.append(Violation(token, now - window.announced))
            self.throttled[token] = self.throttled.get(token, 0) + 1
            return window.until
        if now >= window.start + self.window:
            window.start, window.count = now, 0
        window.count += 1
        if window.count > self.rate * self.window:
            window.until, window.announced = window.start + self.window, None
            self.throttled[token] = self.throttled.get(token, 0) + 1
            return window.until
        self.admitted[token] = self.admitted.get(token, 0) + 1
        return None

    def announce(self, token: str, until: float, now: float) -> float:
        """A 429 for the pause ending at ``until`` is sent at ``now``: the pause counts as
        announced from the first one. Returns the seconds left (the ``Retry-After``)."""
        window = self._windows[token]
        if window.until == until and window.announced is None:
            window.announced = now
        return max(0.001, until - now)
