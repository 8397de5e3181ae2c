"""The emulator: the service of :mod:`._service` on a loopback port, or in memory.

:class:`FakeGrooveServer` owns one :class:`~._service.GrooveService` (all the state) and
carries its requests two ways: an ``aiohttp.web`` application that hands every request to the
service (which routes it, spec section 3), and :meth:`FakeGrooveServer.transport`, an in-memory
:class:`~groove_async.Transport` for ``GrooveClient(transport=...)`` that needs no socket. Both
see the same collections, fault plan, scripted responses and request log.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Iterable
from typing import Final

from aiohttp import web

from ._catalog import parse_playlist_id
from ._faults import FaultPlan, ScriptedResponse
from ._http import MAX_BODY_BYTES, READ_ENDPOINTS, Drop, HttpRequest
from ._memory import MemoryTransport, ServerSide
from ._quota import TokenQuota
from ._service import DEFAULT_CAPACITY, GrooveService, RequestRecord
from ._state import StoredPlaylist, User

__all__ = ["IN_MEMORY_URL", "FakeGrooveServer", "RequestRecord"]

IN_MEMORY_URL: Final = "http://127.0.0.1:0"
""":attr:`FakeGrooveServer.url` while the server is not listening: a loopback address no
socket can reach, which ``GrooveClient`` accepts as ``base_url`` and the in-memory transport
ignores (it reads the path only)."""

_SHUTDOWN_TIMEOUT: Final = 0.5


class FakeGrooveServer:
    """An in-process emulator of the Groove collection API, over HTTP or in memory.

    ::

        async with FakeGrooveServer(tokens=["t1", "t2"]) as server:
            url = server.url + "/1/content/music/collection/add"
            ...  # drive your code against server.url
            assert server.collection("t1") == {...}

        server = FakeGrooveServer(tokens=["t1"])  # no socket: not started
        async with GrooveClient("t1", base_url=server.url, transport=server.transport()) as c:
            await c.add_tracks(ids)

    Endpoints: ``POST /1/content/{namespace}/collection/add`` and ``/collection/delete``
    (spec section 3); ``POST /1/content/{namespace}/collection/playlists/{create|update|delete}``
    (section 9.1; both actions matched case-insensitively); ``GET``
    ``/1/content/{namespace}/collection/{tracks|playlists}/browse``,
    ``/1/content/{playlistId}/lookup?source=collection``,
    ``/1/content/{playlistId}/collection/playlist/tracks/browse`` and
    ``/1/user/{namespace}/profile`` (section 9.2). Any other path is 404, another method 405
    with ``Allow``. The rules of the playlist edits are in :mod:`._playlists`, those of the
    reads in :mod:`._browse`.

    JSON by default; XML (spec section 6) when the request sends ``Accept: application/xml``
    (or ``text/xml``) or the query holds ``contentType=xml``, for every answer the emulator
    builds, whole-request errors (401, 400, fault bodies) included. Request bodies are read as
    XML when their ``Content-Type`` says XML or they start with ``<``, with ``TrackIds`` items in
    either form (``d2p1:string`` as documented, or ``TrackId`` as the SDKs wrote them), a
    PlaylistAction's ``TrackActions`` as ``<TrackAction>`` elements, and root in the platform
    namespace or the later SDK's. Scripted responses are sent exactly as given.

    Each token is one user with its own collection. With the default catalog every ID of the
    documented track shape ``music.XXXXXXXX-0100-11DB-89CA-0019B92A3933`` exists (see
    :func:`~groove_async.testing.catalog_track_id`); artists (``-0200-``) and random GUIDs do
    not. A collection holds ``capacity`` tracks: items of an add that do not fit get a per-item
    ``COLLECTION_FULL`` error (HTTP 200 with ``COLLECTION_SOME_OPERATIONS_FAILED``) while the
    items that fit, and re-adds, succeed. A user has at most 100 playlists of at most 1,000
    entries each (spec section 9.1). The collection's ``CollectionStateToken`` (the profile's
    ``Collection.Token``) changes with every edit that changes the collection, tracks or
    playlists; an edit carrying another token than the current one gets 409 and applies nothing.

    Faults (:class:`FaultPlan`) and scripted responses (:meth:`script`) apply to every ``POST``,
    playlist edits included: ``ScriptedResponse(500, apply=True)`` commits an edit and then
    answers 500, the way a client's exactly-once promise is put to the test. Reads are never
    faulted; they wait the plan's ``latency``.

    One seeded :class:`random.Random` rolls the faults (when a request arrives) and mints the
    collection IDs, playlist GUIDs and entry IDs (when it is processed, after the latency), so
    a given ``seed`` and a given
    sequence of requests always yield the same faults and the same IDs, over HTTP or in memory.
    Requests sent one after another are such a sequence; concurrent ones are as reproducible as
    the order in which they arrive.

    Args:
        tokens: the valid bearer tokens, one user each (``"token#1"``, ``"token#2"``... in the
            request log).
        catalog: which catalog IDs exist. ``None``: every ID of the documented track shape. A
            collection of IDs: exactly those (GUIDs compared case-insensitively). A callable:
            called with the normalised ID (GUID upper-cased), returns whether it exists.
        faults: the initial :class:`FaultPlan` (default: no faults).
        seed: seeds the server's one :class:`random.Random` (fault rolls and minted IDs). When
            ``None``, ``faults.seed`` is used, else fresh entropy.
        hyphen_codes: spell every ``ErrorCode`` with hyphens as the documentation page prints
            them (``COLLECTION-INVALID-ID``) instead of the wire's underscores (spec section 5).
        capacity: tracks per collection (spec section 3: inferred 50,000).
        host: the address to listen on.
        port: the port to listen on; 0 picks a free one.
        log_limit: how many :class:`RequestRecord` to keep (the oldest are dropped first); 0
            keeps none, ``None`` keeps all.

    Raises:
        TypeError: ``tokens`` or ``catalog`` is a single string.
        ValueError: a token is empty or holds whitespace; ``capacity`` or ``log_limit`` is
            negative.
    """

    #: The service class the server carries (the benchmarks' server brings its own).
    _service_class: type[GrooveService] = GrooveService

    def __init__(
        self,
        tokens: Iterable[str] = ("demo-token",),
        *,
        catalog: Callable[[str], bool] | Collection[str] | None = None,
        faults: FaultPlan | None = None,
        seed: int | None = None,
        hyphen_codes: bool = False,
        capacity: int = DEFAULT_CAPACITY,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int | None = 10_000,
    ) -> None:
        self._service = self._service_class(
            tokens,
            catalog=catalog,
            faults=faults,
            seed=seed,
            hyphen_codes=hyphen_codes,
            capacity=capacity,
            log_limit=log_limit,
        )
        self._server_side = ServerSide()
        self._host = host
        self._port = port
        self._runner: web.BaseRunner | None = None
        self._url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. ``async with`` calls this for you.

        Raises:
            RuntimeError: the server is already running.
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        runner = self._make_runner()
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop listening and close every connection; the state is kept. Safe to call twice.

        Requests in progress, over HTTP or in memory, get a short while to finish; the rest
        are cut (their clients see a dropped connection).
        """
        runner, self._runner = self._runner, None
        self._url = None
        if runner is not None:
            await runner.cleanup()
        await self._server_side.close(_SHUTDOWN_TIMEOUT)

    async def __aenter__(self) -> FakeGrooveServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self._url if self._url is not None else "stopped"
        return f"<FakeGrooveServer {where} tokens={len(self._service.accounts)}>"

    def transport(self) -> MemoryTransport:
        """A transport onto this server with no socket, for ``GrooveClient(transport=...)``.

        It runs each request through the same service as the HTTP server (same collections,
        faults, scripted responses and request log), whether or not the server was started.
        Latency is an ``asyncio.sleep``; a dropped connection raises
        :class:`~groove_async.TransportError`. See :class:`MemoryTransport`.
        """
        return MemoryTransport(self._service, self._server_side)

    # -- configuration and state -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).

        While the server is not listening (before :meth:`start`, after :meth:`stop`) this is
        :data:`IN_MEMORY_URL`, ``http://127.0.0.1:0``: the ``base_url`` to give a client that
        uses :meth:`transport`; no socket can reach it.
        """
        return self._url if self._url is not None else IN_MEMORY_URL

    @property
    def hyphen_codes(self) -> bool:
        """Whether error codes are spelt with hyphens, as the documentation prints them."""
        return self._service.hyphen_codes

    @property
    def capacity(self) -> int:
        """Tracks a collection holds."""
        return self._service.capacity

    @property
    def quota(self) -> TokenQuota | None:
        """The per-token quota (:class:`TokenQuota`), or ``None`` (the default: no quota).

        Set it at any time; it applies from the next ``POST``.
        """
        return self._service.quota

    @quota.setter
    def quota(self, quota: TokenQuota | None) -> None:
        if quota is not None and not isinstance(quota, TokenQuota):
            raise TypeError(f"quota must be a TokenQuota or None, not {type(quota).__name__}")
        self._service.quota = quota

    @property
    def faults(self) -> FaultPlan:
        """The fault plan; assign a new one at any time, it applies from the next request.

        Assigning a plan whose ``seed`` is not ``None`` restarts the random stream at that seed.
        """
        return self._service.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self._service.set_faults(plan)

    def script(self, *responses: ScriptedResponse) -> None:
        """Queue exact responses for the next ``POST`` requests, first in first out.

        A queued response answers the next ``POST`` (a TrackAction request or a playlist edit)
        before any fault is rolled (and without the plan's latency); the queue does not apply
        to the reads (browse, lookup, profile).

        Args:
            *responses: the responses, in the order the requests will get them.

        Raises:
            TypeError: an argument is not a :class:`ScriptedResponse`.
        """
        for response in responses:
            if not isinstance(response, ScriptedResponse):
                raise TypeError(f"expected a ScriptedResponse, got {type(response).__name__}")
        self._service.script.extend(responses)

    def script_reads(self, endpoint: str, *responses: ScriptedResponse) -> None:
        """Queue exact responses for the next reads of one endpoint, first in first out.

        Reads are otherwise never faulted; this is for the read that fails at the worst moment
        (a lagging replica's 404 on the read-back after a lost answer).

        Args:
            endpoint: ``"browse"``, ``"lookup"``, ``"playlist_tracks"`` (a playlist's
                sub-browse) or ``"profile"``.
            *responses: the responses, in the order those reads will get them (``apply`` is
                ignored: nothing is read).

        Raises:
            ValueError: an unknown endpoint.
            TypeError: an argument is not a :class:`ScriptedResponse`.
        """
        if endpoint not in READ_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {sorted(READ_ENDPOINTS)}, got {endpoint!r}")
        for response in responses:
            if not isinstance(response, ScriptedResponse):
                raise TypeError(f"expected a ScriptedResponse, got {type(response).__name__}")
        self._service.read_scripts.setdefault(endpoint, deque()).extend(responses)

    @property
    def pending_scripts(self) -> int:
        """How many scripted responses are still queued."""
        return len(self._service.script)

    def add_token(self, token: str, *, same_user_as: str | None = None) -> None:
        """Accept a bearer token (again, if it was expired).

        Args:
            token: the token.
            same_user_as: a known token whose user (and collection) the new token belongs to,
                as after a token refresh; by default a token is a new user.

        Raises:
            ValueError: the token is empty or holds whitespace.
            KeyError: ``same_user_as`` is not a known token.
        """
        self._service.accounts.add(token, same_user_as=same_user_as)

    def expire_token(self, token: str) -> None:
        """Make a token expired: its requests get 401 ``AUTHORIZATION_TOKEN_EXPIRED`` until
        :meth:`add_token` accepts it again. The user's collection is kept.

        Raises:
            KeyError: the token is not known.
        """
        self._service.accounts.lookup(token).expired = True

    def collection(self, token: str) -> dict[str, str]:
        """Return a copy of a user's collection.

        Args:
            token: one of the user's tokens (expired ones too).

        Returns:
            Catalog ID (normalised: GUID upper-cased) -> collection ID (``music.`` + base64), in
            the order the tracks were added.

        Raises:
            KeyError: the token is not known.
        """
        return dict(self._user(token).by_catalog)

    def collection_order(self, token: str) -> list[str]:
        """Return the catalog IDs of a user's collection in the order they were added (the
        order of the tracks browse, spec section 9.2).

        Raises:
            KeyError: the token is not known.
        """
        return list(self._user(token).by_catalog)

    def collection_state(self, token: str) -> str:
        """Return the current ``CollectionStateToken`` of a user's collection (spec 9.1).

        Raises:
            KeyError: the token is not known.
        """
        return self._user(token).state_token

    def playlists(self, token: str) -> list[StoredPlaylist]:
        """Return a user's playlists, newest first (the order of the playlists browse).

        Each is a frozen :class:`StoredPlaylist` snapshot: ``id`` (``music.playlist.<guid>``),
        ``browse_id`` (``music.AQ...``), ``name``, ``is_published`` and ``entries``, the
        ``(entry ID, catalog ID)`` pairs in playlist order.

        Raises:
            KeyError: the token is not known.
        """
        return [p.snapshot() for p in reversed(self._user(token).playlists.values())]

    def playlist(self, token: str, playlist_id: str) -> StoredPlaylist | None:
        """Return one of a user's playlists by either form of its ID, or ``None``.

        Raises:
            KeyError: the token is not known.
        """
        guid = parse_playlist_id(playlist_id)
        found = self._user(token).playlists.get(guid) if guid is not None else None
        return found.snapshot() if found is not None else None

    def _user(self, token: str) -> User:
        return self._service.accounts.lookup(token).user

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests received, oldest first (a copy; tokens appear as labels only)."""
        return list(self._service.log)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self._service.log.clear()

    # -- HTTP ------------------------------------------------------------------------------

    def _make_runner(self) -> web.BaseRunner:
        """An ``aiohttp.web`` application sending every request to :meth:`_handle`.

        aiohttp brings the HTTP/1.1 rules: ``Expect: 100-continue`` (answered before the body is
        read; another expectation is 417), ``HEAD`` without a body, ``Content-Encoding`` of
        request bodies, and a 413 for bodies over the service's limit.
        """
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{path:.*}", self._handle)
        return web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Carry one HTTP request to the service and its answer back."""
        body = await self._read_body(request)
        exchange = self._service.receive(
            HttpRequest(request.method, request.raw_path, tuple(request.headers.items()), body)
        )
        if exchange.delay > 0.0:
            await self._sleep(exchange.delay)
        answer = exchange.respond()
        if isinstance(answer, Drop):
            # Close the connection without answering; the response returned is never sent.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        return await request.read()

    async def _sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)
