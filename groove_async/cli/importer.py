"""The import run shared by ``add``, ``delete``, ``playlist create`` and ``demo``.

The inputs are fed to a sender: :meth:`GrooveClient.stream_add_tracks` (or
``stream_delete_tracks``), or the job's own (:attr:`_Job.sender`: a playlist's chunks), and
each input gets one result, written in input order. Inputs finished in an earlier run (the
journal's) and lines that are not valid IDs are admitted without being sent: they are answered
in their own position (REJECTED with the code ``INVALID_INPUT`` for an invalid line). The first
SIGINT/SIGTERM stops the import gracefully, the second abandons the batches in flight
(:class:`_Signals`): the client's bulk stream through the client's own hard stop
(:meth:`GrooveClient.aclose`), so that only the inputs of POSTs that went out are FAILED
(``ABANDONED``: of unknown outcome) and the rest NOT_SENT; a job's own sender by cancelling it.
Either way every input read gets its result.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Final, NamedTuple, Protocol

from groove_async import AuthenticationError, GrooveClient, TrackResult

from .inputs import _Input, _Inputs, _Source
from .journal import FINISHED, Journal, JournalError, JournalHeader, JournalRecord
from .journal_writer import _JournalWriter
from .output import _Output
from .parser import _FileError, _in_cli_terms, _UsageError
from .progress import _count_cause, _Progress, _reason
from .reachability import _Reachability
from .signals import _Signals

_encode: Final = json.JSONEncoder(ensure_ascii=False).encode  # built once, not per call

_ABANDONED: Final = (
    "Abandoned by a second interrupt before an answer came (it may or may not have been applied)"
)
_CLOSED: Final = "CLIENT_CLOSED"
"""The code of a result the client's hard stop (``aclose``) left unanswered after sending it."""


class _Slot:
    """An input waiting for its place in the output: ``text`` is its JSON line once known."""

    __slots__ = ("input", "text")

    def __init__(self, item: _Input) -> None:
        self.input = item
        self.text: str | None = None


def _made_up(
    item: _Input, outcome: str, code: str, description: str, message: str | None
) -> dict[str, Any]:
    return {
        "input_id": item.track_id,
        "id": None,
        "outcome": outcome,
        "error": {"code": code, "description": description, "message": message},
    }


class _Sender(Protocol):
    """What sends the IDs fed to it and yields one result for each, in the order fed."""

    halted: str | None
    """Why the sender stopped on its own, the rest unsent (one line), or ``None``."""

    @property
    def requests(self) -> str:
        """The summary's line about the requests sent, instead of the batches and retries."""
        ...

    def __call__(
        self, ids: AsyncIterator[str], stop: asyncio.Event
    ) -> AsyncIterator[TrackResult]: ...


