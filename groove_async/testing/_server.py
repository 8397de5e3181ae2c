"""The emulator: an aiohttp.web server that speaks the Groove collection contract.

It implements the server side of ``/work/shared/spec/groove-collection-api.md`` independently of
the client (nothing is imported from the client's modules), so a codec bug shared by both sides
cannot hide. Responses are built as plain dicts with the wire names and encoded in one function,
:func:`_encode_body`, as JSON or, when the request asks for it, as XML (spec section 6, written by
the emulator's own :mod:`._xml`). Request bodies are read in one place, :func:`_parse_track_ids`,
in either format.

The request path is kept short on purpose (the benchmarks push thousands of requests per second
through it): precompiled regexes, stdlib :mod:`json`, constant error bodies built once per
server, no logging; the request log is a bounded deque of small frozen records. The XML paths
cost nothing to JSON requests beyond a look at ``Accept`` and the body's first byte.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final

import attrs
from aiohttp import web

from ._catalog import (
    NAMESPACE,
    are_documented_track_ids,
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
_STR_ONLY: Final = frozenset({str})
# The all-success TrackActionResponse, for IDs that need no JSON escaping (_add's fast path).
_RESULT_JSON: Final = '{{"InputId":"{}","Id":"{}"}}'.format
_RESULTS_HEAD: Final = '{"TrackActionResults":['
_RESULTS_TAIL: Final = "]}"
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
    """One user's collection: catalog ID <-> collection ID, both directions."""

    __slots__ = ("by_catalog", "by_collection", "version")

    def __init__(self) -> None:
        self.by_catalog: dict[str, str] = {}
        self.by_collection: dict[str, str] = {}
        self.version = 0


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
        # json.loads on bytes accepts UTF-8 with or without a BOM (spec section 1).
        data = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError
        return None, _INVALID
    if type(data) is not dict:
        return None, _INVALID
    ids = data.get("TrackIds")
    if ids is None:
        return None, _MISSING
    if type(ids) is not list or not set(map(type, ids)) <= _STR_ONLY:
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


def _wants_xml(request: web.Request) -> bool:
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


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering; the returned response is never sent."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=499)


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
        self._runner: web.AppRunner | None = None
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
        app = web.Application()
        # Spec section 3: the action segment is matched case-insensitively (the SDKs sent "Add").
        app.router.add_post(
            "/1/content/{namespace}/collection/{action:(?i:add|delete)}", self._on_track_action
        )
        app.router.add_get("/1/user/{namespace}/profile", self._on_profile)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
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
        """Stop listening and close every connection; the state is kept. Safe to call twice."""
        runner, self._runner = self._runner, None
        self._url = None
        if runner is not None:
            await runner.cleanup()

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

    def _authenticate(self, request: web.Request) -> tuple[_Token | None, str]:
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
        request: web.Request,
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
        self, request: web.Request, body: bytes, *, encoded: bool = False
    ) -> tuple[int, dict[str, Any] | bytes, list[str] | None, str]:
        """Apply one TrackActionRequest: ``(status, payload, ids, token label)``.

        Whole-request errors never change the state (spec section 3.1). With ``encoded`` an add
        may return its payload as the JSON body already encoded (see :meth:`_add`).
        """
        ids, problem = _parse_track_ids(body, request.headers.get("Content-Type", ""))
        bodies = self._bodies
        # The namespace is part of the path, checked before the user (spec section 1).
        if request.match_info["namespace"] != NAMESPACE:
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
        if request.match_info["action"].lower() == "add":
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
        if (
            self._default_catalog
            and len(user.by_catalog) + len(ids) <= self._capacity
            and are_documented_track_ids(ids)
        ):
            return self._add_documented(user, ids, encoded)
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
                while new_id in user.by_collection:  # 128 random bits: never, but be exact
                    new_id = mint_collection_id(self._rng, input_id)
                by_catalog[input_id] = new_id
                user.by_collection[new_id] = input_id
                append({"InputId": input_id, "Id": new_id})
                changed = True
        if changed:
            user.version += 1
        return self._track_action_response(results, failed)

    def _add_documented(self, user: _User, ids: list[str], encoded: bool) -> dict[str, Any] | bytes:
        """The healthy bulk add, in bulk: default catalog, every ID normalised and of the
        documented track shape, room for all of them.

        Every item succeeds, so this is the general loop of :meth:`_add` with its branches
        decided in advance: the same collection, the same draws from the generator (one per new
        ID, in request order) and the same payload.
        """
        by_catalog = user.by_catalog
        fresh = dict.fromkeys(ids)  # distinct, in order of first appearance
        if not by_catalog.keys().isdisjoint(fresh):
            new_ids = [i for i in fresh if i not in by_catalog]
        else:
            new_ids = list(fresh)
        if new_ids:
            by_collection = user.by_collection
            minted = mint_collection_ids(self._rng, new_ids, by_collection.keys())
            by_catalog.update(zip(new_ids, minted, strict=True))
            by_collection.update(zip(minted, new_ids, strict=True))
            user.version += 1
        collection_ids = list(map(by_catalog.__getitem__, ids))
        if encoded:
            # Catalog IDs of the documented shape and minted IDs (URL-safe base64) hold nothing
            # JSON escapes.
            items = ",".join(map(_RESULT_JSON, ids, collection_ids))
            return (_RESULTS_HEAD + items + _RESULTS_TAIL).encode("ascii")
        results = [{"InputId": i, "Id": c} for i, c in zip(ids, collection_ids, strict=True)]
        return self._track_action_response(results, False)

    def _delete(self, user: _User, ids: list[str]) -> dict[str, Any]:
        """collection/delete (spec section 3.2): takes collection IDs."""
        bodies = self._bodies
        by_collection = user.by_collection
        results: list[dict[str, Any]] = []
        failed = changed = False
        for input_id in self._normalise_all(ids):
            catalog_id = by_collection.pop(input_id, None)
            if catalog_id is None:
                results.append({"InputId": input_id, "Error": bodies.item_invalid_delete})
                failed = True
            else:
                del user.by_catalog[catalog_id]
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

    async def _on_track_action(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        body = await request.read()
        if self._script:
            return await self._serve_scripted(request, body, arrived)
        xml = _wants_xml(request)
        plan = self._faults
        # Decide at arrival, so the draws follow the order requests came in.
        fault = plan.roll(self._rng)
        delay = plan.delay(self._rng)
        if delay > 0.0:
            await asyncio.sleep(delay)
        if fault is not None and fault not in POST_PROCESSING_FAULTS:
            status, response = self._pre_processing_fault(request, fault, plan, xml)
            ids, _ = _parse_track_ids(body, request.headers.get("Content-Type", ""))
            self._record(request, status, ids, arrived, fault, self._authenticate(request)[1])
            return response
        status, payload, ids, label = self._process(
            request, body, encoded=fault is None and not xml
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
        self, request: web.Request, fault: str, plan: FaultPlan, xml: bool
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
        self, request: web.Request, body: bytes, arrived: float
    ) -> web.Response:
        scripted = self._script.popleft()
        if scripted.apply:
            # The server did the work; only the answer below reaches (or fails to reach) the
            # client.
            _, _, ids, label = self._process(request, body)
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

    async def _on_profile(self, request: web.Request) -> web.Response:
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
        if request.match_info["namespace"] != NAMESPACE:
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
