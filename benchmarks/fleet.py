"""The fleet's figures (issue 22): a worker killed mid-job, and N workers on one token.

Needs the fleet extra and Debian's ``redis-server`` on PATH; starts its own Redis (a temporary
directory, a free loopback port, ``--appendonly yes``), the emulator over loopback HTTP in this
process, and the workers as ``groove-async worker`` subprocesses.

* crash: ``--size`` IDs (200,000) at ``--latency`` (20 ms), two workers at concurrency 8;
  ``kill -9`` of the one running the job once 30% is recorded. Reports the take-over time, the
  IDs sent again, and whether every input has its final result and the server every track.
* throttle: 1, 2, 4 and 8 workers on one token against the emulator's quota, with the shared
  gate and with each worker's local gate only: requests that arrived inside an announced pause
  (beyond 50 ms after its announcement), and goodput against the quota.

Run: ``python benchmarks/fleet.py [--json benchmarks/results/fleet.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from groove_async.fleet import Fleet
from groove_async.testing import FakeGrooveServer, FaultPlan, TokenQuota

TOKEN = "bench-fleet-token"
USER = "bench"
GRACE = 0.05


def _ids(count: int, start: int = 0) -> list[str]:
    return [f"music.{n:08X}-0100-11DB-89CA-0019B92A3933" for n in range(start, start + count)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            directory,
            "--save",
            "",
            "--appendonly",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process, f"redis://127.0.0.1:{port}/0"


async def _worker(redis_url: str, tokens: Path, base_url: str, *flags: str) -> Any:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groove_async",
        "worker",
        "--redis",
        redis_url,
        "--tokens",
        str(tokens),
        "--base-url",
        base_url,
        "--heartbeat",
        "2",
        *flags,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    await process.stderr.readline()
    return process


async def _stop(processes: list[Any]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()


async def crash(redis_url: str, tokens: Path, size: int, latency: float) -> dict[str, Any]:
    ids = _ids(size)
    plan = FaultPlan(latency=latency)
    async with FakeGrooveServer([TOKEN], faults=plan, log_limit=None, capacity=size) as server:
        flags = ("--concurrency", "8")
        workers = [await _worker(redis_url, tokens, server.url, *flags) for _ in range(2)]
        async with Fleet(redis_url, heartbeat=2) as fleet:
            started = time.monotonic()
            job_id = await fleet.submit(USER, "add", ids)
            while (await fleet.status(job_id)).done < 0.3 * size:  # noqa: ASYNC110 -- polling Redis
                await asyncio.sleep(0.02)
            job = await fleet._queue.job(job_id)
            assert job is not None
            assert job.worker_id is not None
            os.kill(int(str(job.worker_id).rpartition(":")[2]), signal.SIGKILL)
            killed = time.monotonic()
            at_kill = (await fleet.status(job_id)).done
            while (await fleet.status(job_id)).done == at_kill:  # noqa: ASYNC110 -- polling Redis
                await asyncio.sleep(0.02)
            taken_over = time.monotonic() - killed
            end = await fleet.wait(job_id, poll=0.1)
            elapsed = time.monotonic() - started
            records = [r async for r in fleet.results(job_id)]
        await _stop(workers)
        sent = sum(len(r.ids) for r in server.requests if r.method == "POST")
        held = len(server.collection(TOKEN))
    return {
        "size": size,
        "latency": latency,
        "concurrency": 8,
        "killed_at_done": at_kill,
        "taken_over_s": round(taken_over, 2),
        "resent_ids": sent - size,
        "elapsed_s": round(elapsed, 2),
        "status": end.status,
        "all_final": Counter(r["outcome"] for r in records) == {"SUCCEEDED": size},
        "in_input_order": [r["input_id"] for r in records] == ids,
        "server_holds": held,
    }


async def throttle(
    redis_url: str, tokens: Path, workers: int, shared: bool, rate: float, per_job: int
) -> dict[str, Any]:
    quota = TokenQuota(rate=rate)
    async with FakeGrooveServer([TOKEN], faults=FaultPlan(latency=0.2), log_limit=None) as server:
        server.quota = quota
        flags = ["--concurrency", "1"] + ([] if shared else ["--local-gate"])
        procs = await asyncio.gather(
            *(_worker(redis_url, tokens, server.url, *flags) for _ in range(workers))
        )
        async with Fleet(redis_url) as fleet:
            started = time.monotonic()
            jobs = [
                await fleet.submit(
                    USER,
                    "add",
                    _ids(per_job, n * per_job),
                )
                for n in range(workers)
            ]
            ends = await asyncio.gather(*(fleet.wait(j, poll=0.1) for j in jobs))
            elapsed = time.monotonic() - started
        await _stop(list(procs))
    requests = workers * per_job // 100
    return {
        "workers": workers,
        "gate": "shared" if shared else "local",
        "quota_rps": rate,
        "violations": quota.violation_count(GRACE),
        "violations_within_grace": len(quota.violations) - quota.violation_count(GRACE),
        "throttled": sum(quota.throttled.values()),
        "goodput_rps": round(requests / elapsed, 2),
        "goodput_of_quota": round(requests / elapsed / rate, 2),
        "failed_items": sum(e.failed for e in ends),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--per-job", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        tokens = Path(directory) / "tokens"
        tokens.mkdir()
        (tokens / USER).write_text(TOKEN + "\n")
        redis, url = _start_redis(directory)
        try:
            rows: dict[str, Any] = {"crash": await crash(url, tokens, args.size, args.latency)}
            print(json.dumps(rows["crash"]), flush=True)
            rows["throttle"] = []
            for count in (int(n) for n in args.workers.split(",")):
                for shared in (True, False):
                    row = await throttle(url, tokens, count, shared, args.rate, args.per_job)
                    print(json.dumps(row), flush=True)
                    rows["throttle"].append(row)
        finally:
            redis.terminate()
            redis.wait()
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
