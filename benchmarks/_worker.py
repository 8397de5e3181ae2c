"""One measurement, in its own process: ``python benchmarks/_worker.py --scenario ... --url ...``.

The runner (``benchmarks/run.py``) starts one of these per (scenario, N, latency, concurrency,
repetition), because peak RSS (``ru_maxrss``) only ever grows: a fresh process is the only way to
read one scenario's peak. It prints exactly one JSON line on stdout:

``{"scenario", "n", "concurrency", "wall_s", "ids_per_s", "cpu_s", "cpu_us_per_id",
"peak_rss_mib", "rss_before_mib", "posts", "succeeded", "gc_collections", ...}``

* ``wall_s`` / ``cpu_s`` cover the operation only: from opening the session (or client) to the
  last result collected, session close included. Building the input list (``baseline``,
  ``add_tracks``) happens before the clock starts; ``stream_add_tracks`` makes its IDs lazily,
  inside the clock, by design (that is what the scenario measures).
* ``cpu_s`` is :func:`time.process_time` (user + system CPU of this process, all threads).
* ``peak_rss_mib`` is ``ru_maxrss`` at the end: interpreter, imports, input list and the results
  held until the clock stops. ``rss_before_mib`` is the same figure just before the operation.
* ``posts`` counts the HTTP requests the client made (retries included). The baseline and
  ``floor_aiohttp`` count their own; the library scenarios count calls of the transport's
  ``send`` (a class-level wrapper of a private method, one extra coroutine frame per POST, about
  0.01 us per ID; ``null`` if the private name ever moves). ``add_track_floor`` makes no request:
  its ``posts`` are the batches its in-process coalescer resolved (what it would have POSTed).

Two scenarios are floors, not clients a user would write: ``floor_aiohttp`` (the cheapest
aiohttp client doing the bulk job: the ceiling of any aiohttp-based client on this machine) and
``add_track_floor`` (the ``add_track`` harness against an in-process coalescer with no network:
the cost of the caller's own tasks, the most any coalescer can reach).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

SCENARIOS = (
    "baseline",
    "floor_aiohttp",
    "add_tracks",
    "stream_add_tracks",
    "add_track",
    "add_track_floor",
)
#: Scenarios that never touch the server (the runner gives them no token and no server figures).
NO_SERVER = frozenset({"add_track_floor"})
BATCH = 100


def catalog_ids(start: int, n: int) -> Iterator[str]:
    """Distinct catalog track IDs ``start .. start+n-1``, made lazily."""
    from groove_async.testing import catalog_track_id

    for i in range(start, start + n):
        yield catalog_track_id(i)


# -- (a) the hand-written aiohttp loop a bulk importer would write instead of the library -------
#
# Exactly the plain loop of the issue: chunk into 100s, a semaphore of C, session.post(json=...),
# await resp.json(), collect the result dicts in order. Nothing clever, nothing left out that a
# user would write (raise_for_status), nothing added that a user would not (retries, validation).


async def baseline(url: str, token: str, ids: list[str], concurrency: int) -> dict[str, Any]:
    import aiohttp  # noqa: TID251  (the hand-written loop uses aiohttp directly: that is the point)

    endpoint = f"{url}/1/content/music/collection/add"
    headers = {"Authorization": f"Bearer {token}"}
    semaphore = asyncio.Semaphore(concurrency)
    chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

    async with aiohttp.ClientSession() as session:

        async def post(chunk: list[str]) -> list[dict[str, Any]]:
            async with (
                semaphore,
                session.post(endpoint, json={"TrackIds": chunk}, headers=headers) as resp,
            ):
                resp.raise_for_status()
                data = await resp.json()
                items: list[dict[str, Any]] = data["TrackActionResults"]
                return items

        batches = await asyncio.gather(*(post(chunk) for chunk in chunks))
    results = [item for batch in batches for item in batch]
    return {"results": results, "posts": len(chunks)}


# -- the aiohttp floor: the cheapest aiohttp client doing the same job ---------------------------
#
# Bodies pre-encoded to bytes before the clock, one session whose connector allows C connections,
# C worker tasks pulling chunk indices from a shared counter (cheaper than the baseline's
# semaphore + one task per chunk: C tasks in all instead of ceil(N/100), no semaphore wake-ups),
# post(data=bytes), read the raw body, no status check and no JSON decoding in the clock. The
# bodies are checked after the clock stops (see measure()). Nothing a real client could drop is
# left: it is the ceiling of any aiohttp-based client on this machine.


def encode_bodies(ids: list[str]) -> list[bytes]:
    """``{"TrackIds": [...]}`` per 100-ID chunk, as bytes (done before the clock starts)."""
    return [
        json.dumps({"TrackIds": ids[i : i + BATCH]}).encode() for i in range(0, len(ids), BATCH)
    ]


async def floor_aiohttp(
    url: str, token: str, bodies: list[bytes], concurrency: int
) -> dict[str, Any]:
    import aiohttp  # noqa: TID251  (the floor uses aiohttp directly: that is the point)

    endpoint = f"{url}/1/content/music/collection/add"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    results: list[bytes] = [b""] * len(bodies)
    indices = iter(range(len(bodies)))  # shared by the workers: next() never suspends

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        post = session.post

        async def worker() -> None:
            for i in indices:
                async with post(endpoint, data=bodies[i], headers=headers) as resp:
                    results[i] = await resp.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"bodies": results, "posts": len(bodies)}


# -- (b) (c) (d) the library -----------------------------------------------------------------


class PostCounter:
    """Counts calls of the library's transport ``send`` (see the module docstring)."""

    def __init__(self) -> None:
        self.count: int | None = None
        try:
            from groove_async._aiohttp import AiohttpTransport as Transport
        except ImportError:
            return
        send = getattr(Transport, "send", None)
        if send is None:
            return
        self.count = 0
        counter = self

        async def counting_send(self_: Any, request: Any) -> Any:
            counter.count += 1  # type: ignore[operator]
            return await send(self_, request)

        Transport.send = counting_send  # type: ignore[method-assign, assignment]


