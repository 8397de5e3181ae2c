"""What an import shows while it runs and when it ends, all on stderr but the summary.

A tqdm bar on a terminal, a plain line every few seconds otherwise, nothing with ``--quiet``;
and at the end the summary table (:func:`_print_summary`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import IO, Any, Final, Protocol

from groove_async import BatchStarted, ProgressEvent, RetryScheduled, Throttled

from .parser import _stdout_gone

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
        self.done = 0  # resumed + fresh: NOT_SENT inputs are not done, a stopped run not 100%
        self.fresh = 0  # answered in this run (NOT_SENT excluded): what the rate counts
        self.outcomes: Counter[str] = Counter()
        self.batches = 0
        self.retries = 0
        self.throttled = 0
        self.requests = True  # whether the client's events count the requests (bulk ones do)
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
        """One more input has its result (``resumed``: from the journal, counted already).

        An input NOT_SENT has its result but is not done: the progress of a run stopped midway
        (Ctrl-C, a refused token) stays where it stopped instead of jumping to 100%.
        """
        if not resumed and outcome != "NOT_SENT":
            self.done += 1
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
        if not self.requests:
            return text
        return f"{text} | retries {self.retries:,} | throttled {self.throttled:,}"

    def line(self) -> str:
        """The plain progress line."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        done = f"{self.done:,}"
        if self.total:
            done += f"/{self.total:,} ({100 * self.done / self.total:.0f}%)"
        o = self.outcomes
        line = (
            f"{self.action}: {done} IDs, {self.fresh / elapsed:,.0f} IDs/s; "
            f"{o['SUCCEEDED']:,} succeeded, {o['REJECTED']:,} rejected, {o['FAILED']:,} failed, "
            f"{o['NOT_SENT']:,} not sent"
        )
        if not self.requests:
            return line
        return (
            f"{line}; {_count(self.retries, 'retry', 'retries')}, "
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
    """Inputs not succeeded, by outcome and reason (:func:`_reason`)."""
    causes: Counter[tuple[str, str]]
    """Inputs FAILED, by error code and message: why they failed."""
    resumed: int
    """Inputs finished in an earlier run (the journal's)."""

    @property
    def total(self) -> int:
        """Inputs answered."""
        ...


MAX_REASONS: Final = 4
"""Reasons shown on an outcome's row of the summary."""
MAX_CAUSES: Final = 3
"""Causes of failure shown under the summary, one line each."""
MAX_CAUSE_LENGTH: Final = 400
"""Characters of a cause kept and shown: the whole of any the client words (the longest, an
unresolvable host's whose retry budget ran out, is about 190 characters: what comes last, why
retrying stopped, matters most), yet bounded for a server's own long text."""
MAX_DISTINCT_CAUSES: Final = 1_000
"""Causes of failure told apart (code and message); the rest are counted together per code."""


def _reason(outcome: str, code: str, description: str | None) -> str:
    """What the summary shows as the reason of an input's outcome: its error code, or, when the
    code only repeats the outcome (``NOT_SENT``), the description, such as ``the import was
    stopped``."""
    if code != outcome or not description:
        return code
    # The client's "operation" is the import here: one reason, whoever stopped it
    return description.removeprefix("Not sent: ").replace("the operation", "the import")


def _count_cause(causes: Counter[tuple[str, str]], code: str, message: str | None) -> None:
    """Count why an input failed, in ``causes``; its size stays bounded whatever the messages."""
    cause = " ".join((message or "no detail given").split())[:MAX_CAUSE_LENGTH]
    if (code, cause) not in causes and len(causes) >= MAX_DISTINCT_CAUSES:
        cause = "(other messages)"
    causes[(code, cause)] += 1


def _print_summary(
    importer: _Tally,
    progress: _Progress,
    elapsed: float,
    out: IO[str],
    extra: Sequence[str] = (),
    *,
    requests: str | None = None,
) -> None:
    """The table printed at the end of an import that took ``elapsed`` seconds.

    ``requests`` replaces the line counting the batches, retries and throttling (which only the
    bulk operations report).
    """
    total = importer.total
    lines = [_headline(importer, elapsed), f"  {'outcome':<10} {'IDs':>9}  reasons"]
    for outcome in ("SUCCEEDED", "REJECTED", "FAILED", "NOT_SENT"):
        reasons = sorted(
            ((n, reason) for (o, reason), n in importer.codes.items() if o == outcome),
            key=lambda pair: (-pair[0], pair[1]),
        )
        if len(reasons) == 1:
            shown = reasons[0][1]  # its count is the row's
        else:
            shown = ", ".join(f"{reason} {n:,}" for n, reason in reasons[:MAX_REASONS])
            if len(reasons) > MAX_REASONS:
                shown += ", ..."
        lines.append(f"  {outcome:<10} {importer.counts[outcome]:>9,}  {shown}".rstrip())
    lines.append(f"  {'total':<10} {total:>9,}")
    if importer.resumed:
        lines.append(f"  {importer.resumed:,} of them finished in an earlier run (journal)")
    lines.extend(_causes(importer.causes))
    lines.append(
        requests
        or f"  requests: {_count(progress.batches, 'batch', 'batches')}, "
        f"{_count(progress.retries, 'retry', 'retries')}, "
        f"throttled {_count(progress.throttled, 'time', 'times')}"
    )
    lines.extend(extra)
    try:
        print("\n".join(lines), file=out, flush=True)
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        if out is sys.stdout:
            _stdout_gone()


def _headline(importer: _Tally, elapsed: float) -> str:
    """The summary's first line: the IDs, and how many were processed in this run, how fast.

    Processed: answered in this run, whatever the outcome (not NOT_SENT, not the journal's).
    """
    total = importer.total
    head = f"groove-async {importer.action}: {total:,} IDs"
    processed = total - importer.resumed - importer.counts["NOT_SENT"]
    if processed <= 0:
        if importer.resumed == total:
            return f"{head}, all finished in an earlier run (journal): nothing to send"
        return f"{head}; none processed in {elapsed:.2f} s"
    rate = f"({processed / max(elapsed, 1e-9):,.0f} IDs/s)"
    if processed == total:
        return f"{head} in {elapsed:.2f} s {rate}"
    return f"{head}; {processed:,} processed in this run in {elapsed:.2f} s {rate}"


def _causes(causes: Counter[tuple[str, str]]) -> list[str]:
    """The most common causes of failure, one line each: ``count CODE: message``."""
    if not causes:
        return []
    lines = ["  why they failed, most common first:"]
    for (code, cause), n in sorted(causes.items(), key=lambda item: (-item[1], item[0]))[
        :MAX_CAUSES
    ]:
        if len(cause) >= MAX_CAUSE_LENGTH:  # cut when counted
            cause = cause[: MAX_CAUSE_LENGTH - 3] + "..."
        lines.append(f"  {'':<10} {n:>9,}  {code}: {cause}")
    if len(causes) > MAX_CAUSES:
        others = _count(len(causes) - MAX_CAUSES, "other cause", "other causes")
        lines.append(f"  {'':<10} {'':>9}  and {others}: --output has each input's error")
    return lines


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
