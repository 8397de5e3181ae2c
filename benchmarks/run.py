# ruff: noqa: RUF001, RUF003  (µ, × and ⚠ are meant: the output is a report)
"""Benchmark runner: the library against a hand-written aiohttp loop, side by side, one command.

::

    python benchmarks/run.py          # N = 100k and 1M, latency 0 and 20 ms, C = 16 and 64, 3 reps
    python benchmarks/run.py --quick              # small sizes, 1 rep: under ~2 minutes
    python benchmarks/run.py --sizes 100000 --latencies 0 --concurrency 16 --reps 5 \\
        --only baseline,add_tracks --json out.json --markdown out.md

For each latency the emulator (``python -m groove_async serve``) runs in its own process, pinned
to one core; each measurement runs in a fresh worker process (``benchmarks/_worker.py``) pinned
to another, so that its peak RSS is its own. Within a repetition the scenarios of one
(N, latency, C) run back to back, in an order rotated from one repetition to the next, so that
drift on a shared machine hits them alike. See ``benchmarks/README.md`` for what each scenario
and each ratio means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _worker import BATCH, NO_SERVER, SCENARIOS  # this directory: run as a script

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
#: Scenarios that ``--add-track-max-n`` limits.
ADD_TRACK_SCENARIOS = frozenset({"add_track", "add_track_floor"})

DEFAULT_SIZES = (100_000, 1_000_000)
DEFAULT_LATENCIES = (0.0, 0.02)
DEFAULT_CONCURRENCY = (16, 64)
DEFAULT_REPS = 3
QUICK_SIZES = (20_000, 40_000)  # both above the stream's window at C=64
QUICK_REPS = 1

#: Restart the emulator after it has stored this many IDs (its collections only grow).
SERVER_ID_BUDGET = 4_000_000
#: Tokens (users, each with an empty collection) the emulator is started with.
SERVER_TOKENS = 64
#: Rows whose server process was this busy were limited by the emulator, not by the client.
SATURATED = 0.90

# The issue's targets.
T_SPEED = 1.0  # add_tracks / baseline IDs/s at latency 0 (stretch 1.3)
T_SPEED_STRETCH = 1.3
T_BOUND_LOW_C = 0.90  # achieved / latency bound at C <= 16
T_BOUND_HIGH_C = 0.80  # ... at higher C (the issue's C = 64)
T_STREAM_RSS = 1.2  # stream peak RSS at the largest N / at the smallest N
T_BULK_RSS = 0.7  # add_tracks peak RSS / baseline peak RSS at the largest N
T_SINGLE_SPEED = 0.5  # add_track / add_tracks IDs/s
T_SINGLE_POSTS = 0.05  # |POSTs - ceil(N/100)| / ceil(N/100)

# Verdicts. OUT_OF_REACH only when this run's floor scenario itself misses what the target
# needs; INFO for the floor lines that are evidence, not targets.
PASS, FAIL, NA = "PASS", "FAIL", "n/a"
OUT_OF_REACH = "out of reach on this machine"
INFO = "info"


# -- processes ---------------------------------------------------------------------------------


def _cores() -> tuple[int | None, int | None]:
    """(worker core, server core) when there are two cores to pin to, else (None, None)."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return cores[0], cores[1]