async def add_tracks(url: str, token: str, ids: list[str], concurrency: int) -> dict[str, Any]:
    from groove_async import GrooveClient

    async with GrooveClient(token, base_url=url, max_concurrency=concurrency) as groove:
        result = await groove.add_tracks(ids)
    return {"results": result}


async def stream_add_tracks(
    url: str, token: str, start: int, n: int, concurrency: int
) -> dict[str, Any]:
    from contextlib import aclosing

    from groove_async import GrooveClient, Outcome

    counts = dict.fromkeys(Outcome, 0)
    async with (
        GrooveClient(token, base_url=url, max_concurrency=concurrency) as groove,
        aclosing(groove.stream_add_tracks(catalog_ids(start, n))) as stream,  # type: ignore[type-var]
    ):
        async for item in stream:  # consumed and dropped: only outcomes are counted
            counts[item.outcome] += 1
    return {"counts": counts}


async def add_track(
    url: str, token: str, ids: list[str], concurrency: int, tasks: int
) -> dict[str, Any]:
    """One task per ID, each awaiting ``add_track`` once (a bot's handlers), at most ``tasks``
    of them alive at a time."""
    from groove_async import GrooveClient

    async with GrooveClient(token, base_url=url, max_concurrency=concurrency) as groove:
        counts = await caller_tasks(ids, tasks, groove.add_track)
    return {"counts": counts}


async def caller_tasks(
    ids: list[str],
    tasks: int,
    add_track: Callable[[str], Awaitable[Any]],
    before_gather: Callable[[], None] | None = None,
) -> dict[Any, int]:
    """A bot's handlers: one task per ID, each awaiting ``add_track`` once, at most ``tasks``
    alive at a time; returns the count of each outcome. ``before_gather`` runs once every task
    has been started (the floor flushes its last batch there)."""
    from groove_async import Outcome

    counts = dict.fromkeys(Outcome, 0)
    alive = asyncio.Semaphore(tasks)
    running: set[asyncio.Task[None]] = set()

    async def handler(track_id: str) -> None:
        try:
            result = await add_track(track_id)
            counts[result.outcome] += 1
        finally:
            alive.release()

    for track_id in ids:
        await alive.acquire()
        task = asyncio.create_task(handler(track_id))
        running.add(task)
        task.add_done_callback(running.discard)
    if before_gather is not None:
        before_gather()
    if running:
        await asyncio.gather(*running)
    return counts


