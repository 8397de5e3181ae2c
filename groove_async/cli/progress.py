"""What an import shows while it runs and when it ends, all on stderr but the summary.

A tqdm bar on a terminal, a plain line every few seconds otherwise, nothing with ``--quiet``;
and at the end the summary table (:func:`_print_summary`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import IO, Any, Final, Protocol

from groove_async import BatchStarted, ProgressEvent, RetryScheduled, Throttled

PLAIN_PROGRESS_INTERVAL: Final = 3.0
"""Seconds between two plain progress lines when stderr is not a terminal."""


def _progress_mode(*, quiet: bool, interactive: bool = False) -> str:
    """``bar`` on a terminal, ``lines`` otherwise (or while the user types IDs), or ``off``."""
    if quiet:
        return "off"
    return "bar" if sys.stderr.isatty() and not interactive else "lines"


class _Progress:
    """The live view of an import: a tqdm bar on a terminal, plain lines otherwise, or nothing.

    Item counts come from the results (exact, one per input); POSTs, retries and throttling come
    from the client's ``on_event`` callback. Everything goes to stderr.
    """

    def __init__(self, mode: str, action: str, total: int | None) -> None:
        self.mode = mode
        self.action = action
        self.total = total
        self.resumed = 0  # finished in an earlier run: shown as done from the start
        self.done = 0
        self.fresh = 0  # answered in this run (NOT_SENT excluded): what the rate counts
        self.outcomes: Counter[str] = Counter()
        self.batches = 0
        self.retries = 0
        self.throttled = 0
        self.started = time.monotonic()
        self._bar: Any = None
        self._status: Any = None
        self._task: asyncio.Task[None] | None = None

    def event(self, event: ProgressEvent) -> None:
        """The client's ``on_event`` callback."""
        if isinstance(event, BatchStarted):
            self.batches += 1
        elif isinstance(event, RetryScheduled):
            self.retries += 1
        elif isinstance(event, Throttled):
            self.throttled += 1

    def resume(self, finished: int) -> None:
        """Count the inputs an earlier run finished (before :meth:`start`)."""
        self.resumed = finished
        self.done = finished if self.total is None else min(finished, self.total)

    def advance(self, outcome: str, *, resumed: bool = False) -> None:
        """One more input has its result (``resumed``: from the journal, counted already)."""
        if not resumed:
            self.done += 1
            if outcome != "NOT_SENT":
                self.fresh += 1
        self.outcomes[outcome] += 1

    def start(self) -> None:
        """Show the bar, or start the plain lines."""
        self.started = time.monotonic()
        if self.mode == "bar":
            from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

            self._bar = tqdm(
                total=self.total,
                initial=self.resumed,
                desc=self.action,
                unit=" IDs",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
            )
            # The counts on a status line of their own, below the bar, so neither is squeezed.
            self._status = tqdm(
                bar_format="{desc}", desc=self._counts(), position=1, file=sys.stderr
            )
        if self.mode != "off":
            self._task = asyncio.get_running_loop().create_task(self._tick(), name="progress")

    def message(self, text: str) -> None:
        """An informational line (not shown with ``--quiet``), without garbling the bar."""
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    async def _tick(self) -> None:
        interval = 0.1 if self._bar is not None else PLAIN_PROGRESS_INTERVAL
        while True:
            await asyncio.sleep(interval)
            self._show()

    def _show(self) -> None:
        if self._bar is not None:
            delta = self.done - self._bar.n
            if delta > 0:
                self._bar.update(delta)
            else:
                self._bar.refresh()
            self._status.set_description_str(self._counts())
        elif self.mode == "lines":
            print(self.line(), file=sys.stderr, flush=True)

    def _counts(self) -> str:
        o = self.outcomes
        text = (
            f"  succeeded {o['SUCCEEDED']:,} | rejected {o['REJECTED']:,} | failed {o['FAILED']:,}"
        )
        if o["NOT_SENT"]:
            text += f" | not sent {o['NOT_SENT']:,}"
        return f"{text} | retries {self.retries:,} | throttled {self.throttled:,}"

    def line(self) -> str:
        """The plain progress line."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        done = f"{self.done:,}"
        if self.total:
            done += f"/{self.total:,} ({100 * self.done / self.total:.0f}%)"
        o = self.outcomes
        return (
            f"{self.action}: {done} IDs, {self.fresh / elapsed:,.0f} IDs/s; "
            f"{o['SUCCEEDED']:,} succeeded, {o['REJECTED']:,} rejected, {o['FAILED']:,} failed, "
            f"{o['NOT_SENT']:,} not sent; {_count(self.retries, 'retry', 'retries')}, "
            f"throttled {_count(self.throttled, 'time', 'times')}"
        )

    def close(self) -> None:
        """Stop the ticker and show the final state."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self._show()
        if self._bar is not None:
            self._bar.close()
            self._status.close()
            self._bar = self._status = None


class _Tally(Protocol):
    """The counts of an import, as the summary reads them (an importer holds them)."""

    action: str
    counts: Counter[str]
    """Inputs answered, by outcome (those finished in an earlier run included)."""
    codes: Counter[tuple[str, str]]
    """Inputs not succeeded, by outcome and error code."""
    resumed: int
    """Inputs finished in an earlier run (the journal's)."""

    @property
    def total(self) -> int:
        """Inputs answered."""
        ...


def _print_summary(
    importer: _Tally,
    progress: _Progress,
    elapsed: float,
    out: IO[str],
    extra: Sequence[str] = (),
) -> None:
    """The table printed at the end of an import that took ``elapsed`` seconds."""
    total = importer.total
    answered = total - importer.resumed - importer.counts["NOT_SENT"]
    rate = max(answered, 0) / max(elapsed, 1e-9)
    lines = [
        f"groove-async {importer.action}: {total:,} IDs in {elapsed:.2f} s ({rate:,.0f} IDs/s)",
        f"  {'outcome':<10} {'IDs':>9}  reasons",
    ]
    for outcome in ("SUCCEEDED", "REJECTED", "FAILED", "NOT_SENT"):
        reasons = sorted(
            ((n, code) for (o, code), n in importer.codes.items() if o == outcome), reverse=True
        )
        shown = ", ".join(f"{code} {n:,}" for n, code in reasons[:4])
        if len(reasons) > 4:
            shown += ", ..."
        lines.append(f"  {outcome:<10} {importer.counts[outcome]:>9,}  {shown}".rstrip())
    lines.append(f"  {'total':<10} {total:>9,}")
    if importer.resumed:
        lines.append(f"  {importer.resumed:,} of them finished in an earlier run (journal)")
    lines.append(
        f"  requests: {_count(progress.batches, 'batch', 'batches')}, "
        f"{_count(progress.retries, 'retry', 'retries')}, "
        f"throttled {_count(progress.throttled, 'time', 'times')}"
    )
    lines.extend(extra)
    with contextlib.suppress(BrokenPipeError):
        print("\n".join(lines), file=out, flush=True)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
