"""Hostile servers of our own: the rules of the hardening issue, attacked from the server side.

One section per rule of the issue:

1. Echo matching: only a catalog ID's GUID compares case-insensitively (in ASCII).
2. An add item with neither ``Id`` nor ``Error`` is malformed; a bare delete item is success.
3. A delete applied and then answered ambiguously: "not in collection" on the retry is success.
4. Status classes: transient, never-REJECTED, and the contract's refusals.
5. Another top-level ``Error`` of a 200 leaves the items to decide; an empty ``ErrorCode`` is
   malformed.
6. A token provider that hangs ends in ``AuthenticationError``.
7. Plain http only to loopback literals and ``localhost``.
8. A token reflected by the server reaches no result, exception, log record or event.
9. A token provider's exception (holding the token) is not chained to ``AuthenticationError``.
10. Tokens are visible ASCII (0x21-0x7E) only, from the constructor and from a provider.

Servers are built in ``tests/reliability/_raw_server.py``: an aiohttp app for statuses, JSON
and headers, a raw TCP server for exact bytes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from groove_async import AuthenticationError, BulkResult, GrooveClient, Outcome, RetryPolicy
from tests.conftest import catalog_id
from tests.reliability._raw_server import (
    INVALID_ID,
    SOME_FAILED,
    AppServer,
    Call,
    Collection,
    RawServer,
    http_response,
    item,
    reply,
    results,
)

SUCCEEDED, REJECTED, FAILED = Outcome.SUCCEEDED, Outcome.REJECTED, Outcome.FAILED
THREE = RetryPolicy(attempts=3, wait=False)
SECRET = "tok-SECRET-123"
REFRESHED = "tok-REFRESHED-456"
# Error codes are respelled with underscores (spec section 5): a reflected token may come back so.
SPELLINGS = (SECRET, REFRESHED, SECRET.replace("-", "_"), REFRESHED.replace("-", "_"))

COLL = "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5PqgAAQ"  # the collection ID of spec section 3.1
# Two collection IDs that differ only in letter case: distinct IDs (base64url is case-sensitive).
A = "music.AQQfAbCdl185KUqtiDc9dx6i6Ae5PqgAAQ"
B = "music.AQQfaBcDl185KUqtiDc9dx6i6Ae5PqgAAQ"
UNAUTHORIZED = {
    "Error": {
        "ErrorCode": "INVALID_AUTHORIZATION_HEADER",
        "Description": "Missing or invalid authorization header",
    }
}
# The client's own codes for a response it cannot trust (the issue names no single one for rule 2).
MALFORMED = {"UNREADABLE_RESPONSE", "RESULT_MISMATCH"}


def groove(url: str, token: Any = "tok", **options: Any) -> GrooveClient:  # noqa: S107
    options.setdefault("retry", THREE)
    options.setdefault("timeout", 5)
    return GrooveClient(token, base_url=url, **options)


async def run(url: str, action: str, ids: list[str], **options: Any) -> BulkResult:
    async with groove(url, **options) as client:
        send = client.add_tracks if action == "add" else client.delete_tracks
        return await send(ids)


def provider_of(*tokens: str) -> Callable[[], Any]:
    """A provider handing out ``tokens`` in turn (the last one again when they run out)."""
    handed: list[str] = []

    async def provider() -> str:
        token = tokens[min(len(handed), len(tokens) - 1)]
        handed.append(token)
        return token

    return provider


def outcomes(result: BulkResult) -> list[Outcome]:
    return [r.outcome for r in result]


def codes(result: BulkResult) -> list[str | None]:
    return [r.error.code if r.error else None for r in result]


def always(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    return lambda call: reply(status, body, headers)


# -- 1. Echo matching -----------------------------------------------------------------------------


async def test_case_swapped_collection_ids_are_a_mismatch() -> None:
    """Rule 1: echoes of A and B in swapped order would give each the other's result."""
    async with AppServer(always(200, results(item(B), item(A)))) as server:
        result = await run(server.url, "delete", [A, B])
    assert len(server.calls) == 3
    assert outcomes(result) == [FAILED, FAILED]
    assert codes(result) == ["RESULT_MISMATCH", "RESULT_MISMATCH"]


GUID_ID = catalog_id(0xFF000001)  # music.FF000001-0100-11DB-89CA-0019B92A3933
WITH_I = "music.AQQfI78ml185KUqtiDc9dx6i6Ae5PqgAAQ"
WITH_K = "music.AQQfk78ml185KUqtiDc9dx6i6Ae5PqgAAQ"