# -- the add_track floor: the caller's own tasks against a coalescer that costs nothing ---------


class FloorCoalescer:
    """The least any coalescer can do: a future per call, resolved 100 at a time, no network.

    ``add_track`` appends a fresh future to the pending list; when 100 are pending they form a
    batch. At latency 0 a batch is resolved in a ``loop.call_soon`` callback with one constant
    result. At latency L > 0 it is resolved L seconds later with at most ``concurrency`` batches
    "in flight" (the rest queue, in order): what the service's round trip imposes on any
    coalescer, so the caller's tasks live as long as they do against the real service (10,000
    tasks alive at once cost the collector and the cache more than a few hundred do). ``close``
    schedules (``call_soon``, so after every task already started has made its call) the
    remainder as a last batch. ``batches`` counts the batches resolved.
    """

    def __init__(self, result: Any, latency: float = 0.0, concurrency: int = 1) -> None:
        self.loop = asyncio.get_running_loop()
        self.result = result
        self.latency = latency
        self.concurrency = concurrency
        self.pending: list[asyncio.Future[Any]] = []
        self.queued: deque[list[asyncio.Future[Any]]] = deque()
        self.in_flight = 0
        self.batches = 0

    def add_track(self, track_id: str) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        pending = self.pending
        pending.append(future)
        if len(pending) >= BATCH:
            self.pending = []
            self._send(pending)
        return future

    def _send(self, batch: list[asyncio.Future[Any]]) -> None:
        if self.latency <= 0:
            self.loop.call_soon(self._resolve, batch)
        elif self.in_flight < self.concurrency:
            self.in_flight += 1
            self.loop.call_later(self.latency, self._answer, batch)
        else:
            self.queued.append(batch)

    def _answer(self, batch: list[asyncio.Future[Any]]) -> None:
        self.in_flight -= 1
        if self.queued:
            self._send(self.queued.popleft())
        self._resolve(batch)

    def _resolve(self, batch: list[asyncio.Future[Any]]) -> None:
        self.batches += 1
        result = self.result
        for future in batch:
            if not future.done():
                future.set_result(result)

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            self._send(batch)

    def close(self) -> None:
        self.loop.call_soon(self._flush)


class _FloorResult:
    __slots__ = ("outcome",)

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome


async def add_track_floor(
    ids: list[str], tasks: int, latency: float = 0.0, concurrency: int = 1
) -> dict[str, Any]:
    """The ``add_track`` harness (:func:`caller_tasks`) with ``FloorCoalescer.add_track`` in place
    of ``GrooveClient.add_track``: no client, no session, no server."""
    from groove_async import Outcome

    groove = FloorCoalescer(_FloorResult(Outcome.SUCCEEDED), latency, concurrency)
    # groove.close: the client's ``async with`` exit, flushing what is left
    counts = await caller_tasks(ids, tasks, groove.add_track, before_gather=groove.close)
    return {"counts": counts, "posts": groove.batches}


# -- one measurement ---------------------------------------------------------------------------


