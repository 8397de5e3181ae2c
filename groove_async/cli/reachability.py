"""A server that never answers: stop early instead of walking the whole input.

With a dead or unresolvable ``--base-url`` every request fails to connect; without a check the
import would send every batch, each retried, and report the whole input ``CONNECTION_ERROR``
after a long while. :class:`_Reachability` watches the results as they come: once
:data:`UNREACHABLE_BATCHES` batches' worth of IDs failed to connect and nothing was answered by
the server, it stops the import gracefully (the client's ``stop=``): the rest is NOT_SENT and one
line says that the server is unreachable and how to resume.
"""

from __future__ import annotations

import asyncio
from typing import Final

UNREACHABLE_BATCHES: Final = 3
"""Full batches that all failed to connect, with no answer at all, before the import stops."""

_CONNECT_FAILED: Final = "CONNECTION_ERROR"
"""The client's code for a request whose connection failed or dropped (``TransportError``)."""
_NO_ANSWER: Final = frozenset({_CONNECT_FAILED, "TIMEOUT"})
"""Failures that say nothing of a server being there; any other result is its answer."""


class _Reachability:
    """Stops an import whose server never answers (see the module docstring).

    Args:
        stop: the import's graceful stop, set when the server is found unreachable.
        batch_size: IDs per request: the threshold is :data:`UNREACHABLE_BATCHES` of them.
        base_url: the server, as the one line names it.

    Attributes:
        answered: whether any result came from the server's answer.
        failed: IDs that failed to connect while nothing was answered.
        unreachable: whether the import was stopped for it.
    """

    def __init__(self, stop: asyncio.Event, *, batch_size: int, base_url: str) -> None:
        self._stop = stop
        self._threshold = UNREACHABLE_BATCHES * batch_size
        self.base_url = base_url
        self.answered = False
        self.failed = 0
        self.unreachable = False

    def see(self, outcome: str, code: str | None) -> None:
        """One result of a request (not a journal's, not an invalid line's)."""
        if self.answered or self.unreachable:
            return
        if outcome == "FAILED" and code == _CONNECT_FAILED:
            self.failed += 1
            if self.failed >= self._threshold:
                self.unreachable = True
                self._stop.set()
        elif outcome in ("SUCCEEDED", "REJECTED") or code not in _NO_ANSWER:
            self.answered = True

    def line(self, journal: str | None) -> str:
        """What the command says when it stopped for it: the server, and how to resume."""
        again = (
            f"run the same command again to resume (the journal {journal} keeps what finished)"
            if journal is not None
            else "run the same command again"
        )
        return (
            f"the server at {self.base_url} is unreachable: the first {self.failed:,} IDs all "
            f"failed to connect ({_CONNECT_FAILED}) and nothing answered, so the rest was not "
            f"sent. Check --base-url and the network, then {again}"
        )