class _Importer:
    """Feeds the inputs to a client stream and puts every result back in its input position.

    Inputs finished in an earlier run (the journal's) and invalid lines are answered without
    being sent; the rest go to the client, whose results come back in the order they were fed.
    """

    def __init__(
        self,
        action: str,
        inputs: _Inputs,
        *,
        source_name: str,
        finished: Mapping[int, JournalRecord],
        progress: _Progress,
        output: _Output | None,
        journal: _JournalWriter | None,
        rerunnable: bool,
        on_result: Callable[[_Input, dict[str, Any]], None] | None = None,
        sender: _Sender | None = None,
        reachability: _Reachability | None = None,
    ) -> None:
        self.action = action
        self.reachability = reachability
        self.sender = sender
        self.inputs = inputs
        self.source_name = source_name
        self.finished = finished
        self.progress = progress
        self.output = output
        self.journal = journal
        self.rerunnable = rerunnable
        self.on_result = on_result
        self.slots: deque[_Slot] = deque()  # input order, not yet written out
        self.waiting: deque[_Slot] = deque()  # fed to the client, awaiting results, in order
        self.counts: Counter[str] = Counter()
        self.codes: Counter[tuple[str, str]] = Counter()
        self.causes: Counter[tuple[str, str]] = Counter()
        self.resumed = 0
        self.auth_error: AuthenticationError | None = None
        self.input_error: OSError | None = None
        self.closing: asyncio.Task[None] | None = None
        """The client's hard stop, once a second interrupt asked for it (:meth:`abandon`)."""

    @property
    def total(self) -> int:
        """Inputs answered so far."""
        return sum(self.counts.values())

    async def run(self, client: GrooveClient, stop: asyncio.Event) -> None:
        """Send everything (or until ``stop`` is set) and answer every input fed to the client."""
        if self.sender is not None:
            stream = self.sender(self._feed(), stop)
        else:
            send = client.stream_add_tracks if self.action == "add" else client.stream_delete_tracks
            stream = send(self._feed(), stop=stop)
        try:
            async for result in stream:
                self._answer(result)
        except AuthenticationError as exc:
            self.auth_error = exc
            for result in exc.partial or ():
                self._answer(result)
        except OSError as exc:  # reading the input failed; the inputs before it are answered
            self.input_error = exc
        finally:
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()

    def abandon(self, client: GrooveClient) -> None:
        """Abandon the batches in flight through the client's own hard stop.

        :meth:`GrooveClient.aclose` stops the stream hard: its POSTs in flight are cancelled
        and it still answers every input fed to it, FAILED (``CLIENT_CLOSED``) where a POST
        went out, NOT_SENT where none did: only what was sent is of unknown outcome.
        """
        if self.closing is None:
            self.closing = asyncio.get_running_loop().create_task(client.aclose())

    async def finish(self, *, stopped: bool, abandoned: bool) -> None:
        """Answer what the client never answered, so every input read has its output line.

        ``abandoned``: the import was cancelled, so that what it was waiting for may or may not
        have been applied (FAILED, ``ABANDONED``); else it is NOT_SENT. After a stop, the rest
        of a file is read and answered too (NOT_SENT, or its journal result); stdin is not read
        any further.
        """
        while self.waiting:
            slot = self.waiting.popleft()
            if abandoned:
                record = _made_up(slot.input, "FAILED", "ABANDONED", _ABANDONED, None)
            else:
                record = _made_up(slot.input, "NOT_SENT", "NOT_SENT", self._not_sent(), None)
            self._settle(slot, record)
        output_failed = self.output is not None and self.output.error is not None
        if (stopped or self.auth_error is not None) and self.rerunnable and not output_failed:
            async for item in self.inputs:
                unsent = self._admit(item)
                if unsent is not None:
                    record = _made_up(item, "NOT_SENT", "NOT_SENT", self._not_sent(), None)
                    self._settle(unsent, record)
        self._drain()

    def _not_sent(self) -> str:
        if self.auth_error is not None:
            return "Not sent: the import stopped after an authentication failure"
        if self.input_error is not None:
            return "Not sent: the import stopped after the input could not be read"
        if self.output is not None and self.output.error is not None:
            return "Not sent: the import stopped after the output could not be written"
        if self.sender is not None and self.sender.halted is not None:
            return "Not sent: the import stopped after an error"
        if self.reachability is not None and self.reachability.unreachable:
            return "Not sent: the import stopped: the server is unreachable"
        return "Not sent: the import was stopped"

    async def _feed(self) -> AsyncIterator[str]:
        async for item in self.inputs:
            slot = self._admit(item)
            if slot is not None:
                self.waiting.append(slot)
                yield item.track_id

    def _admit(self, item: _Input) -> _Slot | None:
        """Queue an input's slot; answer it now if it needs no sending, else return it."""
        slot = _Slot(item)
        self.slots.append(slot)
        done = self.finished.get(item.position)
        if done is not None and done.input_id == item.track_id:
            slot.text = done.result
            self.resumed += 1
            self._count(done.outcome, {"code": done.code}, resumed=True)
        elif item.problem is not None:
            record = _made_up(
                item,
                "REJECTED",
                "INVALID_INPUT",
                f"Not a valid track ID: {item.problem}",
                f"line {item.line} of {self.source_name}",
            )
            self._settle(slot, record, final=True)
        else:
            return slot
        self._drain()
        return None

    def _answer(self, result: TrackResult) -> None:
        slot = self.waiting.popleft()
        if slot.input.track_id != result.input_id:  # the client's contract: input order
            raise RuntimeError(
                f"result for {result.input_id!r} arrived in the place of {slot.input.track_id!r}"
            )
        record = result.to_record()
        if self.reachability is not None:
            error = record["error"]
            self.reachability.see(record["outcome"], error["code"] if error else None)
        if self.closing is not None and record["outcome"] in ("FAILED", "NOT_SENT"):
            record = self._abandoned(slot.input, record)
        self._settle(slot, record, final=record["outcome"] in FINISHED)
        if self.on_result is not None:
            self.on_result(slot.input, record)
        self._drain()

    def _abandoned(self, item: _Input, record: dict[str, Any]) -> dict[str, Any]:
        """A result of the client's hard stop, in the command line's words."""
        if record["outcome"] == "NOT_SENT":
            return _made_up(item, "NOT_SENT", "NOT_SENT", self._not_sent(), None)
        if record["error"] is not None and record["error"]["code"] == _CLOSED:
            return _made_up(item, "FAILED", "ABANDONED", _ABANDONED, None)
        return record

    def _settle(self, slot: _Slot, record: dict[str, Any], *, final: bool = False) -> None:
        slot.text = text = _encode(record)
        self._count(record["outcome"], record["error"])
        if final and self.journal is not None:
            self.journal.add(slot.input.position, text)

    def _count(
        self, outcome: str, error: Mapping[str, Any] | None, *, resumed: bool = False
    ) -> None:
        self.counts[outcome] += 1
        if outcome != "SUCCEEDED":
            error = error or {}
            code = error.get("code") or "?"
            self.codes[(outcome, _reason(outcome, code, error.get("description")))] += 1
            if outcome == "FAILED":
                _count_cause(self.causes, code, error.get("message") or error.get("description"))
        self.progress.advance(outcome, resumed=resumed)

    def _drain(self) -> None:
        slots, output = self.slots, self.output
        while slots and slots[0].text is not None:
            text = slots.popleft().text
            if output is not None and text is not None:
                output.write(text)


