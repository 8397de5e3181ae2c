"""Benchmark runner: the library against a hand-written aiohttp loop, side by side, one command.

::

    python benchmarks/run.py          # N = 100k and 1M, latency 0 and 20 ms, C = 16 and 64, 3 reps
    python benchmarks/run.py --quick              # small sizes, 1 rep: under ~2 minutes
    python benchmarks/run.py --sizes 100000 --latencies 0 --concurrency 16 --reps 5 \\
        --only baseline,add_tracks --json out.json --markdown out.md
    git worktree add /tmp/old 0491306
    python benchmarks/run.py --ref 0491306=/tmp/old ...   # adds a row add_tracks@0491306

``--ref NAME=PATH`` (repeatable) runs ``add_tracks`` once more per repetition with the
``groove_async`` of the checkout at PATH, beside the others in the same rotation, so that an
older commit is re-measured in the same run and its figures are ratios, not memories.

For each latency the reference server runs in its own process, pinned to one core: by default
``python -m benchmarks._bench_server serve``, the emulator's service with its hot path made
cheap (``--server emulator`` runs the plain emulator, ``python -m groove_async serve``). Each
measurement runs in a fresh worker process (``benchmarks/_worker.py``) pinned to another, so
that its peak RSS is its own. Within a repetition the scenarios of one (N, latency, C) run back
to back, in an order rotated from one repetition to the next, so that drift on a shared machine
hits them alike. See ``benchmarks/README.md`` for what each scenario and each ratio means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from _processes import (  # this directory: run as a script
    SERVER_LAUNCHERS,
    Emulator,
    _cores,
    run_worker,
)
from _report import machine_info, report_markdown
from _summary import ADD_TRACK_SCENARIOS, summarise
from _targets import evaluate_targets
from _worker import NO_SERVER, SCENARIOS

__all__ = ["Emulator", "_cores", "main", "run_worker"]  # profile_client and profile_server

DEFAULT_SIZES = (100_000, 1_000_000)
DEFAULT_LATENCIES = (0.0, 0.02)
DEFAULT_CONCURRENCY = (16, 64)
DEFAULT_REPS = 3
QUICK_SIZES = (20_000, 40_000)  # both above the stream's window at C=64
QUICK_REPS = 1


def _runs(scenario: str, n: int, args: argparse.Namespace) -> bool:
    """Whether ``scenario`` runs at size ``n`` (``--add-track-max-n`` limits the add_track ones)."""
    return not (scenario in ADD_TRACK_SCENARIOS and 0 < args.add_track_max_n < n)


# -- the run -----------------------------------------------------------------------------------


def measure_all(args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    worker_core, server_core = _cores()
    if args.no_pin:
        worker_core = server_core = None
    runs: list[dict[str, Any]] = []
    next_id = 1_000_000  # distinct catalog IDs for every measurement (the warm-up uses 0..)
    scenarios = list(args.only) + [f"add_tracks@{name}" for name in args.refs]
    per_rep = sum(1 for n in args.sizes for scenario in scenarios if _runs(scenario, n, args))
    total = len(args.latencies) * args.reps * len(args.concurrency) * per_rep
    done = 0
    began = time.monotonic()
    launcher = SERVER_LAUNCHERS[args.server]
    for latency in args.latencies:
        server = Emulator(latency, server_core, launcher=launcher)
        try:
            for rep in range(args.reps):
                for n in args.sizes:
                    for concurrency in args.concurrency:
                        shift = rep % len(scenarios)
                        for scenario in scenarios[shift:] + scenarios[:shift]:
                            if not _runs(scenario, n, args):
                                continue
                            offline = scenario in NO_SERVER
                            # An offline scenario gets no token (it would start the server and
                            # spend its ID budget) and no server figures (the server is idle).
                            token = "unused" if offline else server.take_token(n)
                            url = "unused" if offline else server.url
                            cpu0 = None if offline else server.cpu_seconds()
                            wait0 = None if offline else server.wait_seconds()
                            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                            base, _, ref = scenario.partition("@")
                            record = run_worker(
                                base,
                                source=args.refs.get(ref),
                                url=url,
                                token=token,
                                n=n,
                                start=next_id,
                                concurrency=concurrency,
                                tasks=args.tasks,
                                core=worker_core,
                                latency=latency,
                            )
                            cpu1 = None if offline else server.cpu_seconds()
                            wait1 = None if offline else server.wait_seconds()
                            next_id += n
                            record.update(
                                scenario=scenario,
                                n=n,
                                latency=latency,
                                concurrency=concurrency,
                                rep=rep,
                                loadavg_1m=load,
                            )
                            if cpu0 is not None and cpu1 is not None and "error" not in record:
                                server_cpu = cpu1 - cpu0
                                record["server_cpu_s"] = server_cpu
                                posts = record.get("posts")
                                record["server_cpu_us_per_post"] = (
                                    server_cpu / posts * 1e6 if posts else None
                                )
                                record["server_busy"] = server_cpu / record["wall_s"]
                            if wait0 is not None and wait1 is not None and "error" not in record:
                                # Includes the worker's start-up, when the server is idle
                                # anyway: an upper bound of the disturbance during the run.
                                record["server_cpu_wait"] = (wait1 - wait0) / record["wall_s"]
                            runs.append(record)
                            done += 1
                            log(_progress_line(record, done, total, time.monotonic() - began))
        finally:
            server.stop()
    return runs


def _progress_line(record: dict[str, Any], done: int, total: int, elapsed: float) -> str:
    head = (
        f"[{done}/{total} {elapsed:6.0f}s] {record['scenario']:<18} N={record['n']:<8} "
        f"L={record['latency'] * 1000:g}ms C={record['concurrency']:<3} rep={record['rep']}"
    )
    if "error" in record:
        return f"{head}  ERROR: {record['error'].strip().splitlines()[-1:]}"
    busy = record.get("server_busy")
    wait = record.get("cpu_wait")
    return (
        f"{head}  {record['ids_per_s']:>9,.0f} IDs/s  {record['cpu_us_per_id']:5.2f} us/ID  "
        f"{record['peak_rss_mib']:6.0f} MiB  posts={record['posts']}"
        + (f"  server {busy:.0%} busy" if busy is not None else "")
        + (f"  client waited {wait:.0%}" if wait is not None else "")
    )


# -- command line ------------------------------------------------------------------------------


def _csv(kind: type, text: str) -> list[Any]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if kind is str:
        return parts
    return [kind(part.replace("_", "")) for part in parts]  # 1_000_000 reads as a number


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="groove_async against a hand-written aiohttp loop, side by side.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes {QUICK_SIZES}, {QUICK_REPS} rep: under ~2 minutes",
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: _csv(int, s),
        default=None,
        help="comma-separated N (default: 100000,1000000)",
    )
    parser.add_argument(
        "--latencies",
        type=lambda s: _csv(float, s),
        default=None,
        help="comma-separated server latencies in seconds (default: 0,0.02)",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda s: _csv(int, s),
        default=None,
        help="comma-separated C (default: 16,64)",
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default: 3)")
    parser.add_argument(
        "--only",
        type=lambda s: _csv(str, s),
        default=None,
        help=f"comma-separated scenarios out of {','.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--tasks",
        type=int,
        default=10_000,
        help="add_track: concurrent tasks alive at once (default: %(default)s)",
    )
    parser.add_argument("--json", metavar="FILE", help="write every run, the summary and targets")
    parser.add_argument("--markdown", metavar="FILE", help="write the markdown report")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument(
        "--server",
        choices=tuple(SERVER_LAUNCHERS),
        default="bench",
        help="bench: python -m benchmarks._bench_server serve, the emulator's service with its "
        "hot path made cheap (the reference, default); emulator: python -m groove_async serve, "
        "the plain emulator; fast: benchmarks/_fast_server.py, a bare stand-in for diagnosis "
        "(client-bound ratios)",
    )
    parser.add_argument(
        "--add-track-max-n",
        type=int,
        default=0,
        metavar="N",
        help="run the add_track scenario only for sizes <= N (0: all sizes)",
    )
    parser.add_argument(
        "--ref",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also measure add_tracks with the groove_async of the checkout at PATH (a row "
        "add_tracks@NAME); repeatable",
    )
    args = parser.parse_args(argv)
    args.refs = {}
    for ref in args.ref:
        name, sep, path = ref.partition("=")
        if not sep or not Path(path, "groove_async").is_dir():
            parser.error(f"--ref takes NAME=PATH, PATH a checkout with groove_async/: {ref!r}")
        args.refs[name] = str(Path(path).resolve())
    args.command_line = shlex.join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])])
    args.sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.latencies = args.latencies if args.latencies is not None else list(DEFAULT_LATENCIES)
    args.concurrency = args.concurrency or list(DEFAULT_CONCURRENCY)
    args.reps = args.reps or (QUICK_REPS if args.quick else DEFAULT_REPS)
    args.only = args.only or list(SCENARIOS)
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.only = [s for s in SCENARIOS if s in args.only]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    pinned = (None, None) if args.no_pin else _cores()
    machine = machine_info(pinned)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.monotonic()
    runs = measure_all(args, log)
    seconds = time.monotonic() - t0
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = summarise(runs)
    targets = evaluate_targets(rows)
    report = report_markdown(args, machine, rows, targets, started, seconds, (load0, load1))
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "command": args.command_line,
                    "started": started,
                    "seconds": seconds,
                    "loadavg_1m": [load0, load1],
                    "machine": machine,
                    "config": {
                        "sizes": args.sizes,
                        "latencies": args.latencies,
                        "concurrency": args.concurrency,
                        "reps": args.reps,
                        "scenarios": args.only,
                        "tasks": args.tasks,
                        "server": args.server,
                        "add_track_max_n": args.add_track_max_n,
                    },
                    "summary": rows,
                    "targets": targets,
                    "runs": runs,
                },
                indent=2,
                default=str,
            )
        )
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
