"""Where the user token comes from: a fixed string, or an async provider with shared refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from ._errors import AuthenticationError

__all__ = ["TokenProvider", "TokenSource", "check_token"]

#: An async callable returning a fresh user token.
TokenProvider: TypeAlias = Callable[[], Awaitable[str]]


def check_token(token: object) -> str:
    """Return ``token`` if it can go in an ``Authorization`` header.

    The message never contains the token.

    Raises:
        TypeError: not a string.
        ValueError: empty, or holding whitespace or control characters (header injection).
    """
    if not isinstance(token, str):
        raise TypeError(f"the token must be a str, not {type(token).__name__}")
    if not token:
        raise ValueError("the token is empty")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in token):
        raise ValueError("the token contains whitespace or control characters")
    return token


class TokenSource:
    """Hands out the current token and refreshes it at most once per stale token.

    When several batches get a 401 for the same token at once, the first to ask refreshes and
    the others wait for it and reuse the result: one refresh shared by all in-flight batches.
    """

    __slots__ = ("_lock", "_provider", "_token")

    def __init__(self, token: str | TokenProvider) -> None:
        if isinstance(token, str):
            self._token: str | None = check_token(token)
            self._provider: TokenProvider | None = None
        elif callable(token):
            self._token = None
            self._provider = token
        else:
            raise TypeError(
                "token must be a str or an async callable returning one, "
                f"not {type(token).__name__}"
            )
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        kind = "provider" if self._provider is not None else "static"
        return f"<TokenSource {kind}>"

    @property
    def refreshable(self) -> bool:
        """Whether a 401 may be cured by asking the provider again."""
        return self._provider is not None

    async def get(self) -> str:
        """The token to send now (asking the provider the first time)."""
        token = self._token
        if token is not None:
            return token
        async with self._lock:
            if self._token is None:
                self._token = await self._call_provider()
            return self._token

    async def refresh(self, stale: str) -> str:
        """A token newer than ``stale``; asks the provider only if nobody else already did.

        Raises:
            AuthenticationError: the token is static, or the provider failed.
        """
        if self._provider is None:
            raise AuthenticationError("the service refused the token and it cannot be refreshed")
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            self._token = await self._call_provider()
            return self._token

    async def _call_provider(self) -> str:
        assert self._provider is not None
        try:
            token = await self._provider()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise AuthenticationError(f"the token provider failed: {type(exc).__name__}") from exc
        try:
            return check_token(token)
        except (TypeError, ValueError) as exc:
            raise AuthenticationError(
                f"the token provider returned an unusable token: {exc}"
            ) from exc
