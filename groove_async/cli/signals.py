"""SIGINT and SIGTERM while a command runs, and how a stopped command says so.

The first signal stops an import gracefully (what is in flight finishes, the rest is not sent);
the second abandons what is in flight: through the client's own hard stop where there is one (so
that only what was sent is of unknown outcome), else by cancelling the import. ``export`` has
nothing to finish: its first signal cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .progress import _Progress

T = TypeVar("T")


def _stopping(signum: int) -> str:
    """What the first SIGINT or SIGTERM does, and how to abandon the batches in flight."""
    if signum == signal.SIGINT:
        return (
            "Stopping: batches in flight finish, the rest is not sent "
            "(Ctrl-C again to abandon them)."
        )
    name = signal.Signals(signum).name
    return (
        f"Stopping on {name}: batches in flight finish, the rest is not sent "
        f"(a second {name} abandons them)."
    )


def _stopped_by(signum: int) -> str:
    """How an import or a demo stopped by a signal says so: ``interrupted`` is Ctrl-C's."""
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


class _Signals:
    """SIGINT/SIGTERM while an import runs: the first stops it gracefully, the second abandons.

    Installed for the whole import, cleanup included, so that no signal lands as a
    ``KeyboardInterrupt`` while the journal and the output are being closed.

    Args:
        stop: set by the first signal.
        progress: where the signals are told.
        abandon: what the second signal calls to stop hard (the client's own hard stop, which
            answers every input: what was sent FAILED, the rest NOT_SENT); without it, or at a
            third signal, the import's task is cancelled, and what it was waiting for is of
            unknown outcome.

    Attributes:
        received: the first signal's number, else ``None``.
        abandoned: whether a second signal abandoned what was in flight.
        cancelled: whether the import's task was cancelled (so its unanswered inputs are of
            unknown outcome).
    """

    def __init__(
        self,
        stop: asyncio.Event,
        progress: _Progress,
        abandon: Callable[[], None] | None = None,
    ) -> None:
        self._stop = stop
        self._progress = progress
        self._abandon = abandon
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._installed: list[int] = []
        self.received: int | None = None
        self.abandoned = False
        self.cancelled = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, threads
                self._loop.add_signal_handler(signum, self._on_signal, signum)
                self._installed.append(signum)

    def _on_signal(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
            self._stop.set()
            self._progress.message(_stopping(signum))
            return
        task = self._task
        if task is None or task.done() or self.cancelled:
            return
        if not self.abandoned:
            self.abandoned = True
            self._progress.message("Abandoning the batches in flight.")
            if self._abandon is not None:
                self._abandon()
                return
        self.cancelled = True  # no hard stop of its own, or a third signal
        task.cancel()

    async def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task that a second signal cancels (which is not an error here)."""
        self._task = task = asyncio.create_task(work, name="import")
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self.cancelled or (current is not None and current.cancelling()):
                raise

    def remove(self) -> None:
        """Restore the default handlers."""
        for signum in self._installed:
            self._loop.remove_signal_handler(signum)
        self._installed.clear()


class _CancelOnSignal:
    """SIGINT/SIGTERM while a command with nothing to finish runs (``export``): cancel it.

    Attributes:
        received: the first signal's number, else ``None``.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[Any] | None = None
        self._installed: list[int] = []
        self.received: int | None = None

    def _on_signal(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
            if self._task is not None:
                self._task.cancel()

    async def run(self, work: Coroutine[Any, Any, T]) -> T | None:
        """``work``'s value, or ``None`` when a signal cancelled it."""
        self._task = task = asyncio.create_task(work, name="export")  # runs from the await on
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, threads
                self._loop.add_signal_handler(signum, self._on_signal, signum)
                self._installed.append(signum)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.received is None or (current is not None and current.cancelling()):
                raise
            return None
        finally:
            for installed in self._installed:
                self._loop.remove_signal_handler(installed)
            self._installed.clear()
