"""What a worker does with one job: resolve the user's token, build the client with the shared
gate, run the job, and leave it in a terminal state that nothing overwrites.

Queue-agnostic: :mod:`~groove_async.fleet._saq` calls :meth:`JobExecutor.execute` from the
saq job function, with the job's heartbeat running beside it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from groove_async import AuthenticationError, GrooveClient, RetryPolicy, Transport

from ._gate import SharedGate
from ._names import TERMINAL, token_hash
from ._run import JobRun, durably
from ._store import JobSpec, Store
from ._tokens import TokenSource, TokenUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_RESULTS_TTL", "JobExecutor", "JobFailed", "WorkerOptions"]

_log = logging.getLogger("groove_async.fleet")

DEFAULT_RESULTS_TTL = 7 * 24 * 3600
"""Seconds a finished job's status and results are kept: seven days."""


class JobFailed(Exception):
    """A job ended failed: ``reason`` says why, in words (never a token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen(kw_only=True)
class WorkerOptions:
    """How a worker runs its jobs.

    Attributes:
        tokens: the token source (user name -> token).
        base_url, allow_insecure_http: where the service is (as :class:`GrooveClient`'s).
        concurrency: POSTs in flight per job.
        results_ttl: seconds a finished job's status and results are kept.
        shared_gate: share each token's pause through Redis (``False``: each job keeps its own
            in-process gate, as a lone client does).
        transport: the client's transport (``None``: aiohttp; tests may pass the emulator's).
    """

    tokens: TokenSource
    base_url: str = "https://music.xboxlive.com"
    allow_insecure_http: bool = False
    concurrency: int = 8
    results_ttl: int = DEFAULT_RESULTS_TTL
    shared_gate: bool = True
    transport: Transport | None = attrs.field(default=None, repr=False)


class JobExecutor:
    """Runs jobs by ID against the job state in Redis."""

    def __init__(self, redis: Redis, options: WorkerOptions) -> None:
        self._redis = redis
        self.store = Store(redis)
        self.options = options

    async def execute(self, job_id: str) -> str:
        """Run (or resume) the job; return its terminal state.

        Raises:
            JobFailed: the job failed (its state says so already).
        """
        store = self.store
        spec = await durably(lambda: store.spec(job_id))
        if spec is None:
            raise JobFailed(f"the job {job_id} is unknown (expired, or never submitted)")
        if spec.state in TERMINAL:
            return spec.state  # finished or cancelled before this run: nothing to do
        standing = await durably(lambda: store.set_state(job_id, "active"))
        if standing in TERMINAL:
            return str(standing)
        try:
            token = await self.options.tokens(spec.user)
        except TokenUnavailable as exc:
            await self._fail(spec, str(exc))
        except Exception as exc:  # noqa: BLE001 -- a source's failure fails this job alone
            reason = f"the token source failed for {spec.user!r}: {type(exc).__name__}"
            await self._fail(spec, reason)
        try:
            async with self._client(spec, token) as client:
                run = JobRun(store, spec, client, self.options.concurrency)
                await run.run()
        except* AuthenticationError as group:
            error = group.exceptions[0]
            assert isinstance(error, AuthenticationError)
            await self._fail(spec, _refusal(spec.user, error))
        if run.resent:
            _log.info("job %s: %d IDs sent again after an earlier run", job_id, run.resent)
        state = await durably(lambda: store.set_state(job_id, "complete")) or "complete"
        await self._expire(spec)
        return state

    @contextlib.asynccontextmanager
    async def _client(self, spec: JobSpec, token: str) -> AsyncIterator[GrooveClient]:
        options, user, tokens = self.options, spec.user, self.options.tokens

        async def provider() -> str:
            return await tokens(user)

        gate = SharedGate(self._redis, token_hash(token)) if options.shared_gate else None
        extra: dict[str, Any] = {} if gate is None else {"gate": gate}
        client = GrooveClient(
            provider,
            base_url=options.base_url,
            allow_insecure_http=options.allow_insecure_http,
            max_concurrency=options.concurrency,
            retry=RetryPolicy(count_throttled=False),
            transport=options.transport,
            **extra,
        )
        async with contextlib.AsyncExitStack() as stack:
            if gate is not None:
                await stack.enter_async_context(gate)
            yield await stack.enter_async_context(client)

    async def _fail(self, spec: JobSpec, reason: str) -> NoReturn:
        await durably(lambda: self.store.set_state(spec.job_id, "failed", reason))
        await self._expire(spec)
        raise JobFailed(reason)

    async def _expire(self, spec: JobSpec) -> None:
        ttl = self.options.results_ttl
        await durably(lambda: self.store.expire(spec.job_id, ttl, spec.digest))


def _refusal(user: str, error: AuthenticationError) -> str:
    """Why a job failed on its token, in words: the service's code, never the token."""
    if error.status is None:
        return f"the token source failed for {user!r}"
    return f"the service refused the token of {user!r} ({error.code or f'HTTP {error.status}'})"