@pytest.mark.parametrize(
    ("action", "sent", "echo"),
    [
        pytest.param("add", catalog_id(1), "mu\u017fic" + catalog_id(1)[5:], id="long-s"),
        pytest.param("add", GUID_ID, GUID_ID.replace("FF", "\ufb00", 1), id="ff-ligature"),
        pytest.param("delete", WITH_I, WITH_I.replace("I", "\u0131", 1), id="dotless-i"),
        # str.lower() maps the Kelvin sign to "k": a guard against a lower()-based fix.
        pytest.param("delete", WITH_K, WITH_K.replace("k", "\u212a", 1), id="kelvin-sign"),
        pytest.param("add", catalog_id(1), "MUSIC" + catalog_id(1)[5:], id="namespace-case"),
        pytest.param("delete", COLL, COLL.upper(), id="collection-id-case"),
    ],
)
async def test_lookalike_or_case_changed_echo_is_a_mismatch(
    action: str, sent: str, echo: str
) -> None:
    """Rule 1: outside a catalog GUID, echoes compare exactly; never through str.upper()."""
    coll = COLL if action == "add" else None
    async with AppServer(always(200, results(item(echo, coll)))) as server:
        result = await run(server.url, action, [sent])
    assert len(server.calls) == 3
    assert outcomes(result) == [FAILED]
    assert codes(result) == ["RESULT_MISMATCH"]


LOWER_GUID = "music.9bb2c5c5-0100-11db-89ca-0019b92a3933"


@pytest.mark.parametrize(
    ("sent", "echo"),
    [
        pytest.param(LOWER_GUID, "music." + LOWER_GUID[6:].upper(), id="upper-cased-echo"),
        pytest.param("music." + LOWER_GUID[6:].upper(), LOWER_GUID, id="lower-cased-echo"),
    ],
)
async def test_guid_echo_in_another_case_is_accepted(sent: str, echo: str) -> None:
    """Rule 1, positive: the GUID part of a catalog ID compares case-insensitively."""
    async with AppServer(always(200, results(item(echo, COLL)))) as server:
        result = await run(server.url, "add", [sent])
    assert len(server.calls) == 1
    assert outcomes(result) == [SUCCEEDED]
    assert result[0].id == COLL and result[0].input_id == sent


# -- 2. Items with neither Id nor Error -----------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({}, id="no-id-no-error"),
        pytest.param({"Id": None}, id="id-null"),
        pytest.param({"Id": ""}, id="id-empty"),
        pytest.param({"Id": None, "Error": None}, id="both-null"),
    ],
)
async def test_add_item_without_id_or_error_is_malformed(bad: dict[str, Any]) -> None:
    """Rule 2: an add item that is neither a success nor an error is never SUCCEEDED."""
    ids = [catalog_id(1), catalog_id(2)]
    body = results(item(ids[0], COLL), {"InputId": ids[1], **bad})
    async with AppServer(always(200, body)) as server:
        result = await run(server.url, "add", ids)
    assert len(server.calls) == 3
    assert outcomes(result) == [FAILED, FAILED]
    assert set(codes(result)) <= MALFORMED


async def test_delete_bare_input_id_is_success() -> None:
    """Rule 2, positive: for delete, ``{"InputId": ...}`` alone is the documented success."""
    async with AppServer(always(200, results(item(A), item(B)))) as server:
        result = await run(server.url, "delete", [A, B])
    assert len(server.calls) == 1
    assert outcomes(result) == [SUCCEEDED, SUCCEEDED]
    assert [r.id for r in result] == [None, None]


# -- 3. A delete applied, then answered ambiguously -----------------------------------------------


async def _never_answer() -> None:
    await asyncio.Event().wait()  # cancelled when the server stops


INTERNAL_ERROR = {"Error": {"ErrorCode": "INTERNAL_SERVER_ERROR", "Description": "Server error"}}
TOO_MANY = {"ErrorCode": "TOO_MANY_REQUESTS", "Description": "Too many requests"}


