"""``groove-async demo``: import a generated library into the emulator, in this process.

The library is realistic (catalog IDs, about 2% unknown to the catalog and 5% repeats) and
reproducible from its seed; the import is the one ``add`` runs (:mod:`groove_async.cli.importer`),
and every result is checked against what the library planted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from typing import Any

from groove_async.testing import catalog_track_id

from .importer import _import, _Job
from .inputs import _Input, _ListSource
from .parser import DEFAULT_TOKEN, EXIT_INTERRUPTED, EXIT_NOT_ALL_SUCCEEDED, EXIT_OK
from .progress import _print_summary, _progress_mode
from .signals import _stopped_by


def _demo_library(size: int, seed: int) -> tuple[list[str], set[str]]:
    """Catalog IDs with ~2% unknown ones (random v4 GUIDs) and ~5% repeats; and the unknown."""
    rng = random.Random(seed)
    ids = [catalog_track_id(rng.getrandbits(32)) for _ in range(size)]
    unknown: set[str] = set()
    for i in rng.sample(range(size), size // 50):
        guid = (
            f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
            f"{rng.choice('89ab')}{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
        )
        ids[i] = f"music.{guid}"
        unknown.add(ids[i])
    for i in rng.sample(range(size), size // 20):
        ids[i] = ids[rng.randrange(size)]
    return ids, unknown


def _demo(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo_main(args))
    except KeyboardInterrupt:
        print("groove-async demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _demo_main(args: argparse.Namespace) -> int:
    from groove_async.testing import FakeGrooveServer, FaultPlan

    ids, unknown = _demo_library(args.size, args.seed)
    planted = sum(1 for track_id in ids if track_id in unknown)
    repeats = len(ids) - len(set(ids))
    faults = FaultPlan(latency=args.latency)
    if args.faults:
        faults = FaultPlan(
            latency=args.latency, p_429=0.02, retry_after=0.05, p_503=0.03, p_500=0.01, p_drop=0.01
        )
    unexpected: list[str] = []

    def check(item: _Input, record: dict[str, Any]) -> None:
        outcome, error = record["outcome"], record["error"]
        is_unknown = item.track_id in unknown
        expected = "REJECTED" if is_unknown else "SUCCEEDED"
        if outcome != expected or (is_unknown and error["code"] != "COLLECTION_INVALID_ID"):
            code = f" ({error['code']})" if error else ""
            unexpected.append(f"{item.track_id}: {outcome}{code}, expected {expected}")

    server = FakeGrooveServer(
        [DEFAULT_TOKEN],
        faults=faults,
        seed=args.seed,
        capacity=max(50_000, args.size),
        log_limit=None,
    )
    async with server:
        if not args.quiet:
            faulty = "; faults: 429, 503, 500, drops" if args.faults else ""
            print(
                f"Embedded Groove emulator at {server.url} "
                f"(latency {args.latency * 1000:g} ms{faulty})\n"
                f"Importing {len(ids):,} track IDs ({planted:,} unknown to the catalog, "
                f"{repeats:,} repeats), {args.concurrency} requests in flight",
                flush=True,
            )
        job = _Job(
            action="add",
            source=_ListSource(ids),
            source_name="the demo library",
            total=len(ids),
            progress=_progress_mode(quiet=args.quiet),
            output=None,
            client_options={"base_url": server.url, "max_concurrency": args.concurrency},
        )
        ended = await _import(job, DEFAULT_TOKEN, check)
        posts = [r for r in server.requests if r.method == "POST"]
        faulted = sum(1 for r in posts if r.fault is not None)
        held = len(server.collection(DEFAULT_TOKEN))
    importer = ended.importer
    ok = importer.total == len(ids) and not unexpected
    if not args.quiet:
        _print_summary(
            importer,
            ended.progress,
            ended.elapsed,
            sys.stdout,
            [
                f"  the emulator saw {len(posts):,} POSTs ({faulted:,} answered with an "
                f"injected fault) and now holds {held:,} tracks",
            ],
        )
    if ended.signal is not None:
        print(f"groove-async demo: {_stopped_by(ended.signal)}", file=sys.stderr)
        return 128 + ended.signal
    if not ok:
        print(
            f"groove-async demo: {len(unexpected):,} unexpected results; "
            f"{importer.total:,} of {len(ids):,} inputs answered",
            file=sys.stderr,
        )
        for line in unexpected[:5]:
            print(f"  {line}", file=sys.stderr)
        return EXIT_NOT_ALL_SUCCEEDED
    if not args.quiet:
        print(
            f"Demo OK: every input got a result, and the only rejections are the "
            f"{planted:,} planted unknown IDs.",
            flush=True,
        )
    return EXIT_OK
