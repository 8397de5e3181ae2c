# ruff: noqa: RUF003  (µ and × are meant: the output is a report)
"""Where the reference server's CPU per POST goes, under the baseline's load.

::

    python benchmarks/profile_server.py                      # baseline, N=100,000, latency 0, C=16
    python benchmarks/profile_server.py --scenario add_tracks --n 50000 --top 30
    python benchmarks/profile_server.py --server emulator    # the plain emulator instead

It runs a server's ``serve`` command line (by default the benchmarks' reference server,
``benchmarks/_bench_server.py``) under :mod:`cProfile` (CPU clock, so waiting in ``epoll`` is
not counted) in its own process, pinned as in ``run.py``, drives it with one worker run, stops
it with SIGINT (the profile is written on the way out) and prints the server's CPU per POST
(from ``/proc``, unprofiled run first), grouped costs and the top functions, per POST.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _processes import SERVER_LAUNCHERS, Emulator, _cores, run_worker
from _profiles import group_profile

_GROUPS = (
    ("_bench_server.py:_add_documented", "server: bulk add of documented IDs"),
    ("_bench_server.py:results_json", "server: encode response (joined template)"),
    ("_bench_server.py:_read_track_ids", "server: parse request (orjson)"),
    ("_bench_server.py:sleep", "server: latency (shared timer)"),
    ("_bench_server.py:_wake", "server: latency (shared timer)"),
    ("_bench_server.py", "server: other benchmark-server code"),
    ("_bench_catalog.py:documented_heads", "server: catalog check"),
    ("_bench_catalog.py", "server: mint_collection_id"),
    ("testing/_service.py:_add", "emulator: _add (per-ID collection work)"),
    ("testing/_service.py:_track_action", "emulator: request handler"),
    ("testing/_service.py:receive", "emulator: request handler"),
    ("testing/_service.py", "emulator: other service code"),
    ("testing/_http.py", "emulator: routing"),
    ("testing/_codec.py", "emulator: parse and encode (json, xml)"),
    ("testing/_state.py", "emulator: users and tokens"),
    ("testing/_server.py", "emulator: aiohttp adapter"),
    ("testing/_catalog.py:mint_collection_id", "emulator: mint_collection_id"),
    ("testing/_catalog.py:encode_collection_id", "emulator: mint_collection_id"),
    ("testing/_catalog.py:normalise_id", "emulator: normalise_id"),
    ("testing/_catalog.py:is_documented_track_id", "emulator: catalog check"),
    ("testing/_faults.py", "emulator: fault plan (roll, delay)"),
    ("aiohttp/web_protocol", "aiohttp.web: protocol, request loop"),
    ("aiohttp/web_request", "aiohttp.web: Request objects"),
    ("aiohttp/web_response", "aiohttp.web: Response objects, headers"),
    ("aiohttp/web_urldispatcher", "aiohttp.web: router"),
    ("aiohttp/web_app", "aiohttp.web: app, middleware chain"),
    ("aiohttp/web_server", "aiohttp.web: low-level server"),
    ("aiohttp/http_writer", "aiohttp: http writer"),
    ("aiohttp/helpers", "aiohttp: helpers"),
    ("aiohttp/streams", "aiohttp: body streams"),
    ("aiohttp", "aiohttp: other"),
    ("multidict", "aiohttp: multidict/yarl"),
    ("yarl", "aiohttp: multidict/yarl"),
    ("json", "json (stdlib Python part)"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "asyncio event loop"),
    ("random.py", "random"),
)
_BUILTINS = (
    ("json", "json (C encoder/decoder)"),
    ("scanstring", "json (C encoder/decoder)"),
    ("re.Pattern", "regex (normalise_id, catalog check)"),
    ("getrandbits", "random"),
    ("b2a_base64", "emulator: mint_collection_id"),
    ("socket", "socket system calls"),
    ("poll", "asyncio event loop"),
    ("_asyncio", "asyncio event loop"),
    ("_contextvars", "asyncio event loop"),
    ("_http_parser", "aiohttp: C http parser"),
    ("_http_writer", "aiohttp: http writer"),
    ("multidict", "aiohttp: multidict/yarl"),
)


def child(out: str, server: str, argv: list[str]) -> int:
    """Run a server's command line under cProfile with a CPU clock; write the profile on exit."""
    main: Callable[[list[str]], int]
    if server == "bench":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from benchmarks._bench_server import main
    else:
        from groove_async.cli import main

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        return main(argv)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


