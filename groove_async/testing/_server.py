"""The emulator: an aiohttp.web server that speaks the Groove collection contract.

It implements the server side of ``/work/shared/spec/groove-collection-api.md`` independently of
the client (nothing is imported from the client's modules), so a codec bug shared by both sides
cannot hide. Responses are built as plain dicts with the wire names and encoded in one function,
:func:`_encode_body`, as JSON or, when the request asks for it, as XML (spec section 6, written by
the emulator's own :mod:`._xml`). Request bodies are read in one place, :func:`_parse_track_ids`,
in either format.

The request path is kept short on purpose (the benchmarks push thousands of requests per second
through it, and the emulator's CPU per request is part of what they measure): aiohttp.web's
low-level server with the usual add routed without the router (:meth:`FakeGrooveServer._dispatch`),
orjson to read JSON (the stdlib decoder, the reference, whenever orjson refuses a body), the
healthy bulk add done in bulk on joined buffers (:meth:`FakeGrooveServer._add_documented`), one
timer for all the requests sleeping out the latency (:class:`_Sleeper`), constant error bodies
built once per server, no logging; the request log is a bounded deque of small frozen records.
The XML paths cost nothing to JSON requests beyond a look at ``Accept`` and the body's first
byte.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Final, cast

import attrs
import orjson
from aiohttp import hdrs, web

from ._catalog import (
    NAMESPACE,
    documented_heads,
    documented_owner,
    is_documented_track_id,
    mint_collection_id,
    mint_collection_ids,
    normalise_id,
)
from ._faults import POST_PROCESSING_FAULTS, FaultPlan, ScriptedResponse
from ._xml import XML_CONTENT_TYPE, XmlRequestError, encode_xml, read_track_ids

__all__ = ["FakeGrooveServer", "RequestRecord"]

MAX_IDS: Final = 100
"""IDs allowed in one TrackActionRequest (spec section 3.1: 101 is refused, 100 accepted)."""

DEFAULT_CAPACITY: Final = 50_000
"""Tracks a collection holds *(inferred, spec section 3)*."""

PLAYLIST_CAPACITY: Final = 100
"""Playlists a collection holds *(inferred, spec section 3)*; the emulator has no playlists."""

_TRACK_ACTION_ROUTE: Final = "/1/content/{namespace}/collection/{action:(?i:add|delete)}"
_PROFILE_ROUTE: Final = "/1/user/{namespace}/profile"
# Request targets (path and query as sent) _dispatch routes without the router: the action.
_TRACK_ACTION_TARGETS: Final = {
    f"/1/content/{NAMESPACE}/collection/add": "add",
    f"/1/content/{NAMESPACE}/collection/delete": "delete",
}

_JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
_HTML_CONTENT_TYPE: Final = "text/html; charset=utf-8"
_SHUTDOWN_TIMEOUT: Final = 0.5
_NORMALISE_CACHE_LIMIT: Final = 1 << 17

_MISSING: Final = "missing"
_INVALID: Final = "invalid"

# Non-ASCII goes out as UTF-8, as a .NET service writes it (and twice as fast as \u escapes);
# the payloads are built here and hold no cycles.
_encode_json: Final = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode
_encode_json_ascii: Final = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode

_PROXY_502_PAGE: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_GATEWAY_504_PAGE: Final = (
    b"<!DOCTYPE html>\n<html><head><title>504 Gateway Time-out</title></head>\n"
    b"<body><h1>Gateway Time-out</h1><p>The gateway did not receive a timely response from the "
    b"upstream server.</p></body></html>\n"
)
_NON_JSON_BODY: Final = b"OK"

_UTF8_BOM: Final = b"\xef\xbb\xbf"
# The all-success TrackActionResponse of n IDs, for IDs that need no JSON escaping (_add's fast
# path): the strings to join, with the IDs at 1::4 and the collection IDs at 3::4.
_RESULTS_TEMPLATES: dict[int, list[str]] = {}
_XML_MEDIA_TYPES: Final = frozenset({"application/xml", "text/xml"})
_JSON_MEDIA_TYPES: Final = frozenset({"application/json", "text/json"})


@attrs.frozen
class RequestRecord:
    """One request the emulator received, as kept in :attr:`FakeGrooveServer.requests`.

    Attributes:
        method: the HTTP method.
        path: the URL path, without the query string (which could hold a legacy token).
        status: the status sent, or ``None`` when the connection was dropped.
        id_count: how many IDs the body held (0 when it was not a readable TrackActionRequest).
        ids: those IDs exactly as received.
        time: ``time.monotonic()`` when the request arrived.
        fault: what answered instead of the genuine response: a :class:`FaultPlan` fault
            (``"drop"``, ``"429"``, ``"409"``, ``"500"``, ``"502"``, ``"503"``, ``"504"``,
            ``"html"``, ``"non_json"``, ``"truncated"``, ``"missing_item"``) or ``"scripted"``;
            ``None`` for a genuine answer.
        token: a label for the bearer token, never the token: ``"token#N"`` for the N-th token
            the server knows (1-based, in the order given), ``"missing"`` when no
            ``Authorization`` header came, ``"unknown"`` for anything else.
    """

    method: str
    path: str
    status: int | None
    id_count: int
    ids: tuple[str, ...]
    time: float
    fault: str | None
    token: str


class _User:
    """One user's collection: catalog ID -> collection ID, and the way back.

    ``by_catalog`` is the collection, in the order the tracks were added. ``by_collection`` maps
    back only the collection IDs of catalog IDs that are not documented track IDs: a collection
    ID minted for a documented track ID holds its GUID head, which is all that differs between
    two such catalog IDs, so :meth:`owner` finds those from the ID itself
    (:func:`~._catalog.documented_owner`). The healthy bulk add then has one dict to update.
    """

    __slots__ = ("by_catalog", "by_collection", "version")

    def __init__(self) -> None:
        self.by_catalog: dict[str, str] = {}
        self.by_collection: dict[str, str] = {}
        self.version = 0

    def owner(self, collection_id: str) -> str | None:
        """The catalog ID whose collection ID this is, or None when no track has it."""
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
        """Take a track out by its collection ID; returns its catalog ID (None: not there)."""
        owner = self.by_collection.pop(collection_id, None)
        if owner is None:
            owner = self.owner(collection_id)
            if owner is None:
                return None
        del self.by_catalog[owner]
        return owner


class _Token:
    """What the server knows about one bearer token (the token itself is the dict key only)."""

    __slots__ = ("expired", "label", "user")

    def __init__(self, label: str, user: _User) -> None:
        self.label = label
        self.user = user
        self.expired = False

    def __repr__(self) -> str:
        return f"<_Token {self.label}{' expired' if self.expired else ''}>"


def _error(code: str, description: str, message: str | None, *, hyphen: bool) -> dict[str, str]:
    # Spec section 4: Error = ErrorCode, Description, Message? and nothing else; absent members
    # are omitted, never null. Section 5: the docs spell codes with hyphens, the wire with "_".
    error = {"ErrorCode": code.replace("_", "-") if hyphen else code, "Description": description}
    if message is not None:
        error["Message"] = message
    return error


class _Bodies:
    """Every error object and whole-request error body the server sends, built once."""

    def __init__(self, *, hyphen: bool, capacity: int) -> None:
        def body(code: str, description: str, message: str | None = None) -> dict[str, Any]:
            return {"Error": _error(code, description, message, hyphen=hyphen)}

        # Spec section 2.
        self.unauthorized = body(
            "INVALID_AUTHORIZATION_HEADER",
            "Missing or invalid authorization header",
            "You need user authentication to use this API",
        )
        self.expired = body(
            "AUTHORIZATION_TOKEN_EXPIRED",
            "The authorization token has expired",
            "Refresh the user token and retry",
        )
        # Spec section 3.1.
        self.too_many = body(
            "COLLECTION_INVALID_OPERATION",
            "This operation is not supported",
            "Number of tracks for this operation is limited to 100",
        )
        self.missing_ids = body(
            "MISSING_INPUT_PARAMETER",
            "A required input parameter is missing",
            "TrackIds must hold at least one ID",
        )
        self.invalid_body = body(
            "INVALID_INPUT_PARAMETER",
            "An input parameter is invalid",
            "The request body is not a TrackActionRequest: TrackIds must be a list of strings",
        )
        self.bad_namespace = body(
            "INVALID_INPUT_PARAMETER",
            "An input parameter is invalid",
            f"Unknown namespace: the only namespace is {NAMESPACE}",
        )
        # Fault bodies (spec section 5's status table).
        self.too_many_requests = body(
            "TOO_MANY_REQUESTS", "Too many requests", "The request was throttled; retry later"
        )
        self.conflict = body(
            "COLLECTION_CONCURRENT_UPDATE",
            "The collection was updated by another operation",
            "Retry the operation",
        )
        self.internal = body("INTERNAL_SERVER_ERROR", "Internal server error")
        self.catalog_unavailable = body(
            "CATALOG_UNAVAILABLE", "The catalog service is unavailable", "Retry later"
        )
        # Per-item errors (spec sections 3.1 and 3.2).
        self.item_invalid_add = _error(
            "COLLECTION_INVALID_ID",
            "Invalid collection id for this operation",
            "Collection ErrorCode=ArgumentInvalid, Details=ContentId",
            hyphen=hyphen,
        )
        self.item_invalid_delete = _error(
            "COLLECTION_INVALID_ID", "Invalid collection id for this operation", None, hyphen=hyphen
        )
        self.item_full = _error(
            "COLLECTION_FULL",
            "The collection is full",
            f"A collection holds at most {capacity} tracks",
            hyphen=hyphen,
        )
        self.some_failed = _error(
            "COLLECTION_SOME_OPERATIONS_FAILED",
            "Some of the operations failed",
            None,
            hyphen=hyphen,
        )


def _results_json(ids: list[str], collection_ids: list[str]) -> bytes:
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


def _parse_track_ids(body: bytes, content_type: str = "") -> tuple[list[str] | None, str | None]:
    """Read a TrackActionRequest: ``(ids, None)``, or ``(ids or None, problem)``.

    XML (spec section 6) when the ``Content-Type`` says so or the body starts with ``<``; JSON
    otherwise.
    """
    stripped = body.strip()
    if not stripped:
        return None, _MISSING
    if "xml" in content_type.lower() or _looks_like_xml(stripped):
        return _parse_xml_track_ids(body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson takes strict UTF-8 JSON only; the stdlib decoder is the reference and also
        # accepts a BOM (spec section 1), NaN, big numbers, lone surrogates and UTF-16/32. What
        # orjson does accept, it reads as the stdlib does (tests/emulator/test_emulator_json.py).
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError
            return None, _INVALID
    if type(data) is not dict:
        return None, _INVALID
    ids = data.get("TrackIds")
    if ids is None:
        return None, _MISSING
    if type(ids) is not list:
        return None, _INVALID
    try:
        "".join(ids)  # every item a string (the decoders make no str subclasses)
    except TypeError:
        return None, _INVALID
    if not ids:
        return ids, _MISSING
    return ids, None


def _looks_like_xml(stripped: bytes) -> bool:
    if stripped.startswith(_UTF8_BOM):  # spec section 1: a body may start with a BOM
        stripped = stripped[len(_UTF8_BOM) :].lstrip()
    return stripped.startswith(b"<")


def _parse_xml_track_ids(body: bytes) -> tuple[list[str] | None, str | None]:
    try:
        ids = read_track_ids(body)
    except XmlRequestError:
        return None, _INVALID
    if ids is None:
        return None, _MISSING
    if not ids:
        return ids, _MISSING
    return ids, None


def _wants_xml(request: web.BaseRequest) -> bool:
    """Whether to answer in XML (spec section 1): ``?contentType=xml``, or ``Accept`` asks for it.

    ``contentType`` (for clients that cannot set headers) wins over ``Accept``. In ``Accept``
    the first JSON or XML media type listed decides; quality values are not weighed.
    """
    if request.query_string:
        wanted = request.query.get("contentType")
        if wanted is not None:
            return wanted.lower() == "xml"
    accept = request.headers.get("Accept")
    if not accept or "xml" not in accept:
        return False
    for part in accept.split(","):
        media = part.partition(";")[0].strip().lower()
        if media in _XML_MEDIA_TYPES:
            return True
        if media in _JSON_MEDIA_TYPES:
            return False
    return False


def _encode_body(
    type_name: str, payload: Mapping[str, Any], *, xml: bool = False
) -> tuple[bytes, str]:
    """Encode a response object; returns ``(body, content type)``.

    ``type_name`` is the object's type (``TrackActionResponse``, ``UserProfileResponse``), the
    root element of the XML form (spec section 6); JSON does not use it.
    """
    if xml:
        return encode_xml(type_name, payload), XML_CONTENT_TYPE
    try:
        return _encode_json(payload).encode("utf-8"), _JSON_CONTENT_TYPE
    except UnicodeEncodeError:  # a lone surrogate sent as "\ud800" comes back escaped
        return _encode_json_ascii(payload).encode("ascii"), _JSON_CONTENT_TYPE


def _render(
    status: int,
    type_name: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    xml: bool = False,
) -> web.Response:
    """Build the HTTP response for a payload dict, in JSON or (``xml``) XML."""
    body, content_type = _encode_body(type_name, payload, xml=xml)
    all_headers = {"Content-Type": content_type}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=body, headers=all_headers)


def _drop(request: web.BaseRequest) -> web.Response:
    """Close the connection without answering; the returned response is never sent."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=499)