def _proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc/<pid>/stat (Linux), else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # Fields 14 and 15 of proc(5); the split starts at field 3 (state).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_delay(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class Emulator:
    """``python -m groove_async serve`` in its own process, optionally pinned to one core."""

    def __init__(
        self, latency: float, core: int | None, *, launcher: list[str] | None = None
    ) -> None:
        self.latency = latency
        self.core = core
        #: what runs ``groove_async``'s command line (``profile_server.py`` wraps it in cProfile)
        self.launcher = launcher or ["-m", "groove_async"]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.tokens: list[str] = []
        self.stored_ids = 0
        self.generation = 0
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (lives as long as we do)

    def start(self) -> None:
        self.generation += 1
        self.tokens = [f"bench-{self.generation}-{i}" for i in range(SERVER_TOKENS)]
        self.stored_ids = 0
        cmd = [
            sys.executable,
            *self.launcher,
            "serve",
            "--port",
            "0",
            "--latency",
            repr(self.latency),
            "--capacity",
            str(10**9),
        ]
        for token in self.tokens:
            cmd += ["--token", token]
        self._stderr.seek(0)
        self._stderr.truncate()
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=HERE.parent
        )
        if self.core is not None:
            os.sched_setaffinity(self.proc.pid, {self.core})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        prefix = "Groove emulator listening on "
        if not line.startswith(prefix):
            self.stop()
            self._stderr.seek(0)
            raise RuntimeError(f"the emulator did not start: {line!r} {self._stderr.read()!r}")
        self.url = line[len(prefix) :].strip()

    def take_token(self, n: int) -> str:
        """A token whose collection is empty; restarts the server when it is used up."""
        if self.proc is None or not self.tokens or self.stored_ids + n > SERVER_ID_BUDGET:
            self.stop()
            self.start()
            _warm_up(self)
        self.stored_ids += n
        return self.tokens.pop()

    def cpu_seconds(self) -> float | None:
        return _proc_cpu_seconds(self.proc.pid) if self.proc is not None else None

    def wait_seconds(self) -> float | None:
        """Time the server spent runnable but waiting for its core (Linux schedstat)."""
        return _run_delay(self.proc.pid) if self.proc is not None else None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # graceful: a cProfile run writes its file
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def run_worker(
    scenario: str,
    *,
    url: str,
    token: str,
    n: int,
    start: int,
    concurrency: int,
    tasks: int,
    core: int | None,
    extra: list[str] | None = None,
    latency: float = 0.0,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(WORKER),
        "--scenario",
        scenario,
        "--url",
        url,
        "--token",
        token,
        "--n",
        str(n),
        "--start",
        str(start),
        "--concurrency",
        str(concurrency),
        "--tasks",
        str(tasks),
        "--latency",
        repr(latency),
        *(["--cpu", str(core)] if core is not None else []),
        *(extra or []),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120 + n / 1000, cwd=HERE.parent
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout)[-2000:], "returncode": proc.returncode}
    record: dict[str, Any] = json.loads(lines[-1])
    return record


