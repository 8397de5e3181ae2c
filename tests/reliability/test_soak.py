"""Fault soak: a mixed import under every kind of fault loses nothing and adds nothing.

Runs at GROOVE_SOAK_SIZE IDs (default 20,000, which CI runs in seconds); the issue's full size is
``GROOVE_SOAK_SIZE=200000 python -m pytest -m soak -s``.
"""

from __future__ import annotations

import os
import random
import time
import uuid

import pytest

from groove_async import (
    BatchStarted,
    GrooveClient,
    Outcome,
    ProgressEvent,
    RetryPolicy,
    RetryScheduled,
)
from groove_async._ids import normalise_id
from groove_async.testing import FakeGrooveServer, FaultPlan, catalog_track_id

SIZE = int(os.environ.get("GROOVE_SOAK_SIZE", "20000"))


def mixed_library(size: int, rng: random.Random) -> tuple[list[str], set[str]]:
    """About 90% valid catalog IDs, 5% unknown, 5% repeats (some in another letter case)."""
    ids: list[str] = []
    invalid: set[str] = set()
    for _ in range(size):
        roll = rng.random()
        if roll < 0.05 and ids:
            earlier = rng.choice(ids)
            ids.append(earlier.lower() if rng.random() < 0.5 else earlier)
        elif roll < 0.10:
            unknown = f"music.{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            invalid.add(normalise_id(unknown))
            ids.append(unknown)
        else:
            ids.append(catalog_track_id(rng.randrange(16**8)))
    return ids, invalid


@pytest.mark.soak
async def test_fault_soak(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(2024)
    ids, invalid = mixed_library(SIZE, rng)
    faults = FaultPlan(
        p_503=0.10,
        p_429=0.05,
        retry_after=0.02,
        p_drop=0.03,
        p_truncated=0.02,
        p_missing_item=0.01,
        latency=0.001,
        latency_jitter=0.005,
        seed=7,
    )
    policy = RetryPolicy(wait_initial=0.005, wait_max=0.05)
    events: list[ProgressEvent] = []
    started = time.monotonic()
    async with FakeGrooveServer(
        tokens=["t"], faults=faults, log_limit=None, capacity=2 * SIZE
    ) as server:
        async with GrooveClient(
            "t", base_url=server.url, max_concurrency=16, retry=policy, on_event=events.append
        ) as groove:
            result = await groove.add_tracks(ids)
        collection = server.collection("t")
        posts = [r for r in server.requests if r.method == "POST"]
    elapsed = time.monotonic() - started

    # One result per input, in input order.
    assert [r.input_id for r in result] == ids
    sent_keys = {normalise_id(i) for i in ids}
    for r in result:
        key = normalise_id(r.input_id)
        if r.outcome is Outcome.SUCCEEDED:
            assert collection[key] == r.id  # what we were told is what the service holds
        elif key in invalid:
            assert r.outcome in (Outcome.REJECTED, Outcome.FAILED)
            if r.outcome is Outcome.REJECTED:
                assert r.error is not None and r.error.code == "COLLECTION_INVALID_ID"
        else:
            # A valid ID that did not succeed was failed by faults: never REJECTED, never lost.
            assert r.outcome in (Outcome.FAILED, Outcome.NOT_SENT), r
    # The collection holds nothing the caller did not send.
    assert set(collection) <= sent_keys
    # Retries stay within the policy's budget.
    batches = sum(isinstance(e, BatchStarted) for e in events)
    retries = sum(isinstance(e, RetryScheduled) for e in events)
    assert len(posts) == batches + retries
    assert retries <= policy.budget_burst + policy.budget_ratio * batches
    faulted = sum(1 for p in posts if p.fault)
    with capsys.disabled():
        print(
            f"\nsoak: {len(ids):,} IDs ({len(invalid):,} unknown), {batches:,} batches, "
            f"{len(posts):,} POSTs ({faulted:,} faulted), {retries:,} retries, "
            f"{len(result.succeeded):,} succeeded, {len(result.rejected):,} rejected, "
            f"{len(result.failed):,} failed, {len(result.not_sent):,} not sent, {elapsed:.1f}s"
        )
