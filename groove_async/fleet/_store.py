"""A job's durable state in Redis: its input, its progress and its results.

Per job (``groove:fleet:job:<id>:``): ``meta`` (user, action, total, state, error), ``input``
(chunk number -> the chunk's inputs), ``results`` (chunk -> its records), ``progress`` (the
job's counts per outcome) and ``inflight`` (the chunks sent but not yet recorded: the
write-ahead record). A chunk is recorded in one MULTI the moment its batch finishes, whatever
its position: its records, the job's counts and its removal from ``inflight`` together, so a
crash leaves either all of it or none.

The rules are the file journal's: only SUCCEEDED and REJECTED are final; a job picked up again
resends what was in flight and what was not final, never what was.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar, cast

import attrs

from ._names import CHUNK, PREFIX, TERMINAL

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["FINAL", "OUTCOMES", "JobProgress", "JobSpec", "Record", "Store"]

Record: TypeAlias = dict[str, Any]
"""One input's result, as ``groove-async add --output`` writes it: ``input_id``, ``id``,
``outcome``, ``error`` (``code``, ``description``, ``message``) or ``None``."""

Item: TypeAlias = "str | Record"
"""An input as stored: an ID to send, or the final record of a line that is not an ID."""

OUTCOMES: Final = ("SUCCEEDED", "REJECTED", "FAILED", "NOT_SENT")
FINAL: Final = frozenset({"SUCCEEDED", "REJECTED"})
_INDEX: Final = f"{PREFIX}:jobs"
_READ_CHUNKS: Final = 200

# KEYS[1] the de-duplication key; ARGV[1] the new job's ID, ARGV[2] the job keys' prefix.
# Returns the job that stands for this input: an unfinished earlier one, or the new one.
_CLAIM: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local state = redis.call('HGET', ARGV[2] .. current .. ':meta', 'state')
  if state and state ~= 'complete' and state ~= 'failed' and state ~= 'aborted' then
    return current
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""

# KEYS[1] meta; ARGV[1] the new state, ARGV[2] its error ('' for none). A terminal state is
# never replaced (saq's sweep may try to write "aborted" over "failed"). Returns the state.
_SET_STATE: Final = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return false end
if current == 'complete' or current == 'failed' or current == 'aborted' then return current end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[2]) end
if ARGV[1] == 'complete' or ARGV[1] == 'failed' or ARGV[1] == 'aborted' then
  redis.call('HSET', KEYS[1], 'ended', ARGV[3])
end
return ARGV[1]
"""


@attrs.frozen
class JobSpec:
    """What a job is: its user, action and size."""

    job_id: str
    user: str
    action: str
    total: int
    chunks: int
    digest: str | None
    state: str
    error: str | None
    created: float
    ended: float | None