def _warm_up(server: Emulator) -> None:
    """A small unrecorded run: connections, caches and code paths of a fresh server."""
    token = server.tokens.pop()
    record = run_worker(
        "baseline",
        url=server.url,
        token=token,
        n=2_000,
        start=0,
        concurrency=16,
        tasks=1,
        core=None,
    )
    if "error" in record:
        raise RuntimeError(f"warm-up against the emulator failed: {record['error']}")


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
    scenarios = list(args.only)
    per_rep = sum(1 for n in args.sizes for scenario in scenarios if _runs(scenario, n, args))
    total = len(args.latencies) * args.reps * len(args.concurrency) * per_rep
    done = 0
    began = time.monotonic()
    launcher = [str(HERE / "_fast_server.py")] if args.server == "fast" else None
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
                            record = run_worker(
                                scenario,
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


# -- summaries, ratios and targets ---------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def latency_bound(n: int, concurrency: int, latency: float) -> float | None:
    """Seconds a run cannot beat: ceil(N/100) POSTs, C at a time, each waiting ``latency``."""
    if latency <= 0:
        return None
    return math.ceil(n / BATCH) / concurrency * latency


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, N, latency, C): medians over repetitions, ratios."""
    groups: dict[tuple[str, int, float, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(run["scenario"], run["n"], run["latency"], run["concurrency"])].append(run)
    by_rep = {
        (r["scenario"], r["n"], r["latency"], r["concurrency"], r["rep"]): r
        for r in runs
        if "error" not in r
    }

    def paired_ratio(
        scenario: str, other: str, n: int, latency: float, c: int, field: str
    ) -> float | None:
        ratios = []
        for (s, nn, ll, cc, rep), run in by_rep.items():
            if (s, nn, ll, cc) != (scenario, n, latency, c):
                continue
            ref = by_rep.get((other, n, latency, c, rep))
            if ref is not None and ref.get(field) and run.get(field) is not None:
                ratios.append(run[field] / ref[field])
        return _median(ratios)

    rows = []
    order = {s: i for i, s in enumerate(SCENARIOS)}
    for (scenario, n, latency, c), group in sorted(
        groups.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][3], order[kv[0][0]])
    ):
        ok = [r for r in group if "error" not in r]
        rates = [r["ids_per_s"] for r in ok]
        bound = latency_bound(n, c, latency)
        row: dict[str, Any] = {
            "scenario": scenario,
            "n": n,
            "latency": latency,
            "concurrency": c,
            "reps": len(ok),
            "errors": len(group) - len(ok),
            "ids_per_s": _median(rates),
            "ids_per_s_min": min(rates) if rates else None,
            "ids_per_s_max": max(rates) if rates else None,
            "wall_s": _median([r["wall_s"] for r in ok]),
            "cpu_us_per_id": _median([r["cpu_us_per_id"] for r in ok]),
            "peak_rss_mib": _median([r["peak_rss_mib"] for r in ok]),
            "rss_before_mib": _median([r["rss_before_mib"] for r in ok]),
            "posts": _median([r["posts"] for r in ok]),
            "succeeded": _median([r["succeeded"] for r in ok]),
            "gc_collections": _median([r["gc_collections"] for r in ok]),
            "server_cpu_us_per_post": _median([r.get("server_cpu_us_per_post") for r in ok]),
            "server_busy": _median([r.get("server_busy") for r in ok]),
            "client_cpu_wait": _median([r.get("cpu_wait") for r in ok]),
            "server_cpu_wait": _median([r.get("server_cpu_wait") for r in ok]),
            "bound_s": bound,
            "of_bound": _median([bound / r["wall_s"] for r in ok]) if bound else None,
            "vs_baseline": (
                paired_ratio(scenario, "baseline", n, latency, c, "ids_per_s")
                if scenario != "baseline"
                else None
            ),
            "rss_vs_baseline": (
                paired_ratio(scenario, "baseline", n, latency, c, "peak_rss_mib")
                if scenario != "baseline"
                else None
            ),
            "vs_add_tracks": (
                paired_ratio(scenario, "add_tracks", n, latency, c, "ids_per_s")
                if scenario in ADD_TRACK_SCENARIOS
                else None
            ),
            # add_track's coalescing efficiency: its IDs/s over its floor's, same repetition
            "vs_add_track_floor": (
                paired_ratio(scenario, "add_track_floor", n, latency, c, "ids_per_s")
                if scenario == "add_track"
                else None
            ),
            # the share of the aiohttp ceiling a client reaches, same repetition
            "vs_floor_aiohttp": (
                paired_ratio(scenario, "floor_aiohttp", n, latency, c, "ids_per_s")
                if scenario in ("baseline", "add_tracks", "stream_add_tracks")
                else None
            ),
        }
        rows.append(row)
    return rows


def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, each a ratio measured in this run.

    Verdicts: PASS, FAIL, n/a (not measured), "out of reach on this machine" (missed, and this
    run's floor scenario for that target missed the needed value too: no client could have
    met it here), and "info" for the floor lines that are the evidence, not targets.
    """
    find = {(r["scenario"], r["n"], r["latency"], r["concurrency"]): r for r in rows}
    sizes = sorted({r["n"] for r in rows})
    targets: list[dict[str, Any]] = []

    def add(
        name: str,
        config: str,
        value: float | None,
        op: str,
        threshold: float | None,
        note: str = "",
        *,
        floor_reaches: bool | None = None,
        info: bool = False,
    ) -> None:
        """``floor_reaches``: whether this run's floor met the threshold (None: not measured)."""
        if info:
            verdict = INFO
        elif value is None or threshold is None:
            verdict = NA
        elif (value >= threshold) if op == ">=" else (value <= threshold):
            verdict = PASS
        elif floor_reaches is False:
            verdict = OUT_OF_REACH
        else:
            verdict = FAIL
        targets.append(
            {
                "target": name,
                "config": config,
                "value": value,
                "op": op,
                "threshold": threshold,
                "verdict": verdict,
                "note": note,
            }
        )

    def bound_threshold(concurrency: int) -> float:
        return T_BOUND_LOW_C if concurrency <= 16 else T_BOUND_HIGH_C

    def bound_floor(n: int, latency: float, c: int) -> dict[str, Any]:
        """floor_aiohttp against the latency-bound target at (N, latency, C): the evidence."""
        threshold = bound_threshold(c)
        needed = threshold * BATCH * c / latency  # IDs/s
        floor = find.get(("floor_aiohttp", n, latency, c))
        floor0 = find.get(("floor_aiohttp", n, 0.0, c))
        of_bound = floor["of_bound"] if floor else None
        ids0 = floor0["ids_per_s"] if floor0 else None
        # The direct measurement decides; without it, the floor's IDs/s at latency 0 (no
        # latency to hide, the most this machine's client + server can push) against the IDs/s
        # the target needs.
        if of_bound is not None:
            reaches: bool | None = of_bound >= threshold
        elif ids0 is not None:
            reaches = ids0 >= needed
        else:
            reaches = None
        return {"of_bound": of_bound, "ids0": ids0, "needed": needed, "reaches": reaches}

    for r in rows:
        n, latency, c = r["n"], r["latency"], r["concurrency"]
        key = f"N={n:,} L={latency * 1000:g}ms C={c}"
        if r["scenario"] == "add_tracks" and latency == 0:
            v = r["vs_baseline"]
            note = (
                ""
                if v is None
                else "stretch 1.3x " + ("met" if v >= T_SPEED_STRETCH else "not met")
            )
            add("add_tracks IDs/s vs baseline, latency 0", key, v, ">=", T_SPEED, note)
        if r["scenario"] == "floor_aiohttp" and latency > 0:
            ev = bound_floor(n, latency, c)
            add(
                "floor_aiohttp achieved / latency bound (ceiling of any aiohttp client)",
                key,
                ev["of_bound"],
                ">=",
                bound_threshold(c),
                f"floor_aiohttp at L=0: {_fmt(ev['ids0'], ',.0f')} IDs/s vs "
                f"{ev['needed']:,.0f} IDs/s needed ({bound_threshold(c):g} × 100·{c} / "
                f"{latency * 1000:g} ms)",
                info=True,
            )
        if r["scenario"] == "add_tracks" and latency > 0:
            ev = bound_floor(n, latency, c)
            note = (
                f"floor_aiohttp {ev['of_bound']:.3f}× bound; add_tracks reaches "
                f"{_fmt(r['vs_floor_aiohttp'], '.2f')} of its IDs/s"
                if ev["of_bound"] is not None
                else (
                    f"floor_aiohttp at L=0: {ev['ids0']:,.0f} IDs/s vs {ev['needed']:,.0f} needed"
                    if ev["ids0"] is not None
                    else "no floor_aiohttp run"
                )
            )
            add(
                "add_tracks achieved / latency bound",
                key,
                r["of_bound"],
                ">=",
                bound_threshold(c),
                note,
                floor_reaches=ev["reaches"],
            )
        if r["scenario"] == "add_track":
            floor = find.get(("add_track_floor", n, latency, c))
            ceiling = floor["vs_add_tracks"] if floor else None
            add(
                "add_track (coalesced) IDs/s vs add_tracks",
                key,
                r["vs_add_tracks"],
                ">=",
                T_SINGLE_SPEED,
                f"add_track_floor / add_tracks = {_fmt(ceiling, '.3f')}",
                floor_reaches=None if ceiling is None else ceiling >= T_SINGLE_SPEED,
            )
            expected = math.ceil(n / BATCH)
            posts = r["posts"]
            dev = abs(posts - expected) / expected if posts is not None else None
            add(
                "add_track POSTs vs ceil(N/100), deviation",
                key,
                dev,
                "<=",
                T_SINGLE_POSTS,
                f"{posts:.0f} POSTs for {expected}" if posts is not None else "",
            )
        if r["scenario"] == "add_track_floor":
            bulk = find.get(("add_tracks", n, latency, c))
            add(
                "add_track_floor IDs/s vs add_tracks (ceiling of the add_track ratio)",
                key,
                r["vs_add_tracks"],
                ">=",
                T_SINGLE_SPEED,
                f"{_fmt(r['ids_per_s'], ',.0f')} vs "
                f"{_fmt(bulk['ids_per_s'] if bulk else None, ',.0f')} IDs/s; the caller's "
                f"tasks alone cost {_fmt(r['cpu_us_per_id'], '.1f')} µs/ID",
                info=True,
            )
            single = find.get(("add_track", n, latency, c))
            if single is not None:
                add(
                    "add_track IDs/s vs add_track_floor (coalescing efficiency)",
                    key,
                    single["vs_add_track_floor"],
                    "",
                    None,
                    f"{_fmt(single['ids_per_s'], ',.0f')} vs {_fmt(r['ids_per_s'], ',.0f')} IDs/s",
                    info=True,
                )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for r in rows:
            if r["scenario"] != "stream_add_tracks" or r["n"] != large:
                continue
            ref = find.get(("stream_add_tracks", small, r["latency"], r["concurrency"]))
            if ref is None or not ref["peak_rss_mib"]:
                continue
            key = f"N={large:,} vs {small:,} L={r['latency'] * 1000:g}ms C={r['concurrency']}"
            add(
                "stream_add_tracks peak RSS, largest N / smallest N",
                key,
                r["peak_rss_mib"] / ref["peak_rss_mib"],
                "<=",
                T_STREAM_RSS,
                f"{r['peak_rss_mib']:.0f} vs {ref['peak_rss_mib']:.0f} MiB",
            )
    large = sizes[-1] if sizes else None
    for r in rows:
        if r["scenario"] == "add_tracks" and r["n"] == large:
            base = find.get(("baseline", large, r["latency"], r["concurrency"]))
            key = f"N={large:,} L={r['latency'] * 1000:g}ms C={r['concurrency']}"
            note = (
                f"{r['peak_rss_mib']:.0f} vs {base['peak_rss_mib']:.0f} MiB"
                if base and base["peak_rss_mib"]
                else ""
            )
            if large < 1_000_000:
                note += "; the issue's target is at N = 1,000,000"
            add(
                "add_tracks peak RSS vs baseline (results kept)",
                key,
                r["rss_vs_baseline"],
                "<=",
                T_BULK_RSS,
                note,
            )
    return targets


