"""The benchmarks' reference server: the emulator, with the path of a healthy bulk add made cheap.

``run.py`` measures the client against a server in another process, so the server's CPU per
request caps what a run can measure. This is :class:`~groove_async.testing.FakeGrooveServer`
(the same service, :mod:`groove_async.testing._service`: the same state, the same answers byte
for byte, the same draws from the seeded generator) with these changes:

* ``aiohttp.web``'s low-level server instead of an application (no router, no middleware
  chain: the service routes anyway), and a body that has all arrived taken from the stream
  without awaiting it (:class:`BenchGrooveServer`);
* JSON request bodies read with orjson, the standard library deciding whenever orjson refuses
  one (:meth:`BenchService._read_track_ids`);
* the healthy bulk add (default catalog, normalised documented IDs, room for all of them) done
  in bulk on joined buffers (:mod:`benchmarks._bench_catalog`) and its JSON answer joined from
  a string template (:meth:`BenchService._add`, :func:`results_json`);
* a collection's way back from collection IDs kept only for the IDs that need it
  (:class:`BenchUser`);
* one timer for all the requests sleeping out a constant latency (:class:`Sleeper`).

``tests/emulator/test_bench_server_equivalence.py`` holds it to the emulator. Its command line
is the part of ``groove-async serve`` that ``run.py`` uses, run from the repository's root::

    python -m benchmarks._bench_server serve --port 0 --latency 0.02 --capacity N --token T ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Awaitable, Iterator, Mapping
from typing import Any, Final

import orjson
from aiohttp import web  # noqa: TID251  (the benchmarks' server is an aiohttp server)

from benchmarks._bench_catalog import documented_heads, documented_owner, mint_collection_ids
from groove_async.testing import FakeGrooveServer, FaultPlan
from groove_async.testing._catalog import is_documented_track_id
from groove_async.testing._codec import track_ids_of
from groove_async.testing._http import HttpRequest
from groove_async.testing._service import GrooveService
from groove_async.testing._state import User

__all__ = ["BenchGrooveServer", "BenchService", "BenchUser", "Sleeper", "results_json"]

URL_LINE_PREFIX: Final = "Groove emulator listening on "
_SHUTDOWN_TIMEOUT: Final = 0.5
# The all-success TrackActionResponse of n IDs, for IDs that need no JSON escaping: the strings
# to join, with the IDs at 1::4 and the collection IDs at 3::4.
_RESULTS_TEMPLATES: dict[int, list[str]] = {}


def results_json(ids: list[str], collection_ids: list[str]) -> bytes:
    """``{"TrackActionResults":[{"InputId":..,"Id":..},...]}`` for IDs JSON needs not escape."""
    count = len(ids)
    template = _RESULTS_TEMPLATES.get(count)
    if template is None:
        template = ['{"TrackActionResults":[{"InputId":"']
        for _ in range(count - 1):
            template += ["", '","Id":"', "", '"},{"InputId":"']
        template += ["", '","Id":"', "", '"}]}']
        _RESULTS_TEMPLATES[count] = template
    parts = template.copy()
    parts[1::4] = ids
    parts[3::4] = collection_ids
    return "".join(parts).encode("ascii")


class BulkResults(Mapping[str, Any]):
    """The all-success TrackActionResponse of a bulk add, its result objects made on demand.

    Only a damaged answer (a fault plan's ``missing_item``) or an XML one needs them; the JSON
    answer is joined from :func:`results_json`.
    """

    __slots__ = ("collection_ids", "ids")

    def __init__(self, ids: list[str], collection_ids: list[str]) -> None:
        self.ids = ids
        self.collection_ids = collection_ids

    def __getitem__(self, key: str) -> Any:
        if key != "TrackActionResults":
            raise KeyError(key)
        pairs = zip(self.ids, self.collection_ids, strict=True)
        return [{"InputId": i, "Id": c} for i, c in pairs]

    def __iter__(self) -> Iterator[str]:
        return iter(("TrackActionResults",))

    def __len__(self) -> int:
        return 1


class BenchUser(User):
    """A collection whose way back (``by_collection``) holds only the collection IDs of catalog
    IDs that are not documented track IDs.

    A collection ID minted for a documented track ID holds its GUID head (spec section 7), which
    is all that differs between two such catalog IDs, so :meth:`owner` finds those from the ID
    itself (:func:`~benchmarks._bench_catalog.documented_owner`): the bulk add has one dict to
    update, and nothing to check its new IDs against when no other ID was ever added.
    """

    __slots__ = ()

    def owner(self, collection_id: str) -> str | None:
        owner = self.by_collection.get(collection_id)
        if owner is None:
            candidate = documented_owner(collection_id)
            if candidate is not None and self.by_catalog.get(candidate) == collection_id:
                return candidate
        return owner

    def insert(self, catalog_id: str, collection_id: str) -> None:
        self.by_catalog[catalog_id] = collection_id
        if not is_documented_track_id(catalog_id):
            self.by_collection[collection_id] = catalog_id

    def remove(self, collection_id: str) -> str | None:
        owner = self.owner(collection_id)
        if owner is not None:
            self.by_collection.pop(collection_id, None)
            del self.by_catalog[owner]
        return owner


class BenchService(GrooveService):
    """The emulator's service with orjson reading and the bulk add (see the module's doc)."""

    user_class = BenchUser

    def _read_track_ids(self, request: HttpRequest) -> tuple[list[str] | None, str | None]:
        if "xml" not in (request.header("Content-Type") or "").lower():
            try:
                data = orjson.loads(request.body)
            except orjson.JSONDecodeError:
                pass  # the emulator's reading decides: a BOM, NaN, UTF-16, XML, nothing...
            else:
                ids = data.get("TrackIds") if type(data) is dict else None
                if type(ids) is list and ids:
                    try:
                        "".join(ids)  # every item a string (orjson makes no str subclasses)
                    except TypeError:
                        pass
                    else:
                        return ids, None
                return track_ids_of(data)  # anything else: as the emulator reads it
        return super()._read_track_ids(request)

    def _add(self, user: User, ids: list[str]) -> Mapping[str, Any]:
        if self.default_catalog and len(user.by_catalog) + len(ids) <= self.capacity:
            heads = documented_heads(ids)
            if heads is not None:
                return self._add_documented(user, ids, heads)
        return super()._add(user, ids)

    def _add_documented(self, user: User, ids: list[str], heads: bytes) -> BulkResults:
        """The emulator's add with every branch decided in advance: every ID is in the catalog
        (normalised, of the documented shape: ``heads``) and fits. The same collection, the
        same draws from the generator (one per new ID, in request order), the same answer."""
        by_catalog = user.by_catalog
        # A new ID minted for a documented track ID holds its GUID head: only an ID in
        # by_collection can be the same (see BenchUser).
        taken = user.by_collection.keys()
        if len(set(ids)) == len(ids) and by_catalog.keys().isdisjoint(ids):
            new_ids = ids  # all new and distinct: the common case
        else:
            new_ids = [i for i in dict.fromkeys(ids) if i not in by_catalog]
        minted = mint_collection_ids(self.rng, new_ids, taken, heads if new_ids is ids else None)
        if new_ids:
            by_catalog.update(zip(new_ids, minted, strict=True))
            user.version += 1
        collection_ids = minted if new_ids is ids else list(map(by_catalog.__getitem__, ids))
        return BulkResults(ids, collection_ids)

    def _encode(self, type_name: str, payload: Mapping[str, Any], xml: bool) -> tuple[bytes, str]:
        if isinstance(payload, BulkResults):
            if not xml:
                # Documented catalog IDs and minted IDs (URL-safe base64) hold nothing to escape.
                body = results_json(payload.ids, payload.collection_ids)
                return body, "application/json; charset=utf-8"
            payload = dict(payload)
        return super()._encode(type_name, payload, xml)


class Sleeper:
    """``asyncio.sleep`` for the requests' latency, with one timer for all of them.

    With a constant latency the requests' wake-up times grow in the order they arrive, so they
    wait in a queue woken by one timer, set for the first: no timer handle, heap entry and
    cancellation per request. A request due before the last one queued (latency jitter, a plan
    with a shorter latency) takes ``asyncio.sleep``. Either way a request wakes in the first
    event-loop iteration at or after its time, as with ``asyncio.sleep``.
    """

    __slots__ = ("_loop", "_queue", "_resolution", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._queue: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        # What asyncio allows for when it runs due timers.
        self._resolution = time.get_clock_info("monotonic").resolution

    def sleep(self, delay: float) -> Awaitable[None]:
        loop = self._loop
        assert loop is not None, "the server is not running"
        when = loop.time() + delay
        queue = self._queue
        if queue and when < queue[-1][0]:
            return asyncio.sleep(delay)
        future: asyncio.Future[None] = loop.create_future()
        queue.append((when, future))
        if self._timer is None:
            self._timer = loop.call_at(when, self._wake)
        return future

    def _wake(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer = None
        queue = self._queue
        end = loop.time() + self._resolution
        while queue:
            when, future = queue[0]
            if when >= end:
                self._timer = loop.call_at(when, self._wake)
                return
            queue.popleft()
            if not future.done():  # its request may have been cancelled
                future.set_result(None)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()


class BenchGrooveServer(FakeGrooveServer):
    """:class:`FakeGrooveServer` on aiohttp's low-level server, with :class:`BenchService`.

    Its HTTP differs from the emulator's only where the benchmarks never go: no
    ``Expect: 100-continue`` handling. The in-memory transport is the emulator's.
    """

    _service_class = BenchService

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sleeper = Sleeper(None)

    async def start(self) -> None:
        await super().start()
        self._sleeper = Sleeper(asyncio.get_running_loop())

    async def stop(self) -> None:
        await super().stop()
        self._sleeper.close()

    def _make_runner(self) -> web.BaseRunner:
        server = web.Server(self._handle, access_log=None)
        return web.ServerRunner(server, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        content = request.content
        if content.is_eof() and content.total_bytes <= request.client_max_size:
            return content.read_nowait()  # what request.read() returns, minus its loop
        return await request.read()

    async def _sleep(self, delay: float) -> None:
        await self._sleeper.sleep(delay)


# -- command line ------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> int:
    tokens: list[str] = args.tokens or ["demo-token"]
    server = BenchGrooveServer(
        tokens,
        faults=FaultPlan(latency=args.latency),
        seed=args.seed,
        capacity=args.capacity,
        host=args.host,
        port=args.port,
        log_limit=0,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        print(f"{URL_LINE_PREFIX}{server.url}", flush=True)
        for token in tokens:
            print(f"Token: {token}", flush=True)
        await stop.wait()
    finally:
        await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server until SIGINT or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--latency", type=float, default=0.0)
    serve.add_argument("--capacity", type=int, default=50_000)
    serve.add_argument("--seed", type=int, default=None)
    serve.add_argument("--token", action="append", dest="tokens")
    return asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
