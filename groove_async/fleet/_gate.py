"""One throttle per token for every worker: the client's :class:`~groove_async.ThrottleGate`
as a local cache, with the pause shared through Redis.

A pause (the server's ``Retry-After``, or the client's own backoff from a 429/503) closes the
local gate at once, as in one process; in the background a Lua script extends the token's pause
key in Redis (only ever later, on Redis's own clock, so the workers' clocks never matter) and
publishes it. Every worker on the token listens and extends its own local gate. A request that
is not paused costs no round trip to Redis: the send path only ever reads the local gate.

The key and channel are named by a hash of the token (:func:`~groove_async.fleet.token_hash`),
never the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError

from groove_async import ThrottleGate

from ._names import PREFIX

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["SharedGate"]

_log = logging.getLogger("groove_async.fleet")

# KEYS[1] the pause key, KEYS[2] its channel; ARGV[1] the pause in milliseconds.
# Returns the milliseconds left of the token's pause after this call (Redis's clock).
EXTEND: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if want > current then
  redis.call('SET', KEYS[1], want, 'PX', tonumber(ARGV[1]) + 1000)
  redis.call('PUBLISH', KEYS[2], ARGV[1])
  return tonumber(ARGV[1])
end
return current - now
"""

# KEYS[1] the pause key. Returns the milliseconds left of the token's pause (0 when none).
REMAINING: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > now then return current - now end
return 0
"""


class SharedGate(ThrottleGate):
    """A :class:`~groove_async.Gate` shared by every worker using one token.

    Use it as an async context manager around the client that uses it (``async with gate:``):
    entering subscribes to the token's channel and takes up a pause already running; leaving
    stops listening and waits for the announcements still being sent.

    Args:
        redis: the Redis client (``redis.asyncio.Redis``).
        token_key: the token's hash (:func:`~groove_async.fleet.token_hash`).
        rng: the source of the waiters' jitter.
    """

    def __init__(self, redis: Redis, token_key: str, rng: random.Random | None = None) -> None:
        super().__init__(rng)
        self._redis = redis
        self._key = f"{PREFIX}:pause:{token_key}"
        self._channel = f"{PREFIX}:pause:{token_key}:announced"
        self._extend = redis.register_script(EXTEND)
        self._remaining = redis.register_script(REMAINING)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self.announced = 0
        """Pauses this gate told the others about."""
        self.learned = 0
        """Pauses this gate learned from the others."""

    def __repr__(self) -> str:
        return f"SharedGate(paused_for={self.paused_for:.3f})"

    async def __aenter__(self) -> SharedGate:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        self._pubsub = pubsub
        self._listener = asyncio.create_task(self._listen(pubsub))
        left = int(await self._remaining(keys=[self._key]))
        if left > 0:
            super().pause(left / 1000)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):  # Redis gone: nothing to release
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    def pause(self, seconds: float) -> bool:
        """Close the local gate for ``seconds`` (never shortening a pause) and, if that extended
        it, tell the other workers in the background; never blocks."""
        extended = super().pause(seconds)
        if extended:
            task = asyncio.get_running_loop().create_task(self._announce(seconds))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return extended

    async def _announce(self, seconds: float) -> None:
        millis = max(1, int(seconds * 1000 + 0.5))
        try:
            left = int(await self._extend(keys=[self._key, self._channel], args=[millis]))
        except (
            RedisError,
            OSError,
        ) as exc:  # Redis away: this worker still pauses, the others learn later
            _log.warning("could not share a pause through Redis: %s", type(exc).__name__)
            return
        self.announced += 1
        if left > millis:  # another worker's pause runs longer: take it up
            super().pause(left / 1000)

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                message: dict[str, Any] | None = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=None
                )
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:  # the connection dropped: Redis restarting
                _log.warning("lost the pause channel: %s; listening again", type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                millis = int(message["data"])
            except (TypeError, ValueError):
                continue
            if ThrottleGate.pause(self, millis / 1000):
                self.learned += 1