# -- reports -----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "–" if value is None else format(value, spec) + suffix


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def table_markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| scenario | N | latency | C | IDs/s (median) | spread | × baseline | × bound "
        "| client CPU µs/ID | peak RSS MiB | × baseline RSS | POSTs | GC runs "
        "| server CPU µs/POST | server busy | CPU wait client / server |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        rate = r["ids_per_s"]
        spread = (
            (r["ids_per_s_max"] - r["ids_per_s_min"]) / rate * 100
            if rate and r["reps"] > 1
            else None
        )
        busy = r["server_busy"]
        busy_text = _fmt(busy * 100 if busy is not None else None, ".0f", "%")
        if busy is not None and busy >= SATURATED:
            busy_text += " ⚠"
        lines.append(
            f"| {r['scenario']}{' (ERR ' + str(r['errors']) + ')' if r['errors'] else ''} "
            f"| {r['n']:,} | {r['latency'] * 1000:g} ms | {r['concurrency']} "
            f"| {_fmt(rate, ',.0f')} | {_fmt(spread, '.0f', '%')} "
            f"| {_fmt(r['vs_baseline'], '.2f', '×')} | {_fmt(r['of_bound'], '.2f')} "
            f"| {_fmt(r['cpu_us_per_id'], '.2f')} | {_fmt(r['peak_rss_mib'], '.0f')} "
            f"| {_fmt(r['rss_vs_baseline'], '.2f', '×')} | {_fmt(r['posts'], '.0f')} "
            f"| {_fmt(r['gc_collections'], '.0f')} "
            f"| {_fmt(r['server_cpu_us_per_post'], '.0f')} | {busy_text} "
            f"| {_pct(r['client_cpu_wait'])} / {_pct(r['server_cpu_wait'])} |"
        )
    return head + "\n".join(lines) + "\n"


