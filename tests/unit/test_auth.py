from __future__ import annotations

import asyncio
import traceback

import pytest

from groove_async import AuthenticationError, ErrorInfo, HTTPStatusError, TransportError
from groove_async._auth import TokenSource, check_token


async def test_static_token() -> None:
    source = TokenSource("abc")
    assert await source.get() == "abc"
    assert not source.refreshable
    with pytest.raises(AuthenticationError):
        await source.refresh("abc")
    assert "abc" not in repr(source)


@pytest.mark.parametrize("bad", ["", "a b", "tok\r\nX-Evil: 1", "\x00"])
def test_unusable_tokens(bad: str) -> None:
    with pytest.raises(ValueError, match="token") as info:
        check_token(bad)
    assert bad not in str(info.value) or not bad


def test_token_type() -> None:
    with pytest.raises(TypeError):
        TokenSource(5)  # type: ignore[arg-type]


async def test_one_refresh_shared_by_concurrent_callers() -> None:
    calls = 0
    gate = asyncio.Event()

    async def provider() -> str:
        nonlocal calls
        calls += 1
        if calls > 1:
            await gate.wait()
        return f"token-{calls}"

    source = TokenSource(provider)
    assert await source.get() == "token-1"
    refreshes = [asyncio.create_task(source.refresh("token-1")) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert set(await asyncio.gather(*refreshes)) == {"token-2"}
    assert calls == 2


async def test_provider_failure_is_an_authentication_error_without_details() -> None:
    async def provider() -> str:
        raise RuntimeError("vault down: secret=hunter2")

    with pytest.raises(AuthenticationError) as info:
        await TokenSource(provider).get()
    assert "hunter2" not in str(info.value)


async def test_provider_returning_garbage() -> None:
    async def provider() -> str:
        return "two words"

    with pytest.raises(AuthenticationError, match="unusable"):
        await TokenSource(provider).get()


# -- hardening -----------------------------------------------------------------------------------

SECRET = "tok-SECRET-123"


@pytest.mark.parametrize(
    "bad",
    [
        "ab\u00a0cd",  # NBSP
        "ab\u0085cd",  # NEL
        "ab\u2028cd",  # line separator
        "ab\u200bcd",  # zero-width space
        "caf\u00e9",
        "ab\tcd",
        "ab\x7fcd",
    ],
)
def test_only_visible_ascii_is_a_token(bad: str) -> None:
    with pytest.raises(ValueError, match="visible ASCII"):
        check_token(bad)
    with pytest.raises(ValueError, match="visible ASCII"):
        TokenSource(bad)


async def test_a_provider_returning_unicode_whitespace_is_refused() -> None:
    async def provider() -> str:
        return "ab\u2028cd"

    with pytest.raises(AuthenticationError, match="unusable"):
        await TokenSource(provider).get()


async def test_a_hanging_provider_is_bounded_by_the_timeout() -> None:
    async def provider() -> str:
        await asyncio.Event().wait()
        return "never"

    source = TokenSource(provider, timeout=0.05)
    async with asyncio.timeout(5):
        with pytest.raises(AuthenticationError, match="did not answer within"):
            await source.get()


async def test_one_failed_provider_call_fails_every_batch_waiting_for_it() -> None:
    calls = 0
    release = asyncio.Event()

    async def provider() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        raise RuntimeError("vault down")

    source = TokenSource(provider)
    waiting = [asyncio.create_task(source.get()) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert calls == 1
    # A later call asks again: a failure is shared, not remembered for good.
    with pytest.raises(AuthenticationError):
        await source.get()
    assert calls == 2


async def test_the_providers_exception_is_neither_chained_nor_kept_as_context() -> None:
    async def provider() -> str:
        raise RuntimeError(f"bad token {SECRET}")

    with pytest.raises(AuthenticationError) as info:
        await TokenSource(provider).get()
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert SECRET not in "".join(traceback.format_exception(info.value))


def test_redaction_of_every_token_handed_out() -> None:
    source = TokenSource(SECRET)
    assert source.redact(f"Bearer {SECRET}!") == "Bearer [REDACTED]!"
    assert source.redact_bytes(f'{{"x":"{SECRET}"}}'.encode()) == b'{"x":"[REDACTED]"}'
    info = ErrorInfo("X", f"a {SECRET}", SECRET)
    assert source.redact_info(info) == ErrorInfo("X", "a [REDACTED]", "[REDACTED]")
    error = HTTPStatusError(400, SECRET, "d", f"m {SECRET}")
    clean = source.redact_error(error)
    assert isinstance(clean, HTTPStatusError) and SECRET not in repr(clean.args) + str(clean)
    assert clean.status == 400
    transport = source.redact_error(TransportError(f"BadStatusLine {SECRET}", code="TIMEOUT"))
    assert isinstance(transport, TransportError) and transport.code == "TIMEOUT"
    assert SECRET not in str(transport)
    plain = TransportError("nothing secret")
    assert source.redact_error(plain) is plain


def test_short_tokens_are_not_redacted_everywhere() -> None:
    # "t1" is inside many a collection ID: redacting it would corrupt ordinary data.
    source = TokenSource("t1")
    assert source.redact("music.AQQft1x") == "music.AQQft1x"