@attrs.frozen
class JobProgress:
    """Where a job stands: its state, and how many inputs ended in each outcome so far.

    Attributes:
        job_id: the job's ID.
        user: whose import it is.
        action: ``"add"`` or ``"delete"``.
        status: ``queued``, ``active``, ``complete``, ``failed`` or ``aborted``.
        total: inputs of the job.
        done: inputs with a recorded result (any outcome).
        succeeded, rejected, failed, not_sent: the recorded results per outcome.
        error: why a failed (or aborted) job ended, in words; ``None`` otherwise.
    """

    job_id: str
    user: str
    action: str
    status: str
    total: int
    done: int
    succeeded: int
    rejected: int
    failed: int
    not_sent: int
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The object ``groove-async job --json`` prints."""
        return {
            "id": self.job_id,
            "user": self.user,
            "action": self.action,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "succeeded": self.succeeded,
            "rejected": self.rejected,
            "failed": self.failed,
            "not_sent": self.not_sent,
            "error": self.error,
        }


_T = TypeVar("_T")


def _aw(value: Awaitable[_T] | _T) -> Awaitable[_T]:
    """redis-py types its commands as sync-or-async; on the asyncio client they are awaitable."""
    return cast(Awaitable[_T], value)


def _key(job_id: str, part: str) -> str:
    return f"{PREFIX}:job:{job_id}:{part}"


_PARTS: Final = ("meta", "input", "results", "progress", "inflight")


def counts_of(records: Sequence[Record]) -> tuple[int, int, int, int]:
    """How many of ``records`` ended in each of :data:`OUTCOMES`."""
    tally = dict.fromkeys(OUTCOMES, 0)
    for record in records:
        tally[record["outcome"]] += 1
    return tally["SUCCEEDED"], tally["REJECTED"], tally["FAILED"], tally["NOT_SENT"]


class Store:
    """The fleet's reads and writes of job state (one per Redis client)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._set_state = redis.register_script(_SET_STATE)

    # -- submitting ------------------------------------------------------------------------

    async def stage(
        self, job_id: str, user: str, action: str, items: Sequence[Item], digest: str
    ) -> None:
        """Write a new job's input and meta (state ``queued``) before it is enqueued."""
        pipe = self.redis.pipeline(transaction=True)
        chunks = (len(items) + CHUNK - 1) // CHUNK
        for k in range(chunks):
            part = json.dumps(items[k * CHUNK : (k + 1) * CHUNK], ensure_ascii=False)
            pipe.hset(_key(job_id, "input"), str(k), part)
        meta: dict[str, str | int] = {"user": user, "action": action, "digest": digest}
        meta |= {"total": len(items), "chunks": chunks}
        meta |= {"state": "queued", "created": f"{time.time():.3f}"}
        pipe.hset(_key(job_id, "meta"), mapping=meta)
        pipe.zadd(_INDEX, {job_id: time.time()})
        await pipe.execute()

    async def claim(self, digest: str, job_id: str) -> str:
        """The job that stands for the input of ``digest``: an unfinished one, or ``job_id``."""
        standing = await self._claim(
            keys=[f"{PREFIX}:dedup:{digest}"], args=[job_id, f"{PREFIX}:job:"]
        )
        return standing.decode() if isinstance(standing, bytes) else str(standing)

    async def discard(self, job_id: str) -> None:
        """Remove a staged job that was not enqueued (another stands for its input)."""
        await self.redis.delete(*(_key(job_id, part) for part in _PARTS))
        await self.redis.zrem(_INDEX, job_id)

    # -- running ---------------------------------------------------------------------------

    async def spec(self, job_id: str) -> JobSpec | None:
        """The job's meta, or ``None`` for an unknown (or expired) job."""
        raw = await _aw(self.redis.hgetall(_key(job_id, "meta")))
        if not raw:
            return None
        meta = {k.decode(): v.decode() for k, v in raw.items()}
        return JobSpec(
            job_id,
            meta["user"],
            meta["action"],
            int(meta["total"]),
            int(meta["chunks"]),
            meta.get("digest"),
            meta["state"],
            meta.get("error"),
            float(meta["created"]),
            float(meta["ended"]) if "ended" in meta else None,
        )

    async def set_state(self, job_id: str, state: str, error: str | None = None) -> str | None:
        """Move the job to ``state`` unless it is already terminal; return the state it is in."""
        standing = await self._set_state(
            keys=[_key(job_id, "meta")], args=[state, error or "", f"{time.time():.3f}"]
        )
        if standing is None:
            return None
        return standing.decode() if isinstance(standing, bytes) else str(standing)

    async def chunk_input(self, job_id: str, chunk: int) -> list[Item]:
        """The inputs of one chunk."""
        raw = await _aw(self.redis.hget(_key(job_id, "input"), str(chunk)))
        if raw is None:
            raise LookupError(f"the job {job_id} has no input chunk {chunk}")
        items: list[Item] = json.loads(raw)
        return items

    async def recorded(self, job_id: str) -> tuple[dict[int, list[Record]], set[int]]:
        """What an earlier run left: the recorded chunks, and those it had in flight."""
        raw = await _aw(self.redis.hgetall(_key(job_id, "results")))
        inflight = await _aw(self.redis.smembers(_key(job_id, "inflight")))
        return {int(k): json.loads(v) for k, v in raw.items()}, {int(k) for k in inflight}

    async def begin(self, job_id: str, chunk: int) -> None:
        """Write ahead that ``chunk`` is about to be sent."""
        await _aw(self.redis.sadd(_key(job_id, "inflight"), str(chunk)))

    async def record(
        self,
        job_id: str,
        chunk: int,
        records: Sequence[Record],
        before: Sequence[Record] | None,
    ) -> None:
        """Record a finished chunk in one atomic step (``before``: what it held till now)."""
        new = counts_of(records)
        old = counts_of(before) if before is not None else (0, 0, 0, 0)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(_key(job_id, "results"), str(chunk), json.dumps(records, ensure_ascii=False))
        progress = _key(job_id, "progress")
        for name, now, then in zip(OUTCOMES, new, old, strict=True):
            if now != then:
                pipe.hincrby(progress, name.lower(), now - then)
        pipe.srem(_key(job_id, "inflight"), str(chunk))
        await pipe.execute()

    async def expire(self, job_id: str, ttl: int, digest: str | None) -> None:
        """Keep a finished job's keys ``ttl`` seconds more; free its input for a new job."""
        pipe = self.redis.pipeline(transaction=True)
        for part in _PARTS:
            pipe.expire(_key(job_id, part), ttl)
        await pipe.execute()
        if digest is not None:
            dedup = f"{PREFIX}:dedup:{digest}"
            if await self.redis.get(dedup) == job_id.encode():
                await self.redis.delete(dedup)

    # -- reading ---------------------------------------------------------------------------

    async def progress(self, job_id: str, status: str | None = None) -> JobProgress | None:
        """The job's progress (``status`` overrides the stored one unless that is terminal)."""
        spec = await self.spec(job_id)
        if spec is None:
            return None
        raw = await _aw(self.redis.hgetall(_key(job_id, "progress")))
        counts = {k.decode(): int(v) for k, v in raw.items()}
        s, r, f, n = (counts.get(name.lower(), 0) for name in OUTCOMES)
        state = spec.state if spec.state in TERMINAL or status is None else status
        return JobProgress(
            job_id,
            spec.user,
            spec.action,
            state,
            spec.total,
            s + r + f + n,
            s,
            r,
            f,
            n,
            spec.error if state in ("failed", "aborted") else None,
        )

    async def results(self, job_id: str) -> AsyncIterator[Record]:
        """The recorded results in input order (a chunk not yet recorded is skipped)."""
        spec = await self.spec(job_id)
        if spec is None:
            return
        key = _key(job_id, "results")
        for start in range(0, spec.chunks, _READ_CHUNKS):
            wanted = [str(k) for k in range(start, min(spec.chunks, start + _READ_CHUNKS))]
            for raw in await _aw(self.redis.hmget(key, wanted)):
                if raw is not None:
                    for record in json.loads(raw):
                        yield record

    async def job_ids(self) -> list[str]:
        """Every job still kept, oldest first (expired ones are dropped from the index)."""
        ids = [raw.decode() for raw in await self.redis.zrange(_INDEX, 0, -1)]
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.exists(_key(job_id, "meta"))
        alive = await pipe.execute()
        gone = [job_id for job_id, ok in zip(ids, alive, strict=True) if not ok]
        if gone:
            await self.redis.zrem(_INDEX, *gone)
        return [job_id for job_id, ok in zip(ids, alive, strict=True) if ok]


def make_records(
    items: Sequence[Item], sent: Mapping[int, Record], before: Sequence[Record] | None
) -> list[Record]:
    """A chunk's records: what was sent now, else what it held, else an invalid line's own."""
    records: list[Record] = []
    for i, item in enumerate(items):
        if i in sent:
            records.append(sent[i])
        elif before is not None:
            records.append(before[i])
        elif isinstance(item, dict):
            records.append(item)
        else:  # unreachable: every ID of a chunk without a record is sent
            raise AssertionError(f"no result for input {i} of a chunk")
    return records