def _needed(target: dict[str, Any]) -> str:
    threshold = target["threshold"]
    return "–" if threshold is None else f"{target['op']} {threshold:g}"


def targets_markdown(targets: list[dict[str, Any]]) -> str:
    head = (
        "| target | configuration | measured | needed | verdict | note |\n"
        "|---|---|---:|---:|---|---|\n"
    )
    lines = [
        f"| {t['target']} | {t['config']} | {_fmt(t['value'], '.3f')} "
        f"| {_needed(t)} | **{t['verdict']}** | {t['note']} |"
        for t in targets
    ]
    return head + "\n".join(lines) + "\n"


def machine_info(pinned: tuple[int | None, int | None]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": None,
        "memory_gib": None,
        "pinning": (
            {"worker_core": pinned[0], "server_core": pinned[1]} if pinned[0] is not None else None
        ),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["aiohttp"] = version("aiohttp")
        info["groove_async"] = version("groove-async")
        info["cattrs"] = version("cattrs")
        info["attrs"] = version("attrs")
    except Exception:  # noqa: BLE001, S110  (best effort: versions are decoration)
        pass
    try:
        info["commit"] = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                cwd=HERE.parent,
                check=False,
            ).stdout.strip()
            or None
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
            check=False,
        ).stdout.strip()
        info["worktree_modified"] = bool(dirty)
    except OSError:
        info["commit"] = None
    return info