class _Sleeper:
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


class FakeGrooveServer:
    """An in-process emulator of the Groove collection API, on a loopback port.

    ::

        async with FakeGrooveServer(tokens=["t1", "t2"]) as server:
            url = server.url + "/1/content/music/collection/add"
            ...  # drive your code against server.url
            assert server.collection("t1") == {...}

    Endpoints (spec section 3): ``POST /1/content/{namespace}/collection/add`` and
    ``/collection/delete`` (action matched case-insensitively), and
    ``GET /1/user/{namespace}/profile``.

    JSON by default; XML (spec section 6) when the request sends ``Accept: application/xml``
    (or ``text/xml``) or the query holds ``contentType=xml``, for every answer the emulator
    builds, whole-request errors (401, 400, fault bodies) included. Request bodies are read as
    XML when their ``Content-Type`` says XML or they start with ``<``, with ``TrackIds`` items in
    either form (``d2p1:string`` as documented, or ``TrackId`` as the SDKs wrote them) and root
    in the platform namespace or the later SDK's. Scripted responses are sent exactly as given.

    Each token is one user with its own collection. With the default catalog every ID of the
    documented track shape ``music.XXXXXXXX-0100-11DB-89CA-0019B92A3933`` exists (see
    :func:`~groove_async.testing.catalog_track_id`); artists (``-0200-``) and random GUIDs do
    not. A collection holds ``capacity`` tracks: items of an add that do not fit get a per-item
    ``COLLECTION_FULL`` error (HTTP 200 with ``COLLECTION_SOME_OPERATIONS_FAILED``) while the
    items that fit, and re-adds, succeed.

    One seeded :class:`random.Random` rolls the faults (when a request arrives) and mints the
    collection IDs (when it is processed), so a given ``seed`` and a given sequence of requests
    always yield the same faults and the same IDs. Requests sent one after another are such a
    sequence; concurrent ones are as reproducible as the order in which they arrive.

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
        if isinstance(tokens, str):
            raise TypeError("tokens must be an iterable of token strings, not one string")
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        if log_limit is not None and log_limit < 0:
            raise ValueError(f"log_limit must be >= 0 or None, got {log_limit}")
        if faults is not None and not isinstance(faults, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, got {type(faults).__name__}")
        self._tokens: dict[str, _Token] = {}
        for token in tokens:
            self.add_token(token)
        self._in_catalog = _catalog_predicate(catalog)
        self._default_catalog = catalog is None
        self._faults = faults if faults is not None else FaultPlan()
        self._rng = random.Random(seed if seed is not None else self._faults.seed)
        self._hyphen_codes = hyphen_codes
        self._capacity = capacity
        self._bodies = _Bodies(hyphen=hyphen_codes, capacity=capacity)
        self._script: deque[ScriptedResponse] = deque()
        # raw ID -> normalised ID: the regex costs more than the rest of an item's work, and
        # clients send the same IDs again (retries, re-adds, deletes of what they added).
        self._normalised: dict[str, str] = {}
        self._log: deque[RequestRecord] = deque(maxlen=log_limit)
        self._logging = log_limit != 0
        self._host = host
        self._port = port
        self._runner: web.ServerRunner | None = None
        self._router = web.UrlDispatcher()
        self._sleeper = _Sleeper(None)
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
        # aiohttp.web's low-level server with an aiohttp router of its own, instead of a
        # web.Application: _dispatch does what the application would (see there), minus its
        # per-request overhead.
        router = web.UrlDispatcher()
        # Spec section 3: the action segment is matched case-insensitively (the SDKs sent "Add").
        router.add_post(_TRACK_ACTION_ROUTE, self._route_track_action)
        router.add_get(_PROFILE_ROUTE, self._route_profile)  # and HEAD
        self._router = router
        server = web.Server(self._dispatch, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._sleeper = _Sleeper(asyncio.get_running_loop())
        self._url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop listening and close every connection; the state is kept. Safe to call twice."""
        runner, self._runner = self._runner, None
        self._url = None
        if runner is not None:
            await runner.cleanup()  # lets the requests in progress finish (for a while)
            self._sleeper.close()

    async def __aenter__(self) -> FakeGrooveServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self._url if self._url is not None else "stopped"
        return f"<FakeGrooveServer {where} tokens={len(self._tokens)}>"

    # -- configuration and state -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).

        Raises:
            RuntimeError: the server is not running.
        """
        if self._url is None:
            raise RuntimeError("the server is not running: use 'async with' or start()")
        return self._url

    @property
    def hyphen_codes(self) -> bool:
        """Whether error codes are spelt with hyphens, as the documentation prints them."""
        return self._hyphen_codes

    @property
    def capacity(self) -> int:
        """Tracks a collection holds."""
        return self._capacity

    @property
    def faults(self) -> FaultPlan:
        """The fault plan; assign a new one at any time, it applies from the next request.

        Assigning a plan whose ``seed`` is not ``None`` restarts the random stream at that seed.
        """
        return self._faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        if not isinstance(plan, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, got {type(plan).__name__}")
        self._faults = plan
        if plan.seed is not None:
            self._rng.seed(plan.seed)

    def script(self, *responses: ScriptedResponse) -> None:
        """Queue exact responses for the next TrackAction requests, first in first out.

        A queued response answers the next request before any fault is rolled (and without the
        plan's latency); the queue does not apply to the profile endpoint.

        Args:
            *responses: the responses, in the order the requests will get them.

        Raises:
            TypeError: an argument is not a :class:`ScriptedResponse`.
        """
        for response in responses:
            if not isinstance(response, ScriptedResponse):
                raise TypeError(f"expected a ScriptedResponse, got {type(response).__name__}")
        self._script.extend(responses)

    @property
    def pending_scripts(self) -> int:
        """How many scripted responses are still queued."""
        return len(self._script)

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
        if not isinstance(token, str) or not token or token != "".join(token.split()):
            raise ValueError("a token must be a non-empty string without whitespace")
        known = self._tokens.get(token)
        if known is not None:
            known.expired = False
            return
        user = self._lookup(same_user_as).user if same_user_as is not None else _User()
        self._tokens[token] = _Token(f"token#{len(self._tokens) + 1}", user)

    def expire_token(self, token: str) -> None:
        """Make a token expired: its requests get 401 ``AUTHORIZATION_TOKEN_EXPIRED`` until
        :meth:`add_token` accepts it again. The user's collection is kept.

        Raises:
            KeyError: the token is not known.
        """
        self._lookup(token).expired = True

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
        return dict(self._lookup(token).user.by_catalog)

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests received, oldest first (a copy; tokens appear as labels only)."""
        return list(self._log)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self._log.clear()

    def _lookup(self, token: str) -> _Token:
        state = self._tokens.get(token)
        if state is None:
            # Never put the token in an exception message: it could end up in a log.
            raise KeyError("unknown token (not one of the server's tokens)")
        return state

    # -- request handling ------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        """Route a request as a ``web.Application`` with these two routes and no middleware would.

        A POST to ``/1/content/music/collection/add`` (or ``delete``), as written, is what the
        router would match with these values anyway: it goes straight to the handler. Anything
        else asks the router, including for the 404 and 405 answers (405 with ``Allow``), and a
        request with ``Expect`` gets the router's expect handler (``100 Continue``) first, as in
        ``web.Application``.
        """
        action = _TRACK_ACTION_TARGETS.get(request.raw_path)
        if (
            action is not None
            and request.method == hdrs.METH_POST
            and not request.headers.get(hdrs.EXPECT)
        ):
            return await self._on_track_action(request, NAMESPACE, action)
        # The router reads the method and rel_url only, which every BaseRequest has.
        match_info = await self._router.resolve(cast(web.Request, request))
        if request.headers.get(hdrs.EXPECT):
            expected = await match_info.expect_handler(cast(web.Request, request))
            await request.writer.drain()
            if expected is not None:
                return expected
        if match_info.http_exception is not None:
            raise match_info.http_exception
        if match_info.route.method == hdrs.METH_POST:
            return await self._on_track_action(
                request, match_info["namespace"], match_info["action"]
            )
        return await self._on_profile(request, match_info["namespace"])

    async def _route_track_action(self, request: web.Request) -> web.StreamResponse:
        raise AssertionError("routed by _dispatch")  # pragma: no cover

    async def _route_profile(self, request: web.Request) -> web.StreamResponse:
        raise AssertionError("routed by _dispatch")  # pragma: no cover

    def _authenticate(self, request: web.BaseRequest) -> tuple[_Token | None, str]:
        """Return the token's state (``None`` when refused) and its log label (spec section 2)."""
        values = request.headers.getall("Authorization", ())
        if not values:
            return None, "missing"
        if len(values) != 1:  # spec section 2: exactly one token is sent
            return None, "unknown"
        scheme, _, token = values[0].partition(" ")
        state = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if state is None:
            return None, "unknown"
        return state, state.label

    def _record(
        self,
        request: web.BaseRequest,
        status: int | None,
        ids: list[str] | None,
        arrived: float,
        fault: str | None,
        label: str,
    ) -> None:
        if self._logging:
            self._log.append(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    status=status,
                    id_count=len(ids) if ids is not None else 0,
                    ids=tuple(ids) if ids is not None else (),
                    time=arrived,
                    fault=fault,
                    token=label,
                )
            )

    def _process(
        self,
        request: web.BaseRequest,
        namespace: str,
        action: str,
        body: bytes,
        *,
        encoded: bool = False,
    ) -> tuple[int, dict[str, Any] | bytes, list[str] | None, str]:
        """Apply one TrackActionRequest: ``(status, payload, ids, token label)``.

        Whole-request errors never change the state (spec section 3.1). With ``encoded`` an add
        may return its payload as the JSON body already encoded (see :meth:`_add`).
        """
        ids, problem = _parse_track_ids(body, request.headers.get("Content-Type", ""))
        bodies = self._bodies
        # The namespace is part of the path, checked before the user (spec section 1).
        if namespace != NAMESPACE:
            return 400, bodies.bad_namespace, ids, self._authenticate(request)[1]
        state, label = self._authenticate(request)
        if state is None:
            return 401, bodies.unauthorized, ids, label
        if state.expired:
            return 401, bodies.expired, ids, label
        if problem is not None or ids is None:
            return (
                400,
                (bodies.missing_ids if problem == _MISSING else bodies.invalid_body),
                ids,
                label,
            )
        if len(ids) > MAX_IDS:
            return 400, bodies.too_many, ids, label
        if action.lower() == "add":
            return 200, self._add(state.user, ids, encoded=encoded), ids, label
        return 200, self._delete(state.user, ids), ids, label

    def _normalise_all(self, ids: list[str]) -> list[str]:
        """The InputId echo of each ID (spec section 3.1), through a bounded cache."""
        cache = self._normalised
        if len(cache) > _NORMALISE_CACHE_LIMIT:
            cache.clear()
        cached = cache.get
        out: list[str] = []
        append = out.append
        for raw in ids:
            normalised = cached(raw)
            if normalised is None:
                normalised = cache[raw] = normalise_id(raw)
            append(normalised)
        return out

    def _add(self, user: _User, ids: list[str], *, encoded: bool = False) -> dict[str, Any] | bytes:
        """collection/add (spec section 3.1): one result per input, in request order.

        With ``encoded``, an add that takes the fast path returns its JSON body, the bytes
        :func:`_encode_body` would make of the payload.
        """
        if self._default_catalog and len(user.by_catalog) + len(ids) <= self._capacity:
            heads = documented_heads(ids)
            if heads is not None:
                return self._add_documented(user, ids, heads, encoded)
        bodies = self._bodies
        by_catalog = user.by_catalog
        existing_id = by_catalog.get
        results: list[dict[str, Any]] = []
        append = results.append
        failed = changed = False
        for input_id in self._normalise_all(ids):
            existing = existing_id(input_id)
            if existing is not None:
                # Re-adding is idempotent: the existing collection ID comes back. This also
                # covers a duplicate inside one request, processed in order.
                append({"InputId": input_id, "Id": existing})
            elif not self._in_catalog(input_id):
                append({"InputId": input_id, "Error": bodies.item_invalid_add})
                failed = True
            elif len(by_catalog) >= self._capacity:
                append({"InputId": input_id, "Error": bodies.item_full})
                failed = True
            else:
                new_id = mint_collection_id(self._rng, input_id)
                while user.owner(new_id) is not None:  # 128 random bits: never, but be exact
                    new_id = mint_collection_id(self._rng, input_id)
                user.insert(input_id, new_id)
                append({"InputId": input_id, "Id": new_id})
                changed = True
        if changed:
            user.version += 1
        return self._track_action_response(results, failed)

    def _add_documented(
        self, user: _User, ids: list[str], heads: bytes, encoded: bool
    ) -> dict[str, Any] | bytes:
        """The healthy bulk add, in bulk: default catalog, every ID normalised and of the
        documented track shape (``heads``: :func:`~._catalog.documented_heads`), room for all.

        Every item succeeds, so this is the general loop of :meth:`_add` with its branches
        decided in advance: the same collection, the same draws from the generator (one per new
        ID, in request order) and the same payload.
        """
        by_catalog = user.by_catalog
        # A collection ID minted for a documented track ID holds its GUID head: it can only be
        # taken by one in by_collection (see _User).
        taken = user.by_collection.keys()
        if len(set(ids)) == len(ids) and by_catalog.keys().isdisjoint(ids):
            # All new and distinct: the common case.
            collection_ids = mint_collection_ids(self._rng, ids, taken, heads)
            by_catalog.update(zip(ids, collection_ids, strict=True))
            user.version += 1
        else:
            new_ids = [i for i in dict.fromkeys(ids) if i not in by_catalog]
            if new_ids:
                minted = mint_collection_ids(self._rng, new_ids, taken)
                by_catalog.update(zip(new_ids, minted, strict=True))
                user.version += 1
            collection_ids = list(map(by_catalog.__getitem__, ids))
        if encoded:
            # Catalog IDs of the documented shape and minted IDs (URL-safe base64) hold nothing
            # JSON escapes.
            return _results_json(ids, collection_ids)
        results = [{"InputId": i, "Id": c} for i, c in zip(ids, collection_ids, strict=True)]
        return self._track_action_response(results, False)

    def _delete(self, user: _User, ids: list[str]) -> dict[str, Any]:
        """collection/delete (spec section 3.2): takes collection IDs."""
        bodies = self._bodies
        results: list[dict[str, Any]] = []
        failed = changed = False
        for input_id in self._normalise_all(ids):
            if user.remove(input_id) is None:
                results.append({"InputId": input_id, "Error": bodies.item_invalid_delete})
                failed = True
            else:
                results.append({"InputId": input_id})
                changed = True
        if changed:
            user.version += 1
        return self._track_action_response(results, failed)

    def _track_action_response(self, results: list[dict[str, Any]], failed: bool) -> dict[str, Any]:
        # Spec section 3.1: partial failure is HTTP 200 with a top-level error and no Message.
        if failed:
            return {"TrackActionResults": results, "Error": self._bodies.some_failed}
        return {"TrackActionResults": results}

    async def _on_track_action(
        self, request: web.BaseRequest, namespace: str, action: str
    ) -> web.Response:
        arrived = time.monotonic()
        content = request.content
        if content.is_eof() and content.total_bytes <= request.client_max_size:
            # The whole body is in (the usual case): what request.read() returns, minus its loop.
            body = content.read_nowait()
        else:
            body = await request.read()
        if self._script:
            return await self._serve_scripted(request, namespace, action, body, arrived)
        xml = _wants_xml(request)
        plan = self._faults
        # Decide at arrival, so the draws follow the order requests came in.
        fault = plan.roll(self._rng)
        delay = plan.delay(self._rng)
        if delay > 0.0:
            await self._sleeper.sleep(delay)
        if fault is not None and fault not in POST_PROCESSING_FAULTS:
            status, response = self._pre_processing_fault(request, fault, plan, xml)
            ids, _ = _parse_track_ids(body, request.headers.get("Content-Type", ""))
            self._record(request, status, ids, arrived, fault, self._authenticate(request)[1])
            return response
        status, payload, ids, label = self._process(
            request, namespace, action, body, encoded=fault is None and not xml
        )
        if isinstance(payload, bytes):
            headers = {"Content-Type": _JSON_CONTENT_TYPE}
            response = web.Response(status=status, body=payload, headers=headers)
        elif fault is None or status != 200:
            response = _render(status, "TrackActionResponse", payload, xml=xml)
            fault = None
        else:
            response = self._post_processing_fault(fault, payload, xml)
        self._record(request, status, ids, arrived, fault, label)
        return response

    def _pre_processing_fault(
        self, request: web.BaseRequest, fault: str, plan: FaultPlan, xml: bool
    ) -> tuple[int | None, web.Response]:
        """A failure before the collection saw the request (state unchanged)."""
        bodies = self._bodies
        if fault == "drop":
            return None, _drop(request)
        if fault == "429":
            retry_after = plan.retry_after_header(time.time())
            headers = {"Retry-After": retry_after} if retry_after is not None else None
            return 429, _render(
                429, "TrackActionResponse", bodies.too_many_requests, headers, xml=xml
            )
        if fault == "409":
            return 409, _render(409, "TrackActionResponse", bodies.conflict, xml=xml)
        if fault == "500":
            return 500, _render(500, "TrackActionResponse", bodies.internal, xml=xml)
        if fault == "502":
            return 502, _render(502, "TrackActionResponse", bodies.catalog_unavailable, xml=xml)
        if fault == "503":
            retry_after = plan.retry_after_header(time.time())
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return 503, web.Response(status=503, body=b"", headers=headers)
        if fault == "504":
            page = {"Content-Type": _HTML_CONTENT_TYPE}
            return 504, web.Response(status=504, body=_GATEWAY_504_PAGE, headers=page)
        # "html": an error page from a proxy in front of the service.
        page = {"Content-Type": _HTML_CONTENT_TYPE}
        return 502, web.Response(status=502, body=_PROXY_502_PAGE, headers=page)

    def _post_processing_fault(
        self, fault: str, payload: dict[str, Any], xml: bool
    ) -> web.Response:
        """A 200 whose answer is damaged after the request was processed."""
        if fault == "missing_item":
            results = list(payload["TrackActionResults"])
            del results[self._rng.randrange(len(results))]
            return _render(
                200, "TrackActionResponse", {**payload, "TrackActionResults": results}, xml=xml
            )
        if fault == "truncated":
            body, content_type = _encode_body("TrackActionResponse", payload, xml=xml)
            body = body[: len(body) // 2]
        else:  # "non_json": labelled JSON (or XML), but is not
            body = _NON_JSON_BODY
            content_type = XML_CONTENT_TYPE if xml else _JSON_CONTENT_TYPE
        return web.Response(status=200, body=body, headers={"Content-Type": content_type})

    async def _serve_scripted(
        self, request: web.BaseRequest, namespace: str, action: str, body: bytes, arrived: float
    ) -> web.Response:
        scripted = self._script.popleft()
        if scripted.apply:
            # The server did the work; only the answer below reaches (or fails to reach) the
            # client.
            _, _, ids, label = self._process(request, namespace, action, body)
        else:
            ids = _parse_track_ids(body, request.headers.get("Content-Type", ""))[0]
            label = self._authenticate(request)[1]
        if scripted.delay > 0.0:
            await asyncio.sleep(scripted.delay)
        if scripted.drop:
            self._record(request, None, ids, arrived, "scripted", label)
            return _drop(request)
        payload, headers = scripted.encode()
        self._record(request, scripted.status, ids, arrived, "scripted", label)
        return web.Response(status=scripted.status, body=payload, headers=headers)

    async def _on_profile(self, request: web.BaseRequest, namespace: str) -> web.Response:
        """``GET /1/user/music/profile``: collection counts and remaining capacity.

        The shape follows the documentation page of the profile endpoint (``Collection`` with
        ``TrackCount``, ``RemainingTrackCount``, ``PlaylistCount``, ``RemainingPlaylistCount``
        and an opaque version ``Token``). Faults and scripted responses do not apply here.
        """
        arrived = time.monotonic()
        bodies = self._bodies
        state, label = self._authenticate(request)
        status: int
        payload: dict[str, Any]
        if namespace != NAMESPACE:
            status, payload = 400, bodies.bad_namespace
        elif state is None:
            status, payload = 401, bodies.unauthorized
        elif state.expired:
            status, payload = 401, bodies.expired
        else:
            user = state.user
            count = len(user.by_catalog)
            version = user.version
            status = 200
            payload = {
                "HasSubscription": False,
                "IsSubscriptionAvailableForPurchase": True,
                "Culture": "en-US",
                "Collection": {
                    "Token": f"3.0.0.0.{version}.{version}.{version}",
                    "PlaylistCount": 0,
                    "RemainingPlaylistCount": PLAYLIST_CAPACITY,
                    "TrackCount": count,
                    "RemainingTrackCount": max(0, self._capacity - count),
                },
            }
        self._record(request, status, None, arrived, None, label)
        type_name = "UserProfileResponse" if status == 200 else "ErrorResponse"
        return _render(status, type_name, payload, xml=_wants_xml(request))


def _catalog_predicate(
    catalog: Callable[[str], bool] | Collection[str] | None,
) -> Callable[[str], bool]:
    """Turn the ``catalog`` argument into ``normalised ID -> exists``."""
    if catalog is None:
        return is_documented_track_id
    if isinstance(catalog, str):
        raise TypeError("catalog must be a collection of IDs or a callable, not one string")
    if callable(catalog):
        return catalog
    known = frozenset(normalise_id(item) for item in catalog)
    return known.__contains__
