"""A deterministic speed guard: the Python function calls one 100-ID batch costs the client.

Not a timed test (machines are shared and noisy): it counts, with ``sys.setprofile``, every
Python function the client's side runs for ``add_tracks`` of 100 IDs over the emulator's
in-memory transport (the emulator's own frames are left out), and fails when a change raises
the count past the budget below. A slowdown like the one issue 21 measured (tenacity asked
about every first attempt, ~690 calls per batch where ~464 had been) is caught when it is
written, not a release later. When a change lowers the count, lower the budget with it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import FrameType

import groove_async
from groove_async import GrooveClient
from groove_async.testing import FakeGrooveServer
from tests.conftest import catalog_id

#: Python calls (coroutine resumes included) on the client's side for one 100-ID
#: ``add_tracks`` on the in-memory transport, after a warm-up call. Measured by this test: 342 at
#: 3c8e770 (tenacity asked about every first attempt), 260 once a first attempt that succeeds
#: skips the retry machinery, 244 with one done callback per batch; the budget leaves a little
#: room above that.
BUDGET_ONE_BATCH = 260
#: The same per batch for ten batches (1,000 IDs) in one call, the steady state: 241 at
#: 3c8e770, 159 after, 143 with one done callback per batch.
BUDGET_PER_BATCH = 155

_EMULATOR = str(Path(groove_async.__file__).parent / "testing")


def _in_emulator(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs for the emulator (its own code, or what its code called)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith(_EMULATOR):
            return True
        frame = frame.f_back
    return False


def _measure(ids: list[str]) -> int:
    server = FakeGrooveServer(tokens=["t"])
    counted = 0

    async def run() -> None:
        nonlocal counted
        async with GrooveClient("t", transport=server.transport(), max_concurrency=4) as groove:
            await groove.add_tracks([catalog_id(10_000 + i) for i in range(100)])  # warm up
            before = sys.getprofile()
            sys.setprofile(None)
            calls = 0

            def profile(frame: FrameType, event: str, _arg: object) -> None:
                nonlocal calls
                if event == "call" and not _in_emulator(frame):
                    calls += 1

            sys.setprofile(profile)
            try:
                result = await groove.add_tracks(ids)
            finally:
                sys.setprofile(before)
            assert result.ok and len(result) == len(ids)
            counted = calls

    asyncio.run(run())
    return counted


def test_one_100_id_batch_stays_within_its_call_budget() -> None:
    calls = _measure([catalog_id(i) for i in range(100)])
    print(f"one 100-ID batch: {calls} Python calls (budget {BUDGET_ONE_BATCH})")
    assert calls <= BUDGET_ONE_BATCH, (
        f"one 100-ID add_tracks now costs {calls} Python calls on the client's side, over the "
        f"budget of {BUDGET_ONE_BATCH}: find what the change added to the hot path"
    )


def test_ten_batches_stay_within_the_per_batch_budget() -> None:
    calls = _measure([catalog_id(i) for i in range(1_000)])
    per_batch = calls / 10
    print(f"ten batches: {per_batch:.0f} Python calls per batch (budget {BUDGET_PER_BATCH})")
    assert per_batch <= BUDGET_PER_BATCH, (
        f"a batch of a 1,000-ID add_tracks now costs {per_batch:.0f} Python calls on the "
        f"client's side, over the budget of {BUDGET_PER_BATCH}"
    )