def report_markdown(
    args: argparse.Namespace,
    machine: dict[str, Any],
    rows: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    started: str,
    seconds: float,
    loads: tuple[float | None, float | None],
) -> str:
    pin = machine["pinning"]
    pin_text = (
        f"worker pinned to core {pin['worker_core']}, emulator to core {pin['server_core']}"
        if pin
        else "no CPU pinning (needs os.sched_setaffinity and two cores)"
    )
    server_text = (
        "`python -m groove_async serve` (the emulator)"
        if args.server == "emulator"
        else "`benchmarks/_fast_server.py` (bare stand-in, NOT the emulator: diagnosis only)"
    )
    verdicts = [t["verdict"] for t in targets]
    summary = (
        f"{verdicts.count(PASS)} PASS, {verdicts.count(FAIL)} FAIL, "
        f"{verdicts.count(OUT_OF_REACH)} {OUT_OF_REACH}, {verdicts.count(NA)} n/a; "
        f"{verdicts.count(INFO)} info lines (the floors' evidence)"
    )
    saturated = [r for r in rows if r["server_busy"] is not None and r["server_busy"] >= SATURATED]
    parts = [
        "## Benchmark run\n",
        f"- command: `{args.command_line}`",
        f"- started {started}, took {seconds:.0f} s; 1-minute load average "
        f"{_fmt(loads[0], '.2f')} at the start, {_fmt(loads[1], '.2f')} at the end",
        f"- machine: {machine['cpus']} × {machine['cpu_model']}, "
        f"{_fmt(machine['memory_gib'], '.0f')} GiB, {machine['platform']}",
        f"- Python {machine['python']} ({machine['implementation']}), aiohttp "
        f"{machine.get('aiohttp')}, attrs {machine.get('attrs')}, cattrs {machine.get('cattrs')}, "
        f"groove-async {machine.get('groove_async')} at {machine.get('commit')}"
        + (" (working tree modified)" if machine.get("worktree_modified") else ""),
        f"- server: {server_text} in its own process; {pin_text}",
        f"- medians of {args.reps} repetition(s); ratios are medians of per-repetition ratios",
        "",
        table_markdown(rows),
        "× bound = (ceil(N/100) / C × latency) / wall time. ⚠ = the server process was "
        f"≥ {SATURATED:.0%} busy: that row measures the server, not the client. CPU wait = "
        "time runnable but waiting for the core (another process had it), per wall second: "
        "anything above a few % means the row was disturbed by the rest of the machine. "
        "Floors: `floor_aiohttp` is the cheapest aiohttp client doing the bulk job (bodies "
        "pre-encoded, raw bytes kept, no JSON decoding): the ceiling of any aiohttp-based "
        "client here. `add_track_floor` is the `add_track` harness against an in-process "
        "coalescer with no network (no server figures; its POSTs are the batches it resolved): "
        "the most any coalescer can reach here.",
        "",
        f"### Targets ({summary})\n",
        targets_markdown(targets),
        f"**{OUT_OF_REACH}** = missed, and the floor scenario of that target missed the needed "
        "value too in this run (`floor_aiohttp`'s own × bound at the same N, latency and C; "
        "`add_track_floor` IDs/s / `add_tracks` IDs/s): no client could have met it here. "
        "**FAIL** = missed while the floor met it. **info** lines are that evidence.\n",
    ]
    if saturated:
        parts.append(
            f"**{len(saturated)} of {len(rows)} rows ran against a saturated emulator**: their "
            "IDs/s and ratios are capped by the server process, not by the client.\n"
        )
    return "\n".join(parts)


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
        choices=("emulator", "fast"),
        default="emulator",
        help="emulator: python -m groove_async serve (the reference, default); fast: "
        "benchmarks/_fast_server.py, a bare stand-in for diagnosis (client-bound ratios)",
    )
    parser.add_argument(
        "--add-track-max-n",
        type=int,
        default=0,
        metavar="N",
        help="run the add_track scenario only for sizes <= N (0: all sizes)",
    )
    args = parser.parse_args(argv)
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
