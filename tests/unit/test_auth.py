from __future__ import annotations

import asyncio

import pytest

from groove_async import AuthenticationError
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