class _Context(NamedTuple):
    """What a job's own sender works with (see :attr:`_Job.sender`)."""

    job: _Job
    client: GrooveClient
    progress: _Progress
    journal: _JournalWriter | None
    finished: dict[int, JournalRecord]
    """The journal's finished positions, which the importer reads as it admits the inputs: a
    sender may add to it before it reads any input (what a resume found already done)."""


class _Job(NamedTuple):
    """Everything ``add`` / ``delete`` / ``playlist create`` / ``demo`` need to run an import."""

    action: str
    source: _Source
    source_name: str
    total: int | None
    progress: str
    output: str | None
    client_options: Mapping[str, Any]
    journal: str | None = None
    input_sha256: str | None = None
    rerunnable: bool = True
    same_user: bool = False
    playlist: str | None = None
    """The name of the playlist a ``playlist create`` fills (part of its journal's identity)."""
    sender: Callable[[_Context], _Sender] | None = None
    """Makes the sender, when it is not the client's bulk stream of :attr:`action`."""


class _Outcome(NamedTuple):
    """How an import ended."""

    importer: _Importer
    progress: _Progress
    elapsed: float
    signal: int | None
    journal: Journal | None
    journal_error: OSError | None
    output: _Output | None = None
    halted: str | None = None
    """Why the job's own sender stopped (one line), if it did."""
    requests: str | None = None
    """The job's own sender's summary line about its requests."""


