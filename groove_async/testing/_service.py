"""The emulated Groove collection service, without I/O: a request in, what to answer out.

:class:`GrooveService` implements the server side of ``/work/shared/spec/groove-collection-api.md``
independently of the client (nothing is imported from the client's modules, so a codec bug
shared by both sides cannot hide). It holds all the state (users with their collections and
playlists, the seeded random generator, the fault plan, the scripted responses, the request
log) and answers :class:`~._http.HttpRequest` values with :class:`~._http.Exchange` values,
carried by the aiohttp server (:mod:`._server`) or the in-memory transport (:mod:`._memory`).

Every request is checked the same way first: the namespace (400), then the user (401, spec
section 2). The ``POST`` endpoints (the TrackAction family here, spec section 3; the playlist
edits in :mod:`._playlists`, section 9.1) go through the scripted responses and the fault plan;
the reads (:mod:`._browse`, section 9.2) wait the plan's latency only, never faulted.
Responses are plain dicts with the wire names, encoded in one place
(:meth:`GrooveService._encode`): JSON, or XML when the request asks for it (spec section 6).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final

from ._bodies import GATEWAY_504_PAGE, MAX_PLAYLISTS, NON_JSON_BODY, PROXY_502_PAGE, ErrorBodies
from ._browse import answer_read
from ._catalog import NAMESPACE, mint_collection_id, normalise_id
from ._codec import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    encode_body,
    read_playlist_action,
    read_track_ids,
    wants_xml,
)
from ._faults import POST_PROCESSING_FAULTS, FaultPlan, ScriptedResponse, format_retry_after
from ._http import (
    DROP,
    MAX_BODY_BYTES,
    READ_ENDPOINTS,
    Drop,
    Exchange,
    HttpRequest,
    Reply,
    Route,
    route,
    too_large,
)
from ._log import RequestRecord
from ._playlists import PlaylistEditor, action_ids
from ._quota import TokenQuota
from ._state import Accounts, Token, User, catalog_predicate

__all__ = ["DEFAULT_CAPACITY", "MAX_IDS", "PLAYLIST_CAPACITY", "GrooveService", "RequestRecord"]

MAX_IDS: Final = 100
"""IDs allowed in one TrackActionRequest (spec section 3.1: 101 is refused, 100 accepted)."""

DEFAULT_CAPACITY: Final = 50_000
"""Tracks a collection holds *(inferred, spec section 3)*."""

PLAYLIST_CAPACITY: Final = MAX_PLAYLISTS
"""Playlists a collection holds *(inferred, spec sections 3 and 9.1)*."""

_TRACK_ACTION_RESPONSE: Final = "TrackActionResponse"
_PLAYLIST_ACTION_RESPONSE: Final = "PlaylistActionResponse"
# The XML root of a read's 200 (spec section 6: the root is the response's type).
_READ_RESPONSES: Final = {"profile": "UserProfileResponse"}
_CONTENT_RESPONSE: Final = "ContentResponse"
_ERROR_RESPONSE: Final = "ErrorResponse"

# What a whole-request answer holds: (status, payload, the IDs read, the token's log label).
_Processed = tuple[int, Mapping[str, Any], list[str] | None, str]
# What the gate of every request says: the user, the token's log label, or a refusal.
_Admitted = tuple[User | None, str, tuple[int, Mapping[str, Any]] | None]


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
        self.read_scripts: dict[str, deque[ScriptedResponse]] = {}
        self.log: deque[RequestRecord] = deque(maxlen=log_limit)
        self.editor = PlaylistEditor(self.rng, self.in_catalog, self.bodies)
        self.quota: TokenQuota | None = None

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

        A read waits the plan's ``latency`` (no jitter: reads draw nothing from the generator)
        and is never scripted or faulted. For a ``POST``, what must follow the order of arrival
        is decided here: the scripted response taken from the queue, the fault rolled and the
        latency drawn. The work itself (and the minting of IDs) happens in
        :meth:`Exchange.respond`, after the latency.
        """
        found = route(request.method, request.target)
        if isinstance(found, Reply):
            return Exchange.answered(found)
        if len(request.body) > MAX_BODY_BYTES:
            return Exchange.answered(too_large())
        arrived = time.monotonic()
        if found.endpoint in READ_ENDPOINTS:
            if self.read_scripts.get(found.endpoint):
                return self._scripted_read(request, found, arrived)
            return Exchange(self.faults.latency, lambda: self._read(request, found, arrived))
        if self.quota is not None and (throttled := self._over_quota(request, found, arrived)):
            return throttled
        if self.script:
            return self._scripted(request, found, arrived)
        plan = self.faults
        fault = plan.roll(self.rng)
        delay = plan.delay(self.rng, fault)

        def respond() -> Reply | Drop:
            return self._post(request, found, plan, fault, arrived)

        return Exchange(delay, respond)

    def _over_quota(self, request: HttpRequest, found: Route, arrived: float) -> Exchange | None:
        """The quota's 429 for a known token's ``POST`` over its rate or inside its pause."""
        quota = self.quota
        state, label = self._authenticate(request)
        if quota is None or state is None or (until := quota.arrive(label, arrived)) is None:
            return None

        def respond() -> Reply:
            left = quota.announce(label, until, time.monotonic())
            xml = self._wants_xml(request, found)
            answer = self._render(429, _post_response(found), self.bodies.too_many_requests, xml)
            headers = {**answer.headers, "Retry-After": format_retry_after(left)}
            answer = Reply(429, headers, answer.body)
            self._record(request, found, answer, None, arrived, "quota", label)
            return answer

        return Exchange(0.0, respond)  # a rate limiter in front of the service: at once

    def _admit(self, request: HttpRequest, found: Route) -> _Admitted:
        """The checks every request passes first: the namespace (spec section 1), then the
        user (section 2). Returns the user, the token's log label, and the refusal if any."""
        state, label = self._authenticate(request)
        bodies = self.bodies
        if found.namespace != NAMESPACE:
            return None, label, (400, bodies.bad_namespace)
        if state is None:
            return None, label, (401, bodies.unauthorized)
        if state.expired:
            return None, label, (401, bodies.expired)
        return state.user, label, None

    # -- the POST endpoints: TrackAction (spec section 3) and playlist edits (9.1) -----------

    def _post(
        self, request: HttpRequest, found: Route, plan: FaultPlan, fault: str | None, arrived: float
    ) -> Reply | Drop:
        """Answer a ``POST`` after its latency, with the fault rolled on arrival."""
        xml = self._wants_xml(request, found)
        type_name = _post_response(found)
        if fault is not None and fault not in POST_PROCESSING_FAULTS:
            # Failures before the service (spec section 5): the collection does not change.
            ids = self._logged_ids(request, found)
            label = self._authenticate(request)[1]
            answer = self._failure(fault, plan, xml, type_name)
            self._record(request, found, answer, ids, arrived, fault, label)
            return answer
        status, payload, ids, label = self._process(request, found)
        if fault is not None and fault != "late" and status == 200 and _damageable(fault, payload):
            answer = self._damage(fault, type_name, payload, xml)
        else:
            # A genuine answer; a late one (held back on arrival) keeps its label.
            answer = self._render(status, type_name, payload, xml)
            fault = fault if fault == "late" else None
        self._record(request, found, answer, ids, arrived, fault, label)
        return answer

    def _process(self, request: HttpRequest, found: Route) -> _Processed:
        """Carry out one ``POST``. Whole-request errors change nothing (spec sections 3.1, 9.1)."""
        if found.endpoint == "playlist_edit":
            return self._edit(request, found)
        ids, problem = self._read_track_ids(request)
        user, label, refusal = self._admit(request, found)
        if refusal is not None:
            return refusal[0], refusal[1], ids, label
        assert user is not None
        bodies = self.bodies
        if problem is not None or ids is None:
            return 400, bodies.refusal_of(problem), ids, label
        if len(ids) > MAX_IDS:
            return 400, bodies.too_many, ids, label
        if found.action == "add":
            return 200, self._add(user, ids), ids, label
        return 200, self._delete(user, ids), ids, label

    def _edit(self, request: HttpRequest, found: Route) -> _Processed:
        """A playlist edit (spec section 9.1, :mod:`._playlists`)."""
        data = read_playlist_action(request.body, request.header("Content-Type") or "")
        ids = action_ids(data)
        user, label, refusal = self._admit(request, found)
        if refusal is not None:
            return refusal[0], refusal[1], ids, label
        assert user is not None
        if data is None:
            refusal_body = self.bodies.invalid_input("The request body is not a PlaylistAction")
            return 400, refusal_body, ids, label
        status, payload = self.editor.edit(user, found.action, data)
        return status, payload, ids, label

    def _logged_ids(self, request: HttpRequest, found: Route) -> list[str] | None:
        """The IDs a ``POST`` carries, for the request log, without carrying it out."""
        if found.endpoint == "playlist_edit":
            content_type = request.header("Content-Type") or ""
            return action_ids(read_playlist_action(request.body, content_type))
        return self._read_track_ids(request)[0]

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

    def _failure(self, fault: str, plan: FaultPlan, xml: bool, type_name: str) -> Reply | Drop:
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
            answer = self._render(int(fault), type_name, json_errors[fault], xml)
            if fault == "429":
                return _with_retry_after(answer, plan)
            return answer
        if fault == "503":  # overloaded: no body at all
            return _with_retry_after(Reply(503, {}, b""), plan)
        if fault == "504":
            return _gateway_timeout()
        # "html": an error page from a proxy in front of the service.
        return Reply(502, {"Content-Type": HTML_CONTENT_TYPE}, PROXY_502_PAGE)

    def _damage(
        self, fault: str, type_name: str, payload: Mapping[str, Any], xml: bool
    ) -> Reply | Drop:
        """The answer to a request carried out: damaged, lost or late (see :class:`FaultPlan`)."""
        if fault == "missing_item":
            damaged = _without_one_result(payload, self.rng)
            return self._render(200, type_name, damaged, xml)
        if fault == "truncated":
            body, content_type = self._encode(type_name, payload, xml)
            return Reply(200, {"Content-Type": content_type}, body[: len(body) // 2])
        if fault == "lost_500":
            return self._render(500, type_name, self.bodies.internal, xml)
        if fault == "lost_504":
            return _gateway_timeout()
        if fault == "lost_drop":
            return DROP
        # "non_json": labelled JSON (or XML), but is not.
        content_type = XML_CONTENT_TYPE if xml else JSON_CONTENT_TYPE
        return Reply(200, {"Content-Type": content_type}, NON_JSON_BODY)

    def _scripted(self, request: HttpRequest, found: Route, arrived: float) -> Exchange:
        """The next scripted response answers, after its own delay (not the plan's)."""
        scripted = self.script.popleft()
        late = scripted.apply and scripted.apply_late
        ids: list[str] | None
        if scripted.apply and not late:
            # The server does the work; only the answer reaches (or fails to reach) the client.
            _, _, ids, label = self._process(request, found)
        else:
            ids = self._logged_ids(request, found)
            label = self._authenticate(request)[1]

        def respond() -> Reply | Drop:
            if late:
                self._process(request, found)
            answer: Reply | Drop = DROP
            if not scripted.drop:
                body, headers = scripted.encode()
                answer = Reply(scripted.status, headers, body)
            self._record(request, found, answer, ids, arrived, "scripted", label)
            return answer

        return Exchange(scripted.delay, respond)

    def _scripted_read(self, request: HttpRequest, found: Route, arrived: float) -> Exchange:
        """The next scripted answer to a read of this endpoint (a lagging replica's 404, a
        proxy's 503): nothing is read; ``apply`` means nothing here."""
        scripted = self.read_scripts[found.endpoint].popleft()
        label = self._authenticate(request)[1]

        def respond() -> Reply | Drop:
            answer: Reply | Drop = DROP
            if not scripted.drop:
                body, headers = scripted.encode()
                answer = Reply(scripted.status, headers, body)
            self._record(request, found, answer, None, arrived, "scripted", label)
            return answer

        return Exchange(scripted.delay, respond)

    # -- the reads (spec section 9.2) -----------------------------------------------------

    def _read(self, request: HttpRequest, found: Route, arrived: float) -> Reply:
        """A read (:mod:`._browse`) after its latency; faults and scripts do not apply."""
        user, label, refusal = self._admit(request, found)
        if refusal is None:
            assert user is not None
            status, payload = answer_read(found, user, self.bodies, self.capacity)
        else:
            status, payload = refusal
        type_name = _ERROR_RESPONSE
        if status == 200:
            type_name = _READ_RESPONSES.get(found.endpoint, _CONTENT_RESPONSE)
        answer = self._render(status, type_name, payload, self._wants_xml(request, found))
        self._record(request, found, answer, None, arrived, None, label)
        return answer

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


def _post_response(found: Route) -> str:
    """The response type of a ``POST``, its XML root (spec section 6)."""
    if found.endpoint == "playlist_edit":
        return _PLAYLIST_ACTION_RESPONSE
    return _TRACK_ACTION_RESPONSE


def _results_of(payload: Mapping[str, Any]) -> list[Any] | None:
    """The ``TrackActionResults`` of a TrackActionResponse or of a PlaylistActionResult."""
    if "TrackActionResults" in payload:
        results: list[Any] = payload["TrackActionResults"]
        return results
    inner = payload.get("PlaylistActionResult")
    return inner.get("TrackActionResults") if isinstance(inner, Mapping) else None


def _damageable(fault: str, payload: Mapping[str, Any]) -> bool:
    """Whether a fault applied after processing can hit this 200 (``missing_item`` needs an
    item to leave out)."""
    return fault != "missing_item" or bool(_results_of(payload))


def _without_one_result(payload: Mapping[str, Any], rng: random.Random) -> Mapping[str, Any]:
    """The answer with one of its ``TrackActionResults`` (picked at random) left out."""
    results = list(_results_of(payload) or ())
    del results[rng.randrange(len(results))]
    if "TrackActionResults" in payload:
        return {**payload, "TrackActionResults": results}
    inner = payload["PlaylistActionResult"]
    return {**payload, "PlaylistActionResult": {**inner, "TrackActionResults": results}}


def _gateway_timeout() -> Reply:
    """A gateway's 504 page (spec section 5: any proxy may send a 504)."""
    return Reply(504, {"Content-Type": HTML_CONTENT_TYPE}, GATEWAY_504_PAGE)


def _with_retry_after(answer: Reply, plan: FaultPlan) -> Reply:
    """Add the plan's ``Retry-After`` (spec section 5: honoured if sent) to a 429 or 503."""
    retry_after = plan.retry_after_header(time.time())
    if retry_after is None:
        return answer
    return Reply(answer.status, {**answer.headers, "Retry-After": retry_after}, answer.body)
