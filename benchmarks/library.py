"""Playlists and the library read back, against the sequential bound (spec section 9).

    python benchmarks/library.py [--latency 0.02] [--reps 3] [--tracks 50000] [--playlist 1000]

Two rows, each the median of ``--reps`` runs against the plain emulator in its own process at
``--latency`` seconds per request:

* **playlist**: ``create_playlist`` of ``--playlist`` tracks. Its chunks must go one after
  another (order, exactly once), so the sequential bound is one request per 100 tracks:
  ``ceil(n / 100) * latency``. The client also creates the playlist under a provisional name,
  renames it and reads the collection's state token before each chunk; the ratio says what that
  safety costs.
* **export**: ``iter_collection_tracks`` over a library of ``--tracks`` tracks. One request after
  another would take ``ceil(n / 25) * latency`` (25 items a page); the client fetches the pages
  concurrently under ``max_concurrency``, so the ratio can exceed 1.

The ratio is ``bound / wall time``: 1.0 is as fast as one request after another could be.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._processes import SERVER_LAUNCHERS, Emulator
from groove_async import GrooveClient
from groove_async.testing import catalog_track_id


async def one_run(
    url: str, token: str, tracks: int, playlist: int, concurrency: int
) -> dict[str, Any]:
    ids = [catalog_track_id(i) for i in range(tracks)]
    async with GrooveClient(token, base_url=url, max_concurrency=concurrency) as groove:
        added = await groove.add_tracks(ids)
        assert added.ok, added
        started = time.perf_counter()
        made = await groove.create_playlist("benchmark", ids[:playlist])
        playlist_s = time.perf_counter() - started
        assert made.tracks.ok
        assert len(made.tracks) == playlist
        started = time.perf_counter()
        exported = [t.catalog_id async for t in groove.iter_collection_tracks()]
        export_s = time.perf_counter() - started
        assert exported == ids
    return {"playlist_s": playlist_s, "export_s": export_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--playlist", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the runs and the summary here")
    args = parser.parse_args(argv)
    runs = []
    for _ in range(args.reps):
        server = Emulator(args.latency, None, launcher=SERVER_LAUNCHERS["emulator"])
        server.start()
        try:
            token = server.tokens[0]
            runs.append(
                asyncio.run(
                    one_run(server.url, token, args.tracks, args.playlist, args.concurrency)
                )
            )
        finally:
            server.stop()
    playlist_bound = math.ceil(args.playlist / 100) * args.latency
    export_bound = math.ceil(args.tracks / 25) * args.latency
    playlist_s = statistics.median(r["playlist_s"] for r in runs)
    export_s = statistics.median(r["export_s"] for r in runs)
    rows = [
        ("playlist", f"{args.playlist:,} tracks", playlist_s, playlist_bound),
        ("export", f"{args.tracks:,} tracks", export_s, export_bound),
    ]
    latency_ms = args.latency * 1000
    print(f"latency {latency_ms:g} ms, concurrency {args.concurrency}, medians of {args.reps}")
    print("| row | size | wall s | sequential bound s | x bound |")
    print("|---|---:|---:|---:|---:|")
    for name, size, wall, bound in rows:
        print(f"| {name} | {size} | {wall:.2f} | {bound:.2f} | {bound / wall:.2f} |")
    if args.json:
        summary = {
            name: {"wall_s": wall, "bound_s": bound, "ratio": bound / wall}
            for name, _s, wall, bound in rows
        }
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, "runs": runs, "summary": summary},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