async def _import(
    job: _Job,
    token: str,
    on_result: Callable[[_Input, dict[str, Any]], None] | None = None,
) -> _Outcome:
    """Run one import: open the journal and output, stream, finish, close everything."""
    progress = _Progress(job.progress, job.action, job.total)
    try:
        client = GrooveClient(token, on_event=progress.event, **job.client_options)
    except (TypeError, ValueError) as exc:
        raise _UsageError(_in_cli_terms(str(exc), "--base-url")) from None
    stop = asyncio.Event()
    async with client:
        journal = _open_journal(job, client.base_url, token)
        finished: dict[int, JournalRecord] = {}
        try:
            if journal is not None and not journal.created:
                finished = _trusted(journal, job, progress)
            output = _Output(job.output, lambda _: stop.set()) if job.output is not None else None
        except BaseException:
            if journal is not None:
                journal.close()
            raise
        writer = _JournalWriter(journal, lambda _: stop.set()) if journal is not None else None
        sender = None
        if job.sender is not None:
            sender = job.sender(_Context(job, client, progress, writer, finished))
        importer = _Importer(
            job.action,
            _Inputs(job.source),
            source_name=job.source_name,
            finished=finished,
            progress=progress,
            output=output,
            journal=writer,
            rerunnable=job.rerunnable,
            on_result=on_result,
            sender=sender,
            # The bulk stream sends batches concurrently; a job's own sender stops by itself.
            reachability=None
            if sender is not None
            else _Reachability(
                stop,
                batch_size=job.client_options.get("batch_size", 100),
                base_url=client.base_url,
            ),
        )
        progress.start()
        started = time.monotonic()
        # The client's bulk stream stops hard when the client closes; a job's own sender is
        # cancelled instead.
        abandon = functools.partial(importer.abandon, client) if sender is None else None
        signals = _Signals(stop, progress, abandon)
        complete = False
        try:
            await signals.run(importer.run(client, stop))
            await importer.finish(stopped=stop.is_set(), abandoned=signals.cancelled)
            if importer.closing is not None:
                await importer.closing
            complete = True
        finally:
            try:
                progress.close()
                if writer is not None:
                    await writer.close()
                if output is not None:
                    output.close(complete=complete)
            finally:
                signals.remove()
        return _Outcome(
            importer,
            progress,
            time.monotonic() - started,
            signals.received,
            journal,
            writer.error if writer is not None else None,
            output,
            sender.halted if sender is not None else None,
            sender.requests if sender is not None else None,
        )


def _open_journal(job: _Job, base_url: str, token: str) -> Journal | None:
    """The job's journal, opened (or created) for its input, action, base URL and playlist."""
    if job.journal is None:
        return None
    header = JournalHeader(
        job.action, base_url, job.input_sha256 or "", job.source_name, playlist=job.playlist
    )
    try:
        return Journal.open(job.journal, header, token=token)
    except JournalError as exc:
        raise _UsageError(str(exc)) from None
    except OSError as exc:
        raise _FileError(f"cannot use the journal {job.journal}: {exc}") from None


def _trusted(journal: Journal, job: _Job, progress: _Progress) -> dict[int, JournalRecord]:
    """The results of a resumed journal that this run keeps instead of sending them again.

    All of them when the journal was written under this token, or ``--same-user`` vouches for
    it; none (and a warning, even with ``--quiet``) when it was written under another token or
    an unknown one: another user's results say nothing of this user's collection, and sending
    again is safe (adds are idempotent; deletes are answered item by item).

    Raises:
        _UsageError: a journal of a playlist written under another or an unknown token, without
            ``--same-user``: the playlist is that user's, and starting over would make another.
    """
    count = len(journal.finished)
    repaired = " (a line torn by a crash was dropped)" if journal.repaired else ""
    trusted = journal.token_matches or job.same_user
    if journal.playlist_id is not None and not trusted:
        raise _UsageError(
            f"the journal {job.journal} was written under another token: its playlist "
            f"{journal.playlist_id} belongs to that user. If it is your own token, refreshed, "
            "pass --same-user; else use another --journal file"
        )
    if trusted or not count:
        progress.resume(count)
        progress.message(
            f"Resuming from {job.journal}: {count:,} IDs finished earlier will not be sent "
            f"again{repaired}."
        )
        return journal.finished
    whose = "another token" if journal.token_matches is False else "an unrecorded token"
    print(
        f"groove-async {job.action}: warning: the journal {job.journal} was written under "
        f"{whose}: its {count:,} finished IDs are sent again (if it is your own token, "
        f"refreshed, pass --same-user to skip them){repaired}.",
        file=sys.stderr,
        flush=True,
    )
    return {}
