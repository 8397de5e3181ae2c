"""The benchmark runner's processes: the reference server and the worker, pinned to cores.

The server runs in its own process, started once per latency and restarted after it has stored
:data:`SERVER_ID_BUDGET` IDs (its collections only grow); each measurement runs in a fresh
``benchmarks/_worker.py`` process, so that its peak RSS is its own. Imported by ``run.py``,
``profile_client.py`` and ``profile_server.py``, which run as scripts from this directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"

#: Restart the server after it has stored this many IDs (its collections only grow).
SERVER_ID_BUDGET = 4_000_000
#: Tokens (users, each with an empty collection) the server is started with.
SERVER_TOKENS = 64

#: What runs each server's ``serve`` command line, from the repository's root: the benchmarks'
#: reference server (the emulator's service with its hot path made cheap, the default), the
#: emulator itself (``groove-async serve``), and a bare stand-in for diagnosis.
SERVER_LAUNCHERS: dict[str, list[str]] = {
    "bench": ["-m", "benchmarks._bench_server"],
    "emulator": ["-m", "groove_async"],
    "fast": [str(HERE / "_fast_server.py")],
}
#: How each server is named in the report.
SERVER_DESCRIPTIONS: dict[str, str] = {
    "bench": "`python -m benchmarks._bench_server serve` (the emulator's service, fast path)",
    "emulator": "`python -m groove_async serve` (the plain emulator)",
    "fast": "`benchmarks/_fast_server.py` (bare stand-in, NOT the emulator: diagnosis only)",
}


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
    """A server's ``serve`` command line in its own process, optionally pinned to one core.

    ``launcher`` is what runs it (:data:`SERVER_LAUNCHERS`; ``profile_server.py`` wraps one in
    cProfile); by default the benchmarks' reference server.
    """

    def __init__(
        self, latency: float, core: int | None, *, launcher: list[str] | None = None
    ) -> None:
        self.latency = latency
        self.core = core
        self.launcher = launcher or SERVER_LAUNCHERS["bench"]
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
            raise RuntimeError(f"the server did not start: {line!r} {self._stderr.read()!r}")
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
    source: str | None = None,
) -> dict[str, Any]:
    """One measurement in a fresh worker process; ``source``: a checkout of another commit whose
    ``groove_async`` the worker imports instead of this tree's (``run.py --ref``)."""
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
    env = None
    if source is not None:
        env = {**os.environ, "PYTHONPATH": source}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120 + n / 1000, cwd=HERE.parent, env=env
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
        raise RuntimeError(f"warm-up against the server failed: {record['error']}")
