"""The token never appears in reprs, logs (DEBUG included), exceptions, tracebacks or the
emulator's request log."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest

from groove_async import AuthenticationError, GrooveClient, RetryPolicy
from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse
from tests.conftest import catalog_id

SECRET = "s3cr3t-T0KEN-value"
REFRESHED = "r3fr3shed-T0KEN-value"


def assert_clean(text: str) -> None:
    assert SECRET not in text
    assert REFRESHED not in text


async def test_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    faults = FaultPlan(
        p_503=0.2, p_429=0.1, retry_after=0.01, p_drop=0.05, p_truncated=0.05, seed=3
    )
    async with FakeGrooveServer(tokens=[SECRET], faults=faults) as server:
        calls = 0

        async def provider() -> str:
            nonlocal calls
            calls += 1
            return SECRET if calls == 1 else REFRESHED

        async with GrooveClient(
            provider, base_url=server.url, retry=RetryPolicy(wait_initial=0.001, wait_max=0.01)
        ) as groove:
            texts.append(repr(groove))
            result = await groove.add_tracks([catalog_id(i) for i in range(600)])
            texts += [repr(result), *map(repr, result)]
            # The token is refused: the refreshed one is refused too -> AuthenticationError.
            server.expire_token(SECRET)
            server.faults = FaultPlan()
            with pytest.raises(AuthenticationError) as info:
                await groove.add_tracks([catalog_id(1)])
            exc = info.value
            texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            texts.append(repr(pickle.loads(pickle.dumps(exc))))
            single = ScriptedResponse(401, body=b"")
            server.script(single)
            with pytest.raises(AuthenticationError) as single_info:
                await groove.add_track(catalog_id(2))
            texts.append("".join(traceback.format_exception(single_info.value)))
        texts += [repr(server), *map(repr, server.requests)]
        texts += [str(record.token) for record in server.requests]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    assert calls >= 2
    assert len(server.requests) > 6
    for text in texts:
        assert_clean(text)


def test_constructor_errors_do_not_echo_the_token() -> None:
    with pytest.raises(ValueError, match="token") as info:
        GrooveClient(SECRET + "\r\nX-Evil: 1")
    assert_clean(str(info.value))