@pytest.mark.parametrize(
    ("lost_answer", "timeout"),
    [
        pytest.param(lambda: http_response(500, INTERNAL_ERROR), 5, id="500"),
        pytest.param(lambda: None, 5, id="dropped-connection"),
        pytest.param(
            lambda: http_response(200, b'{"TrackActionResults": [{"Inp'), 5, id="cut-json"
        ),
        pytest.param(lambda: http_response(200, "<html>Bad Gateway</html>"), 5, id="html-200"),
        pytest.param(_never_answer, 0.3, id="timeout"),
    ],
)
async def test_delete_applied_then_answer_lost_is_succeeded(
    lost_answer: Callable[[], Any], timeout: float
) -> None:
    """Rule 3: "not in collection" on the retry after an unknown outcome means it was deleted."""
    collection = Collection([A, B])

    def respond(call: Call) -> Any:
        if call.n == 0:
            collection.delete(call.ids)  # applied...
            return lost_answer()  # ...and the answer lost
        return collection.delete(call.ids)

    async with RawServer(respond) as server:
        result = await run(server.url, "delete", [A, B], timeout=timeout)
    assert len(server.calls) == 2
    assert outcomes(result) == [SUCCEEDED, SUCCEEDED]
    assert [r.id for r in result] == [None, None]


@pytest.mark.parametrize(
    ("between", "hyphen"),
    [
        pytest.param(None, True, id="documented-spelling"),
        pytest.param(lambda: http_response(429, {"Error": TOO_MANY}), False, id="then-429"),
        pytest.param(lambda: http_response(401, UNAUTHORIZED), False, id="then-401-refresh"),
    ],
)
async def test_delete_after_an_applied_500_stays_succeeded(
    between: Callable[[], bytes] | None, hyphen: bool
) -> None:
    """Rule 3: a clean failure (429, 401) after the 500 does not undo its ambiguity, and
    ``COLLECTION-INVALID-ID`` (spec section 5's spelling) is the same answer."""
    collection = Collection([A], hyphen=hyphen)

    def respond(call: Call) -> bytes:
        answer = collection.delete(call.ids)
        if call.n == 0:
            return http_response(500, INTERNAL_ERROR)
        return between() if call.n == 1 and between else answer

    async with RawServer(respond) as server:
        result = await run(server.url, "delete", [A], token=provider_of("tok-one", "tok-two"))
    assert len(server.calls) == (3 if between else 2)
    assert outcomes(result) == [SUCCEEDED]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(None, None, id="first-attempt"),
        pytest.param(429, "TOO_MANY_REQUESTS", id="after-429"),
        pytest.param(409, "COLLECTION_CONCURRENT_UPDATE", id="after-409"),
    ],
)
async def test_delete_of_an_id_never_there_stays_rejected(
    status: int | None, code: str | None
) -> None:
    """Rule 3, counter: not-in-collection on the first attempt, or after a 429 or 409 (which
    applied nothing), is a refusal."""
    collection = Collection([])

    def respond(call: Call) -> bytes:
        if call.n == 0 and status is not None:
            return http_response(status, {"Error": {"ErrorCode": code, "Description": "Later"}})
        return collection.delete(call.ids)

    async with RawServer(respond) as server:
        result = await run(server.url, "delete", [A])
    assert len(server.calls) == (1 if status is None else 2)
    assert outcomes(result) == [REJECTED]
    assert codes(result) == ["COLLECTION_INVALID_ID"]


# -- 4. Status classes ----------------------------------------------------------------------------

# A body that reads like a per-request refusal: the status, not the body, must decide.
REFUSAL_BODY = {"Error": {**INVALID_ID, "Message": "looks final"}}
LANDING = "/landing"


def status_server(status: int) -> AppServer:
    """Answers ``status`` (3xx with a Location to a page that would accept the IDs)."""

    def respond(call: Call) -> Any:
        if call.path == LANDING:  # would accept the IDs, if a client followed the redirect
            return reply(200, results(*(item(i, COLL) for i in call.ids)))
        headers = {"Location": LANDING} if 300 <= status < 400 else None
        return reply(status, REFUSAL_BODY, headers)

    return AppServer(respond)


@pytest.mark.parametrize(
    "status", [501, 505, 507, 508, 520, 521, 522, 523, 524, 529, 599, 408, 425]
)
async def test_transient_statuses_are_retried_then_failed(status: int) -> None:
    """Rule 4: server, gateway and timeout statuses are retried and end FAILED."""
    async with status_server(status) as server:
        result = await run(server.url, "add", [catalog_id(1), catalog_id(2)])
    assert len(server.calls) == 3
    assert outcomes(result) == [FAILED, FAILED]


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 307, 308, 405, 410, 413, 415, 422])
async def test_redirects_and_unnamed_4xx_end_failed(status: int) -> None:
    """Rule 4: redirects (never followed) and 4xx the contract does not name are no refusal."""
    async with status_server(status) as server:
        result = await run(server.url, "add", [catalog_id(1), catalog_id(2)])
    assert [c.path for c in server.calls if c.path == LANDING] == []
    assert outcomes(result) == [FAILED, FAILED]