def _maxrss_mib() -> float:
    # Linux reports KiB, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_delay_seconds(pid: int | str = "self") -> float | None:
    """Time the process spent runnable but waiting for a CPU (``/proc/<pid>/schedstat``, Linux).

    On a shared machine this is the measure of disturbance: another process had the core.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _gc_collections() -> int:
    return sum(gen["collections"] for gen in gc.get_stats())


class GcTimer:
    """Wall time spent inside the cyclic garbage collector (via :data:`gc.callbacks`)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def prepare(args: argparse.Namespace) -> tuple[Callable[[], Any], PostCounter | None]:
    """Build the input and return (a coroutine factory for the timed operation, post counter)."""
    scenario = args.scenario
    library = scenario in ("add_tracks", "stream_add_tracks", "add_track")
    counter = PostCounter() if library else None
    if scenario == "stream_add_tracks":
        return (
            lambda: stream_add_tracks(args.url, args.token, args.start, args.n, args.concurrency),
            counter,
        )
    ids = list(catalog_ids(args.start, args.n))
    if scenario == "baseline":
        return lambda: baseline(args.url, args.token, ids, args.concurrency), counter
    if scenario == "add_tracks":
        return lambda: add_tracks(args.url, args.token, ids, args.concurrency), counter
    if scenario == "add_track":
        return lambda: add_track(args.url, args.token, ids, args.concurrency, args.tasks), counter
    if scenario == "floor_aiohttp":
        bodies = encode_bodies(ids)
        return lambda: floor_aiohttp(args.url, args.token, bodies, args.concurrency), counter
    if scenario == "add_track_floor":
        if args.tasks < BATCH:  # fewer live tasks than a batch: none would ever fill up
            raise SystemExit(f"add_track_floor needs --tasks >= {BATCH}")
        return (
            lambda: add_track_floor(ids, args.tasks, args.latency, args.concurrency),
            counter,
        )
    raise SystemExit(f"unknown scenario {scenario!r}")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run one scenario once and return its figures (the JSON line)."""
    operation, counter = prepare(args)
    # Import everything the operation needs before the clock starts (aiohttp, the client).
    import aiohttp  # noqa: F401, TID251  (imported before the clock starts)

    # groove_async loads its public names on first use: ask for the client (and with it the
    # wire's converter, tenacity, orjson) so that its import is not timed either.
    from groove_async import GrooveClient  # noqa: F401

    profiler = None
    if args.profile:
        import cProfile

        # CPU time, not wall time: the event loop's idle wait in epoll is not a cost.
        profiler = cProfile.Profile(time.process_time)
    rss_before = _maxrss_mib()
    gc_before = _gc_collections()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    wait0 = run_delay_seconds()
    with GcTimer() as gc_timer:
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        out = asyncio.run(operation())
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    wait1 = run_delay_seconds()
    gc_runs = _gc_collections() - gc_before
    if profiler is not None:
        profiler.dump_stats(args.profile)
    peak = _maxrss_mib()  # the results are still held here

    # Check the work was real (outside the clock).
    n = args.n
    if args.scenario == "baseline":
        results = out["results"]
        got = len(results)
        succeeded = sum(1 for item in results if "Id" in item and "Error" not in item)
        posts: int | None = out["posts"]
    elif args.scenario == "floor_aiohttp":
        # Decoded here, after the clock and after the peak RSS was read: not part of the cost.
        items = [item for body in out["bodies"] for item in json.loads(body)["TrackActionResults"]]
        got = len(items)
        succeeded = sum(1 for item in items if "Id" in item and "Error" not in item)
        posts = out["posts"]
    elif args.scenario == "add_tracks":
        results = out["results"]
        got = len(results)
        succeeded = len(results.succeeded)
        posts = counter.count if counter else None
    else:
        counts = out["counts"]
        got = sum(counts.values())
        succeeded = sum(v for k, v in counts.items() if k == "SUCCEEDED")
        posts = out.get("posts", counter.count if counter else None)
    return {
        "scenario": args.scenario,
        "n": n,
        "concurrency": args.concurrency,
        "tasks": args.tasks if args.scenario in ("add_track", "add_track_floor") else None,
        "wall_s": wall,
        "ids_per_s": n / wall if wall > 0 else None,
        "cpu_s": cpu,
        "cpu_us_per_id": cpu / n * 1e6 if n else None,
        "peak_rss_mib": peak,
        "rss_before_mib": rss_before,
        "posts": posts,
        "results": got,
        "succeeded": succeeded,
        "gc_collections": gc_runs,
        "gc_us_per_id": gc_timer.seconds / n * 1e6 if n else None,
        "user_s": usage1.ru_utime - usage0.ru_utime,
        "sys_s": usage1.ru_stime - usage0.ru_stime,
        "profiled": bool(args.profile),
        # Runnable but not running (another process had the core), as a share of the wall time.
        "cpu_wait": (wait1 - wait0) / wall if wait0 is not None and wait1 is not None else None,
        "cpu_affinity": (
            sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        ),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument(
        "--url", required=True, help="the emulator's base URL (add_track_floor: ignored)"
    )
    parser.add_argument("--token", required=True, help="add_track_floor: ignored")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="add_track_floor: seconds each batch takes, at most --concurrency at a time",
    )
    parser.add_argument("--n", type=int, required=True, help="how many IDs")
    parser.add_argument("--start", type=int, default=0, help="first catalog ID number")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=10_000, help="add_track: live tasks at once")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the timed operation into FILE")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    record = measure(args)
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
