# ruff: noqa: RUF001  (the en dash is meant: it stands for "no value" in the report)
"""The benchmark runner's summary: one row per (scenario, N, latency, C), medians and ratios."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

from _worker import BATCH, SCENARIOS  # this directory: run as a script

#: Scenarios that ``--add-track-max-n`` limits.
ADD_TRACK_SCENARIOS = frozenset({"add_track", "add_track_floor"})


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
    order_of = lambda s: order.get(s, len(order))  # noqa: E731  (add_tracks@REF rows go last)
    for (scenario, n, latency, c), group in sorted(
        groups.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][3], order_of(kv[0][0]), kv[0][0])
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
                if scenario in ADD_TRACK_SCENARIOS or scenario.startswith("add_tracks@")
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
                or scenario.startswith("add_tracks@")
                else None
            ),
        }
        rows.append(row)
    return rows


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "–" if value is None else format(value, spec) + suffix


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"