async def test_status_999_ends_failed() -> None:
    """Rule 4: a status outside HTTP's classes (sent raw: aiohttp.web would not) is no refusal."""
    async with RawServer(lambda call: http_response(999, REFUSAL_BODY)) as server:
        result = await run(server.url, "add", [catalog_id(1)])
    assert server.calls
    assert outcomes(result) == [FAILED]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "INVALID_INPUT_PARAMETER"),
        (403, "NO_MUSIC_PASS_SUBSCRIPTION"),
        (404, "COLLECTION_NO_RESULT"),
    ],
)
async def test_contract_refusals_end_rejected(status: int, code: str) -> None:
    """Rule 4, positive: 400, 403 and 404 with an error body are the service's refusals."""
    body = {"Error": {"ErrorCode": code, "Description": "Refused"}}
    async with AppServer(always(status, body)) as server:
        result = await run(server.url, "add", [catalog_id(1), catalog_id(2)])
    assert len(server.calls) == 1
    assert outcomes(result) == [REJECTED, REJECTED]
    assert codes(result) == [code, code]


# -- 5. Top-level errors and empty error codes ----------------------------------------------------


@pytest.mark.parametrize("top", ["COLLECTION_INVALID_DATA", "INTERNAL_SERVER_ERROR"])
async def test_items_decide_beside_another_top_level_error(top: str) -> None:
    """Rule 5: a 200's top-level Error other than SOME_OPERATIONS_FAILED leaves the items to say."""
    ids = [catalog_id(1), catalog_id(2)]
    body = results(
        item(ids[0], COLL),
        item(ids[1], error=INVALID_ID),
        error={"ErrorCode": top, "Description": "x"},
    )
    async with AppServer(always(200, body)) as server:
        result = await run(server.url, "add", ids)
    assert len(server.calls) == 1
    assert outcomes(result) == [SUCCEEDED, REJECTED]
    assert result[0].id == COLL
    assert codes(result) == [None, "COLLECTION_INVALID_ID"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param({"ErrorCode": "", "Description": "Invalid"}, id="empty-code"),
        pytest.param({"ErrorCode": "", "Description": "", "Message": "m"}, id="all-empty"),
    ],
)
async def test_item_error_with_an_empty_code_is_malformed(error: dict[str, str]) -> None:
    """Rule 5: an item Error without a code is malformed: retried, then FAILED, never REJECTED."""
    ids = [catalog_id(1), catalog_id(2)]
    body = results(item(ids[0], COLL), item(ids[1], error=error), error=SOME_FAILED)
    async with AppServer(always(200, body)) as server:
        result = await run(server.url, "add", ids)
    assert len(server.calls) == 3
    assert outcomes(result) == [FAILED, FAILED]
    assert codes(result) == ["UNREADABLE_RESPONSE", "UNREADABLE_RESPONSE"]


# -- 6. A token provider that hangs ---------------------------------------------------------------


@pytest.mark.parametrize("when", ["first-use", "refresh"])
async def test_hanging_token_provider_raises_authentication_error(when: str) -> None:
    """Rule 6: the request timeout bounds the provider too, on first use and on refresh."""
    asked = 0

    async def provider() -> str:
        nonlocal asked
        asked += 1
        if when == "first-use" or asked > 1:
            await asyncio.Event().wait()
        return "tok-first"

    async with AppServer(always(401, UNAUTHORIZED)) as server:
        async with asyncio.timeout(5):  # a hang fails this test, not the suite
            async with groove(server.url, provider, timeout=0.2) as client:
                with pytest.raises(AuthenticationError):
                    await client.add_tracks([catalog_id(1)])
    assert len(server.calls) == (0 if when == "first-use" else 1)


