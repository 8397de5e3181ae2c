# ruff: noqa: RUF001, RUF003  (µ, × and ⚠ are meant: the output is a report)
"""The benchmark runner's report: the table, the targets and the machine, in markdown."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from _processes import HERE, SERVER_DESCRIPTIONS
from _summary import fmt as _fmt
from _summary import pct as _pct
from _targets import FAIL, INFO, NA, OUT_OF_REACH, PASS

#: Rows whose server process was this busy were limited by the server, not by the client.
SATURATED = 0.90


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
        f"worker pinned to core {pin['worker_core']}, server to core {pin['server_core']}"
        if pin
        else "no CPU pinning (needs os.sched_setaffinity and two cores)"
    )
    server_text = SERVER_DESCRIPTIONS[args.server]
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
            f"**{len(saturated)} of {len(rows)} rows ran against a saturated server**: their "
            "IDs/s and ratios are capped by the server process, not by the client.\n"
        )
    return "\n".join(parts)
