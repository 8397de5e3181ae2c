# ruff: noqa: RUF001, RUF003  (µ and × are meant: the output is a report)
"""Where the client's CPU per ID goes: cProfile of one scenario against the emulator.

::

    python benchmarks/profile_client.py             # add_tracks, N=100,000, latency 0, C=16
    python benchmarks/profile_client.py --scenario baseline --n 100000 --top 25
    python benchmarks/profile_client.py --scenario stream_add_tracks --out stream.prof
    python benchmarks/profile_client.py --stages-only  # the library's pure stages, no server

It starts the emulator (as ``run.py`` does, pinned to its own core), runs the scenario once
without the profiler (the honest CPU per ID, and the time spent in the garbage collector, read
through ``gc.callbacks``) and once under :mod:`cProfile` (profiling only the timed operation),
then prints:

* the costs grouped (CPU time: the profiler's clock is :func:`time.process_time`, so the event
  loop's idle wait in ``epoll`` does not count) by where they are spent (aiohttp and its C
  helpers, JSON, cattrs, attrs
  ``__init__`` of the models, merge, planner, validation, pipeline, coalescer, asyncio's event
  loop, socket system calls, the scenario's own code), in µs per ID, as measured under the
  profiler and scaled to the unprofiled CPU (cProfile inflates small Python calls, so read the
  scaled figures as shares, not as exact costs);
* the top functions by own time.

The garbage collector does not show up in cProfile (it runs inside whichever call allocates);
its time is reported on its own line from the unprofiled run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _profiles import group_profile
from run import Emulator, _cores, run_worker

# (substring of the file path, or of a built-in's name) -> group; the first match wins.
_FILE_GROUPS = (
    ("groove_async/_batching.py:merge", "merge (results back to inputs)"),
    ("groove_async/_batching.py:check", "validation (IdValidator)"),
    ("groove_async/_batching.py:error", "validation (IdValidator)"),
    ("groove_async/_batching.py:normalise_id", "planner (normalise_id)"),
    ("groove_async/_batching.py", "planner (feed, Segment, finished)"),
    ("groove_async/_wire.py", "wire decode/encode (_wire.py)"),
    ("groove_async/_protocol.py", "protocol (build_request, read_response)"),
    ("groove_async/_pipeline.py", "pipeline (fan-out, ordering)"),
    ("groove_async/_coalescer.py", "coalescer"),
    ("groove_async/_flow.py", "flow control (limit, gate, budget)"),
    ("groove_async/_retry.py", "retry (tenacity wrapper)"),
    ("tenacity", "retry (tenacity)"),
    ("groove_async/_aiohttp.py", "transport (_aiohttp.py)"),
    ("groove_async/_auth.py", "auth"),
    ("groove_async/_client.py", "client (_client.py)"),
    ("groove_async/_models.py", "models (BulkResult)"),
    ("groove_async/testing", "ID generation (catalog_track_id)"),
    ("cattrs", "cattrs structuring"),
    ("<cattrs generated", "cattrs structuring"),
    ("<attrs generated", "attrs __init__ (TrackResult, WireItem, ...)"),
    ("attr", "attrs (other)"),
    ("aiohttp", "aiohttp"),
    ("multidict", "aiohttp (multidict, yarl, propcache)"),
    ("yarl", "aiohttp (multidict, yarl, propcache)"),
    ("propcache", "aiohttp (multidict, yarl, propcache)"),
    ("json", "JSON encode/decode"),
    ("asyncio", "asyncio event loop, tasks, futures"),
    ("selectors", "asyncio event loop, tasks, futures"),
    ("_worker.py", "scenario's own code (benchmarks/_worker.py)"),
)
_BUILTIN_GROUPS = (
    ("json", "JSON encode/decode"),
    ("_json", "JSON encode/decode"),
    ("scanstring", "JSON encode/decode"),
    ("re.Pattern", "regex (validation, normalise_id)"),
    ("socket", "socket system calls"),
    ("sendmsg", "socket system calls"),
    ("poll", "asyncio event loop, tasks, futures"),
    ("_asyncio", "asyncio event loop, tasks, futures"),
    ("_contextvars", "asyncio event loop, tasks, futures"),
    ("multidict", "aiohttp (multidict, yarl, propcache)"),
    ("yarl", "aiohttp (multidict, yarl, propcache)"),
    ("aiohttp", "aiohttp"),
    ("_http_parser", "aiohttp"),
    ("_http_writer", "aiohttp"),
)


def report(prof_path: str, n: int, cpu_us: float, gc_us: float, top: int) -> str:
    raw, total, groups = group_profile(
        prof_path,
        _FILE_GROUPS,
        _BUILTIN_GROUPS,
        other_builtins="builtins (len, isinstance, list ops, ...)",
    )
    scale = (cpu_us - gc_us) / (total / n * 1e6) if total else 0.0
    lines = [
        f"Profiled total: {total / n * 1e6:.2f} µs/ID under cProfile; unprofiled CPU "
        f"{cpu_us:.2f} µs/ID of which GC {gc_us:.2f} µs/ID (scale factor {scale:.2f})",
        "",
        "| where | µs/ID (profiled) | µs/ID (scaled to unprofiled) | share |",
        "|---|---:|---:|---:|",
    ]
    rest = 0.0
    for group, tt in sorted(groups.items(), key=lambda kv: -kv[1]):
        if tt < 0.005 * total:
            rest += tt
            continue
        us = tt / n * 1e6
        lines.append(f"| {group} | {us:.3f} | {us * scale:.3f} | {tt / total:.1%} |")
    if rest:
        us = rest / n * 1e6
        lines.append(
            f"| everything else (< 0.5% each) | {us:.3f} | {us * scale:.3f} | {rest / total:.1%} |"
        )
    lines.append(f"| garbage collector (unprofiled run, gc.callbacks) | – | {gc_us:.3f} | – |")
    lines += [
        "",
        f"Top {top} functions by own time:",
        "",
        "| function | calls | own µs/ID | cumulative µs/ID |",
        "|---|---:|---:|---:|",
    ]
    for key, (_cc, nc, tt, ct, _callers) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        filename, line, name = key
        where = name if filename == "~" else f"{Path(filename).name}:{line}({name})"
        lines.append(f"| `{where}` | {nc:,} | {tt / n * 1e6:.3f} | {ct / n * 1e6:.3f} |")
    return "\n".join(lines)


def stages(n: int, repeats: int = 5) -> str:
    """Time the library's pure per-ID stages without network or event loop (min of repeats).

    Uses private modules (``_batching``, ``_protocol``, ``_wire``): this is a diagnosis tool,
    and it says so when they have moved. The response bodies are shaped as the emulator's.
    """
    import gc
    import json
    import time

    try:
        from groove_async._batching import BatchPlanner, all_distinct, merge
        from groove_async._ids import IdValidator
        from groove_async._models import Columns, Outcome, TrackResult
        from groove_async._pipeline import add_segment
        from groove_async._protocol import read_response
        from groove_async._wire import encode_request
        from groove_async.testing import catalog_track_id
    except ImportError as exc:
        return f"(stage timings unavailable: {exc})"

    def make(offset: int) -> tuple[list[str], list[bytes]]:
        ids = [catalog_track_id(offset + i) for i in range(n)]
        bodies = [
            json.dumps(
                {
                    "TrackActionResults": [
                        {"InputId": x, "Id": f"music.AQQf{offset + j + k:030d}"}
                        for k, x in enumerate(ids[j : j + 100])
                    ]
                },
                separators=(",", ":"),
            ).encode()
            for j in range(0, n, 100)
        ]
        return ids, bodies

    headers = {"Content-Type": "application/json; charset=utf-8"}
    validator = IdValidator("music")
    # (stage, gc on?) -> seconds of each repetition
    timings: dict[tuple[str, bool], list[float]] = defaultdict(list)
    gc_time: dict[bool, list[float]] = defaultdict(list)
    order: list[str] = []

    def run_once(offset: int, *, collect: bool) -> None:
        ids, bodies = make(offset)
        state: dict[str, Any] = {}

        def timed(name: str, fn: Callable[[], Any]) -> Any:
            if name not in order:
                order.append(name)
            t0 = time.process_time()
            out = fn()
            timings[(name, collect)].append(time.process_time() - t0)
            return out

        def plan() -> list[Any]:
            # As add_tracks plans: one repeat check over the whole input, then the planner.
            planner = state["planner"] = BatchPlanner(
                100, remember=True, distinct=all_distinct(ids)
            )
            segs = [
                seg for k in range(0, len(ids), 100) for seg in planner.feed_many(ids[k : k + 100])
            ]
            last = planner.flush()
            return segs + ([last] if last is not None else [])

        def finish() -> Any:
            columns = Columns()
            for seg, rs in zip(state["segments"], state["merged"], strict=True):
                seg.finish(rs)
                state["planner"].forget(seg)
                add_segment(columns, seg)
            return columns.build()

        gc.collect()
        if not collect:
            gc.disable()
        spent = [0.0, 0.0]

        def on_gc(phase: str, _info: dict[str, Any]) -> None:
            if phase == "start":
                spent[1] = time.perf_counter()
            else:
                spent[0] += time.perf_counter() - spent[1]

        gc.callbacks.append(on_gc)
        try:
            t_all = time.process_time()
            timed(
                "validate (IdValidator.check_many per batch)",
                lambda: [validator.check_many(ids[k : k + 100], k) for k in range(0, n, 100)],
            )
            state["segments"] = timed("plan (all_distinct + BatchPlanner.feed_many)", plan)
            timed(
                "encode request bodies (encode_request)",
                lambda: [encode_request(seg.sent) for seg in state["segments"]],
            )
            state["responses"] = timed(
                "decode responses (read_response: orjson + column hook)",
                lambda: [read_response(200, headers, b, now=datetime.now(UTC)) for b in bodies],
            )
            state["merged"] = timed(
                "merge (InputId check by column)",
                lambda: [
                    merge(seg.sent, r)
                    for seg, r in zip(state["segments"], state["responses"], strict=True)
                ],
            )
            state["results"] = timed("finish segments, collect columns, BulkResult", finish)
            timings[("= total, the library's pure stages", collect)].append(
                time.process_time() - t_all
            )
            state.clear()
            # For comparison: what the baseline does with the same bodies (decode, keep dicts).
            timed(
                "the baseline's json.loads + keep the dicts",
                lambda: [item for b in bodies for item in json.loads(b)["TrackActionResults"]],
            )
        finally:
            gc.callbacks.remove(on_gc)
            gc.enable()
        gc_time[collect].append(spent[0])

    for r in range(repeats):
        run_once(10_000_000 + r * n, collect=True)
        run_once(50_000_000 + r * n, collect=False)
    # A bare TrackResult per ID, for scale (collector off: construction only).
    gc.disable()
    try:
        t0 = time.process_time()
        kept = [TrackResult("x", "y", None, Outcome.SUCCEEDED) for _i in range(n)]
        bare = (time.process_time() - t0) / n * 1e6
        t0 = time.process_time()
        a, b, c = "x", "y", "SUCCEEDED"
        kept2 = [(a, b, None, c) for _i in range(n)]  # variables: not a folded constant
        bare_tuple = (time.process_time() - t0) / n * 1e6
        del kept, kept2
    finally:
        gc.enable()
    order.insert(
        order.index("the baseline's json.loads + keep the dicts"),
        "= total, the library's pure stages",
    )
    lines = [
        f"Pure stages of add_tracks over N={n:,} IDs, no network, no event loop "
        f"(CPU µs/ID, min of {repeats}):",
        "",
        "| stage | GC on | GC off |",
        "|---|---:|---:|",
    ]
    for name in order:
        on, off = timings.get((name, True)), timings.get((name, False))
        lines.append(
            f"| {name} | {min(on) / n * 1e6 if on else float('nan'):.3f} "
            f"| {min(off) / n * 1e6 if off else float('nan'):.3f} |"
        )
    lines.append(
        f"| (time inside the collector, GC on: median) "
        f"| {statistics.median(gc_time[True]) / n * 1e6:.3f} | – |"
    )
    lines.append(f"| (for scale: constructing one frozen attrs TrackResult) | | {bare:.3f} |")
    lines.append(f"| (for scale: constructing one 4-tuple) | | {bare_tuple:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        default="add_tracks",
        choices=("baseline", "add_tracks", "stream_add_tracks", "add_track"),
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", help="keep the .prof file here (for snakeviz, pstats)")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--server",
        default="emulator",
        choices=("emulator", "fast"),
        help="fast: benchmarks/_fast_server.py, so that the client, not the server, is measured",
    )
    parser.add_argument(
        "--stages-only",
        action="store_true",
        help="only time the library's pure stages (no server, no profile)",
    )
    args = parser.parse_args(argv)
    if args.stages_only:
        print(stages(args.n))
        return 0

    worker_core, server_core = (None, None) if args.no_pin else _cores()
    out = args.out or tempfile.mktemp(suffix=".prof")  # noqa: S306  (a path for cProfile)
    launcher = [str(Path(__file__).resolve().parent / "_fast_server.py")]
    server = Emulator(
        args.latency, server_core, launcher=launcher if args.server == "fast" else None
    )
    try:
        common: dict[str, Any] = {
            "n": args.n,
            "concurrency": args.concurrency,
            "tasks": args.tasks,
            "core": worker_core,
        }
        token = server.take_token(args.n)
        plain = run_worker(args.scenario, url=server.url, token=token, start=1_000_000, **common)
        token = server.take_token(args.n)
        profiled = run_worker(
            args.scenario,
            url=server.url,
            token=token,
            start=1_000_000 + args.n,
            extra=["--profile", out],
            **common,
        )
    finally:
        server.stop()
    for record in (plain, profiled):
        if "error" in record:
            print(record["error"], file=sys.stderr)
            return 1
    print(
        f"## {args.scenario}: N={args.n:,}, latency {args.latency * 1000:g} ms, "
        f"C={args.concurrency}\n\n"
        f"Unprofiled: {plain['ids_per_s']:,.0f} IDs/s, {plain['cpu_us_per_id']:.2f} µs/ID "
        f"(user {plain['user_s'] / args.n * 1e6:.2f} "
        f"+ system {plain['sys_s'] / args.n * 1e6:.2f}), "
        f"{plain['gc_collections']} GC runs taking {plain['gc_us_per_id']:.2f} µs/ID, "
        f"peak RSS {plain['peak_rss_mib']:.0f} MiB, waited for the CPU "
        f"{(plain.get('cpu_wait') or 0):.0%} of the time. Under cProfile: "
        f"{profiled['ids_per_s']:,.0f} IDs/s, {profiled['cpu_us_per_id']:.2f} µs/ID.\n"
    )
    print(report(out, args.n, plain["cpu_us_per_id"], plain["gc_us_per_id"], args.top))
    if args.scenario in ("add_tracks", "stream_add_tracks", "add_track"):
        print()
        print(stages(args.n))
    if args.out:
        print(f"\nprofile kept in {out}")
    else:
        Path(out).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