# -- 7. Plain http only to loopback ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.example",
        "http://127.evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "http://[::ffff:7f00:1]",
        "http://[::ffff:127.0.0.1]",
    ],
)
def test_plain_http_to_anything_but_loopback_is_refused(url: str) -> None:
    """Rule 7: a DNS name that merely starts like loopback is a remote host."""
    with pytest.raises(ValueError):  # noqa: PT011  (any wording: the refusal is the point)
        GrooveClient("tok", base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://127.5.6.7", "http://localhost:1", "http://[::1]:1"]
)
def test_plain_http_to_loopback_is_accepted(url: str) -> None:
    """Rule 7, positive: IPv4 127/8 literals, ``localhost`` and ``[::1]``."""
    assert GrooveClient("tok", base_url=url).base_url == url


# -- 8. A reflected token goes nowhere ------------------------------------------------------------


def _item_message(call: Call) -> Any:
    error = {**INVALID_ID, "Message": f"refused for {call.auth}"}
    return reply(200, results(*(item(i, error=error) for i in call.ids), error=SOME_FAILED))


def _after_refresh(call: Call) -> Any:
    return reply(401, UNAUTHORIZED) if call.n == 0 else _item_message(call)


def _whole(status: int, code: str) -> Callable[[Call], Any]:
    def respond(call: Call) -> Any:
        body = {"Error": {"ErrorCode": code, "Description": call.auth, "Message": call.auth}}
        return reply(status, body)

    return respond


def _escaped(status: int, body: Callable[[Call], dict[str, Any]]) -> Callable[[Call], Any]:
    """``body`` with "AUTH" replaced by the Authorization value, every character JSON-escaped
    (legal JSON in which the token's bytes never appear as such)."""

    def respond(call: Call) -> Any:
        escaped = "".join(f"\\u{ord(c):04x}" for c in call.auth)
        text = json.dumps(body(call)).replace("AUTH", escaped)
        return reply(status, text.encode(), {"Content-Type": "application/json"})

    return respond


def _all_tokens(call: Call) -> Any:
    """After a refresh, every token the server has seen, the old one too."""
    if call.n == 0:
        return reply(401, UNAUTHORIZED)
    error = {**INVALID_ID, "Message": " and ".join(call.seen)}
    return reply(200, results(*(item(i, error=error) for i in call.ids), error=SOME_FAILED))


AUTH_ERROR = {"ErrorCode": "AUTH", "Description": "AUTH", "Message": "AUTH"}
REFLECTIONS: dict[str, tuple[type[AppServer] | type[RawServer], Callable[[Call], Any]]] = {
    "item-message": (AppServer, _item_message),
    "400-body": (AppServer, _whole(400, "INVALID_INPUT_PARAMETER")),
    "html-200": (AppServer, lambda call: reply(200, f"<!doctype html><p>{call.auth}</p>")),
    "text-200": (AppServer, lambda call: reply(200, f"Denied: {call.auth}")),
    "500-body": (AppServer, _whole(500, "INTERNAL_SERVER_ERROR")),
    "status-line": (RawServer, lambda call: f"HTTP/1.1 2x0 {call.auth}\r\n\r\n".encode()),
    "header-line": (
        RawServer,
        lambda call: f"HTTP/1.1 200 OK\r\n{call.auth}\r\nContent-Length: 2\r\n\r\n{{}}".encode(),
    ),
    "401-code": (
        AppServer,
        lambda call: reply(401, {"Error": {"ErrorCode": call.auth, "Description": "Denied"}}),
    ),
    "after-refresh": (AppServer, _after_refresh),
    "all-tokens": (AppServer, _all_tokens),
    "escaped-item-code": (
        AppServer,
        _escaped(200, lambda call: results(*(item(i, error=AUTH_ERROR) for i in call.ids))),
    ),
    "escaped-400-body": (AppServer, _escaped(400, lambda call: {"Error": AUTH_ERROR})),
    "escaped-401-code": (AppServer, _escaped(401, lambda call: {"Error": AUTH_ERROR})),
}


def leaked(*texts: str) -> list[str]:
    """The texts holding a test token, in any spelling the client may give it."""
    return [text for text in texts if any(spelling in text for spelling in SPELLINGS)]


def exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    texts.append("".join(traceback.format_exception(exc)))
    partial = getattr(exc, "partial", None)
    texts += [repr(r) for r in partial or ()]
    return texts


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


AFTER_REFRESH = {"after-refresh", "all-tokens"}  # reflect only once a provider has refreshed
REFRESHING = {"401-code", "escaped-401-code", *AFTER_REFRESH}


