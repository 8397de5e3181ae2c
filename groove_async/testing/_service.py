"""The emulated Groove collection service, without I/O: a request in, what to answer out.

:class:`GrooveService` implements the server side of ``/work/shared/spec/groove-collection-api.md``
independently of the client (nothing is imported from the client's modules, so a codec bug
shared by both sides cannot hide). It holds all the state (users and their collections, the
seeded random generator, the fault plan, the scripted responses, the request log) and answers
:class:`~._http.HttpRequest` values with :class:`~._http.Exchange` values. The aiohttp server
(:mod:`._server`) and the in-memory transport (:mod:`._memory`) are two ways of carrying them.

Responses are built as plain dicts with the wire names and encoded in one place
(:meth:`GrooveService._encode`): JSON, or XML when the request asks for it (spec section 6).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final

import attrs

from ._bodies import GATEWAY_504_PAGE, NON_JSON_BODY, PROXY_502_PAGE, ErrorBodies
from ._catalog import NAMESPACE, mint_collection_id, normalise_id
from ._codec import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    MISSING,
    XML_CONTENT_TYPE,
    encode_body,
    read_track_ids,
    wants_xml,
)
from ._faults import POST_PROCESSING_FAULTS, FaultPlan, ScriptedResponse
from ._http import DROP, MAX_BODY_BYTES, Drop, Exchange, HttpRequest, Reply, Route, route, too_large
from ._state import Accounts, Token, User, catalog_predicate

__all__ = ["DEFAULT_CAPACITY", "MAX_IDS", "PLAYLIST_CAPACITY", "GrooveService", "RequestRecord"]

MAX_IDS: Final = 100
"""IDs allowed in one TrackActionRequest (spec section 3.1: 101 is refused, 100 accepted)."""

DEFAULT_CAPACITY: Final = 50_000
"""Tracks a collection holds *(inferred, spec section 3)*."""

PLAYLIST_CAPACITY: Final = 100
"""Playlists a collection holds *(inferred, spec section 3)*; the emulator has no playlists."""

_TRACK_ACTION_RESPONSE: Final = "TrackActionResponse"

# What a whole-request answer holds: (status, payload, the IDs read, the token's log label).
_Processed = tuple[int, Mapping[str, Any], list[str] | None, str]


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


class GrooveService:
    """The service's state and rules; see :class:`~groove_async.testing.FakeGrooveServer`.

    The arguments are :class:`FakeGrooveServer`'s, but for ``host`` and ``port``.
    """

    #: What holds each user's collection (the benchmarks' server brings its own).
    user_class: type[User] = User

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        catalog: Callable[[str], bool] | Collection[str] | None,
        faults: FaultPlan | None,
        seed: int | None,
        hyphen_codes: bool,
        capacity: int,
        log_limit: int | None,
    ) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens must be an iterable of token strings, not one string")
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        if log_limit is not None and log_limit < 0:
            raise ValueError(f"log_limit must be >= 0 or None, got {log_limit}")
        if faults is not None and not isinstance(faults, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, got {type(faults).__name__}")
        self.accounts = Accounts(tokens, user_class=self.user_class)
        self.in_catalog = catalog_predicate(catalog)
        self.default_catalog = catalog is None
        self.faults = faults if faults is not None else FaultPlan()
        # One generator rolls the faults (on arrival) and mints the IDs (on processing), so a
        # given seed and sequence of requests always yields the same faults and the same IDs.
        self.rng = random.Random(seed if seed is not None else self.faults.seed)
        self.hyphen_codes = hyphen_codes
        self.capacity = capacity
        self.bodies = ErrorBodies(hyphen=hyphen_codes, capacity=capacity)
        self.script: deque[ScriptedResponse] = deque()
        self.log: deque[RequestRecord] = deque(maxlen=log_limit)

    def set_faults(self, plan: FaultPlan) -> None:
        """Use ``plan`` from the next request; a plan with a seed restarts the random stream."""
        if not isinstance(plan, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, got {type(plan).__name__}")
        self.faults = plan
        if plan.seed is not None:
            self.rng.seed(plan.seed)

    # -- a request arrives -----------------------------------------------------------------

    def receive(self, request: HttpRequest) -> Exchange:
        """Take a request as it arrives; the returned exchange says when and what to answer.

        What must follow the order of arrival is decided here: the scripted response taken
        from the queue, the fault rolled and the latency drawn. The work itself (and the
        minting of collection IDs) happens in :meth:`Exchange.respond`, after the latency.
        """
        found = route(request.method, request.target)
        if isinstance(found, Reply):
            return Exchange.answered(found)
        if len(request.body) > MAX_BODY_BYTES:
            return Exchange.answered(too_large())
        if found.endpoint == "profile":
            return Exchange.answered(self._profile(request, found))
        arrived = time.monotonic()
        if self.script:
            return self._scripted(request, found, arrived)
        plan = self.faults
        fault = plan.roll(self.rng)
        delay = plan.delay(self.rng)

        def respond() -> Reply | Drop:
            return self._track_action(request, found, plan, fault, arrived)

        return Exchange(delay, respond)

    # -- the TrackAction family (spec section 3) -------------------------------------------

    def _track_action(
        self, request: HttpRequest, found: Route, plan: FaultPlan, fault: str | None, arrived: float
    ) -> Reply | Drop:
        """Answer a TrackAction request after its latency, with the fault rolled on arrival."""
        xml = self._wants_xml(request, found)
        if fault is not None and fault not in POST_PROCESSING_FAULTS:
            # Failures before the service (spec section 5): the collection does not change.
            ids = self._read_track_ids(request)[0]
            label = self._authenticate(request)[1]
            answer = self._failure(fault, plan, xml)
            self._record(request, found, answer, ids, arrived, fault, label)
            return answer
        status, payload, ids, label = self._process(request, found)
        if fault is None or status != 200:
            answer = self._render(status, _TRACK_ACTION_RESPONSE, payload, xml)
            fault = None
        else:
            answer = self._damage(fault, payload, xml)
        self._record(request, found, answer, ids, arrived, fault, label)
        return answer

    def _process(self, request: HttpRequest, found: Route) -> _Processed:
        """Apply one TrackActionRequest. Whole-request errors change nothing (spec section 3.1)."""
        ids, problem = self._read_track_ids(request)
        bodies = self.bodies
        # The namespace is part of the path, checked before the user (spec section 1).
        if found.namespace != NAMESPACE:
            return 400, bodies.bad_namespace, ids, self._authenticate(request)[1]
        state, label = self._authenticate(request)
        if state is None:
            return 401, bodies.unauthorized, ids, label
        if state.expired:
            return 401, bodies.expired, ids, label
        if problem is not None or ids is None:
            refusal = bodies.missing_ids if problem == MISSING else bodies.invalid_body
            return 400, refusal, ids, label
        if len(ids) > MAX_IDS:
            return 400, bodies.too_many, ids, label
        if found.action == "add":
            return 200, self._add(state.user, ids), ids, label
        return 200, self._delete(state.user, ids), ids, label

    def _add(self, user: User, ids: list[str]) -> Mapping[str, Any]:
        """collection/add (spec section 3.1): one result per input, in request order.

        Re-adding a track gives its existing collection ID back (the operation is idempotent),
        also for a duplicate inside one request. An ID not in the catalog gets a per-item
        ``COLLECTION_INVALID_ID``; one that does not fit a full collection ``COLLECTION_FULL``.
        """
        results: list[dict[str, Any]] = []
        failed = changed = False
        for input_id in map(normalise_id, ids):
            existing = user.by_catalog.get(input_id)
            if existing is not None:
                results.append({"InputId": input_id, "Id": existing})
            elif not self.in_catalog(input_id):
                results.append({"InputId": input_id, "Error": self.bodies.item_invalid_add})
                failed = True
            elif len(user.by_catalog) >= self.capacity:
                results.append({"InputId": input_id, "Error": self.bodies.item_full})
                failed = True
            else:
                new_id = mint_collection_id(self.rng, input_id)
                while user.owner(new_id) is not None:  # 128 random bits: never, but be exact
                    new_id = mint_collection_id(self.rng, input_id)
                user.insert(input_id, new_id)
                results.append({"InputId": input_id, "Id": new_id})
                changed = True
        if changed:
            user.version += 1
        return self._results(results, failed)

    def _delete(self, user: User, ids: list[str]) -> Mapping[str, Any]:
        """collection/delete (spec section 3.2): takes collection IDs; unknown ones fail."""
        results: list[dict[str, Any]] = []
        failed = changed = False
        for input_id in map(normalise_id, ids):
            if user.remove(input_id) is None:
                results.append({"InputId": input_id, "Error": self.bodies.item_invalid_delete})
                failed = True
            else:
                results.append({"InputId": input_id})
                changed = True
        if changed:
            user.version += 1
        return self._results(results, failed)

    def _results(self, results: list[dict[str, Any]], failed: bool) -> dict[str, Any]:
        # Spec section 3.1: partial failure is HTTP 200 with a top-level error and no Message.
        if failed:
            return {"TrackActionResults": results, "Error": self.bodies.some_failed}
        return {"TrackActionResults": results}

    # -- faults and scripted responses ----------------------------------------------------

    def _failure(self, fault: str, plan: FaultPlan, xml: bool) -> Reply | Drop:
        """A failure before the collection saw the request (spec section 5's statuses)."""
        bodies = self.bodies
        json_errors = {
            "429": bodies.too_many_requests,
            "409": bodies.conflict,
            "500": bodies.internal,
            "502": bodies.catalog_unavailable,
        }
        if fault == "drop":
            return DROP
        if fault in json_errors:
            answer = self._render(int(fault), _TRACK_ACTION_RESPONSE, json_errors[fault], xml)
            if fault == "429":
                return _with_retry_after(answer, plan)
            return answer
        if fault == "503":  # overloaded: no body at all
            return _with_retry_after(Reply(503, {}, b""), plan)
        if fault == "504":
            return Reply(504, {"Content-Type": HTML_CONTENT_TYPE}, GATEWAY_504_PAGE)
        # "html": an error page from a proxy in front of the service.
        return Reply(502, {"Content-Type": HTML_CONTENT_TYPE}, PROXY_502_PAGE)

    def _damage(self, fault: str, payload: Mapping[str, Any], xml: bool) -> Reply:
        """A 200 whose answer is damaged after the request was processed."""
        if fault == "missing_item":
            results = list(payload["TrackActionResults"])
            del results[self.rng.randrange(len(results))]
            damaged = {**payload, "TrackActionResults": results}
            return self._render(200, _TRACK_ACTION_RESPONSE, damaged, xml)
        if fault == "truncated":
            body, content_type = self._encode(_TRACK_ACTION_RESPONSE, payload, xml)
            return Reply(200, {"Content-Type": content_type}, body[: len(body) // 2])
        # "non_json": labelled JSON (or XML), but is not.
        content_type = XML_CONTENT_TYPE if xml else JSON_CONTENT_TYPE
        return Reply(200, {"Content-Type": content_type}, NON_JSON_BODY)

    def _scripted(self, request: HttpRequest, found: Route, arrived: float) -> Exchange:
        """The next scripted response answers, after its own delay (not the plan's)."""
        scripted = self.script.popleft()
        ids: list[str] | None
        if scripted.apply:
            # The server does the work; only the answer reaches (or fails to reach) the client.
            _, _, ids, label = self._process(request, found)
        else:
            ids = self._read_track_ids(request)[0]
            label = self._authenticate(request)[1]

        def respond() -> Reply | Drop:
            answer: Reply | Drop = DROP
            if not scripted.drop:
                body, headers = scripted.encode()
                answer = Reply(scripted.status, headers, body)
            self._record(request, found, answer, ids, arrived, "scripted", label)
            return answer

        return Exchange(scripted.delay, respond)

    # -- the profile (spec section 9.2) ---------------------------------------------------

    def _profile(self, request: HttpRequest, found: Route) -> Reply:
        """``GET /1/user/music/profile``: collection counts and remaining capacity.

        ``Collection`` holds ``Token`` (the collection's version), ``TrackCount``,
        ``RemainingTrackCount``, ``PlaylistCount`` and ``RemainingPlaylistCount``. Faults and
        scripted responses do not apply here.
        """
        arrived = time.monotonic()
        state, label = self._authenticate(request)
        status: int
        payload: dict[str, Any]
        if found.namespace != NAMESPACE:
            status, payload = 400, self.bodies.bad_namespace
        elif state is None:
            status, payload = 401, self.bodies.unauthorized
        elif state.expired:
            status, payload = 401, self.bodies.expired
        else:
            status, payload = 200, self._profile_payload(state.user)
        type_name = "UserProfileResponse" if status == 200 else "ErrorResponse"
        answer = self._render(status, type_name, payload, self._wants_xml(request, found))
        self._record(request, found, answer, None, arrived, None, label)
        return answer

    def _profile_payload(self, user: User) -> dict[str, Any]:
        count = len(user.by_catalog)
        version = user.version
        return {
            "HasSubscription": False,
            "IsSubscriptionAvailableForPurchase": True,
            "Culture": "en-US",
            "Collection": {
                "Token": f"3.0.0.0.{version}.{version}.{version}",
                "PlaylistCount": 0,
                "RemainingPlaylistCount": PLAYLIST_CAPACITY,
                "TrackCount": count,
                "RemainingTrackCount": max(0, self.capacity - count),
            },
        }

    # -- reading and writing ---------------------------------------------------------------

    def _authenticate(self, request: HttpRequest) -> tuple[Token | None, str]:
        return self.accounts.authenticate(request.header_values("Authorization"))

    def _wants_xml(self, request: HttpRequest, found: Route) -> bool:
        return wants_xml(found.query, request.header("Accept"))

    def _read_track_ids(self, request: HttpRequest) -> tuple[list[str] | None, str | None]:
        return read_track_ids(request.body, request.header("Content-Type") or "")

    def _encode(self, type_name: str, payload: Mapping[str, Any], xml: bool) -> tuple[bytes, str]:
        return encode_body(type_name, payload, xml=xml)

    def _render(self, status: int, type_name: str, payload: Mapping[str, Any], xml: bool) -> Reply:
        body, content_type = self._encode(type_name, payload, xml)
        return Reply(status, {"Content-Type": content_type}, body)

    def _record(
        self,
        request: HttpRequest,
        found: Route,
        answer: Reply | Drop,
        ids: list[str] | None,
        arrived: float,
        fault: str | None,
        label: str,
    ) -> None:
        if self.log.maxlen == 0:
            return
        self.log.append(
            RequestRecord(
                method=request.method,
                path=found.path,
                status=answer.status if isinstance(answer, Reply) else None,
                id_count=len(ids) if ids is not None else 0,
                ids=tuple(ids) if ids is not None else (),
                time=arrived,
                fault=fault,
                token=label,
            )
        )


def _with_retry_after(answer: Reply, plan: FaultPlan) -> Reply:
    """Add the plan's ``Retry-After`` (spec section 5: honoured if sent) to a 429 or 503."""
    retry_after = plan.retry_after_header(time.time())
    if retry_after is None:
        return answer
    return Reply(answer.status, {**answer.headers, "Retry-After": retry_after}, answer.body)