def report(prof: str, posts: int, top: int) -> str:
    raw, total, groups = group_profile(prof, _GROUPS, _BUILTINS, other_builtins="builtins (other)")
    lines = [
        f"Profiled total {total / posts * 1e6:.0f} µs/POST (includes start-up and the warm-up)",
        "",
        "| where | µs/POST (profiled) | share |",
        "|---|---:|---:|",
    ]
    rest = 0.0
    for group, tt in sorted(groups.items(), key=lambda kv: -kv[1]):
        if tt < 0.005 * total:
            rest += tt
            continue
        lines.append(f"| {group} | {tt / posts * 1e6:.1f} | {tt / total:.1%} |")
    lines.append(f"| everything else | {rest / posts * 1e6:.1f} | {rest / total:.1%} |")
    lines += [
        "",
        f"Top {top} by own time:",
        "",
        "| function | calls | own µs/POST | cum µs/POST |",
        "|---|---:|---:|---:|",
    ]
    for key, (_cc, nc, tt, ct, _c) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        filename, line, name = key
        where = name if filename == "~" else f"{Path(filename).name}:{line}({name})"
        lines.append(f"| `{where}` | {nc:,} | {tt / posts * 1e6:.1f} | {ct / posts * 1e6:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1], argv[2], argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        default="baseline",
        choices=("baseline", "add_tracks", "stream_add_tracks", "add_track"),
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", help="keep the .prof file here")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--server",
        choices=("bench", "emulator"),
        default="bench",
        help="bench: the benchmarks' reference server (default); emulator: groove-async serve",
    )
    args = parser.parse_args(argv)
    worker_core, server_core = (None, None) if args.no_pin else _cores()
    common = {"n": args.n, "concurrency": args.concurrency, "tasks": 10_000, "core": worker_core}

    # 1. Unprofiled: the server's real CPU per POST.
    server = Emulator(args.latency, server_core, launcher=SERVER_LAUNCHERS[args.server])
    try:
        token = server.take_token(args.n)
        cpu0 = server.cpu_seconds()
        plain = run_worker(args.scenario, url=server.url, token=token, start=1_000_000, **common)
        cpu1 = server.cpu_seconds()
    finally:
        server.stop()
    if "error" in plain:
        print(plain["error"], file=sys.stderr)
        return 1
    posts = plain["posts"]
    server_cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None

    # 2. Profiled.
    out = args.out or tempfile.mktemp(suffix=".prof")  # noqa: S306
    server = Emulator(
        args.latency,
        server_core,
        launcher=[str(Path(__file__).resolve()), "--child", out, args.server],
    )
    try:
        token = server.take_token(args.n)
        profiled = run_worker(args.scenario, url=server.url, token=token, start=1_000_000, **common)
    finally:
        server.stop()
    if "error" in profiled:
        print(profiled["error"], file=sys.stderr)
        return 1
    print(
        f"## {args.server} server under {args.scenario}: N={args.n:,}, "
        f"latency {args.latency * 1000:g} ms, "
        f"C={args.concurrency}\n\n"
        f"Unprofiled: client {plain['ids_per_s']:,.0f} IDs/s = {posts / plain['wall_s']:,.0f} "
        f"POSTs/s; server CPU "
        + (
            f"{server_cpu:.2f} s = {server_cpu / posts * 1e6:.0f} µs/POST "
            f"({server_cpu / posts / 100 * 1e6:.1f} µs/ID), "
            f"{server_cpu / plain['wall_s']:.0%} busy"
            if server_cpu is not None
            else "unknown (no /proc)"
        )
        + f". Under cProfile: {profiled['ids_per_s']:,.0f} IDs/s.\n"
    )
    # The warm-up's 20 POSTs are in the profile too.
    print(report(out, posts + 20, args.top))
    if not args.out:
        Path(out).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