@pytest.mark.parametrize(
    ("scenario", "token_kind"),
    [
        pytest.param(scenario, kind, id=f"{scenario}-{kind}")
        for scenario in REFLECTIONS
        for kind in ("static", "provider")
        if kind == "provider" or scenario not in AFTER_REFRESH
    ],
)
async def test_reflected_token_reaches_no_result_exception_log_or_event(
    scenario: str, token_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Rule 8: whatever the server copies the Authorization header into, the token stays put."""
    caplog.set_level(logging.DEBUG, logger="groove_async")
    server_class, respond = REFLECTIONS[scenario]
    token = SECRET if token_kind == "static" else provider_of(SECRET, REFRESHED)
    events: list[Any] = []
    texts: list[str] = []
    async with (
        server_class(respond) as server,
        groove(server.url, token, on_event=events.append) as client,
    ):
        try:
            result = await client.add_tracks([catalog_id(1), catalog_id(2)])
        except AuthenticationError as exc:
            texts += exception_texts(exc)
        else:
            texts += [repr(result), *(repr(r) for r in result)]
    texts += log_texts(caplog) + [repr(event) for event in events]
    assert server.calls and SECRET in server.calls[0].auth  # the server did reflect it
    if token_kind == "provider" and scenario in REFRESHING:
        assert REFRESHED in server.calls[-1].auth
    assert leaked(*texts) == []


# -- 9. A provider's exception is not chained -----------------------------------------------------


@pytest.mark.parametrize("when", ["first-use", "refresh"])
async def test_provider_exception_is_not_chained(
    when: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Rule 9: the provider's error names the token; AuthenticationError must not carry it."""
    caplog.set_level(logging.DEBUG, logger="groove_async")
    asked = 0

    async def provider() -> str:
        nonlocal asked
        asked += 1
        if when == "first-use" or asked > 1:
            raise RuntimeError(f"bad token {SECRET}")
        return "tok-first"

    async with (
        AppServer(always(401, UNAUTHORIZED)) as server,
        groove(server.url, provider) as client,
    ):
        with pytest.raises(AuthenticationError) as info:
            await client.add_tracks([catalog_id(1)])
    exc = info.value
    assert len(server.calls) == (0 if when == "first-use" else 1)
    assert leaked(repr(exc.__cause__)) == []
    assert leaked(repr(exc.__context__)) == []
    assert leaked("".join(traceback.format_exception(exc))) == []
    assert leaked(*exception_texts(exc), *log_texts(caplog)) == []


# -- 10. Tokens are visible ASCII only ------------------------------------------------------------

BAD_TOKENS = [
    pytest.param("ab\u00a0cd", id="nbsp"),
    pytest.param("ab\u0085cd", id="next-line"),
    pytest.param("ab\u2028cd", id="line-separator"),
    pytest.param("ab\u200bcd", id="zero-width-space"),
    pytest.param("ab\u3000cd", id="ideographic-space"),
    pytest.param("\ufeffabcd", id="bom"),
    pytest.param("ab\u00e9cd", id="e-acute"),
    pytest.param("ab cd", id="space"),
    pytest.param("ab\tcd", id="tab"),
    pytest.param("ab\x00cd", id="nul"),
    pytest.param("ab\x7fcd", id="del"),
    pytest.param("abcd\r\nX-Evil: 1", id="crlf"),
]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_constructor_refuses_a_token_that_is_not_visible_ascii(token: str) -> None:
    """Rule 10: only 0x21-0x7E; the message does not echo the token."""
    with pytest.raises(ValueError, match=r"(?i)token") as info:
        GrooveClient(token, base_url="http://127.0.0.1:1")
    assert token not in str(info.value)


def test_constructor_accepts_every_visible_ascii_character() -> None:
    """Rule 10, positive: the whole of 0x21-0x7E is allowed."""
    GrooveClient("".join(map(chr, range(0x21, 0x7F))), base_url="http://127.0.0.1:1")


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_provider_token_that_is_not_visible_ascii_sends_nothing(token: str) -> None:
    """Rule 10: a provider's unusable token ends in AuthenticationError before any request."""
    async with (
        RawServer(lambda call: http_response(200, results())) as server,
        groove(server.url, provider_of(token)) as client,
    ):
        with pytest.raises(AuthenticationError) as info:
            await client.add_tracks([catalog_id(1)])
    assert server.connections == 0
    assert token not in str(info.value)
