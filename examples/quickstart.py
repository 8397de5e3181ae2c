"""Quick start: import a small library into the embedded emulator and print the summary.

Run with ``python examples/quickstart.py``. No network: the emulator listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import random
import time

from groove_async import GrooveClient, Outcome
from groove_async.testing import FakeGrooveServer, FaultPlan, catalog_track_id


def library(size: int, seed: int = 7) -> list[str]:
    """Catalog IDs with a few unknown ones and some repeats, as a real export would have."""
    rng = random.Random(seed)
    ids = [catalog_track_id(rng.randrange(16**8)) for _ in range(size)]
    for i in rng.sample(range(size), size // 50):  # 2% unknown: random v4 GUIDs
        ids[i] = f"music.{rng.getrandbits(32):08x}-4a1b-4c2d-8e3f-{rng.getrandbits(48):012x}"
    for i in rng.sample(range(size), size // 20):  # 5% repeats
        ids[i] = ids[rng.randrange(size)]
    return ids


async def main() -> None:
    faults = FaultPlan(latency=0.005, p_503=0.05, p_429=0.02, retry_after=0.05, seed=1)
    async with FakeGrooveServer(tokens=["demo-token"], faults=faults, seed=1) as server:
        ids = library(5_000)
        started = time.perf_counter()
        async with GrooveClient("demo-token", base_url=server.url, max_concurrency=8) as groove:
            result = await groove.add_tracks(ids)
        elapsed = time.perf_counter() - started
        posts = sum(1 for r in server.requests if r.path.endswith("/add"))
        print(
            f"Imported {len(ids):,} IDs in {elapsed:.2f}s with {posts} POSTs "
            f"(including retries of injected 503/429 faults)"
        )
        for outcome, count in result.counts().items():
            print(f"  {outcome.value:<10} {count:>6,}")
        rejected = result.rejected[0] if result.rejected else None
        if rejected is not None and rejected.error is not None:
            print(f"  e.g. {rejected.input_id}: {rejected.error.code}")
        assert len(result) == len(ids)
        assert all(r.outcome is not Outcome.NOT_SENT for r in result)
        print(f"Collection now holds {len(server.collection('demo-token')):,} tracks")


if __name__ == "__main__":
    asyncio.run(main())
