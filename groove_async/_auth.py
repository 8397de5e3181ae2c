"""Where the user token comes from, and the one place that knows which tokens must never leak.

A fixed string, or an async provider with one refresh shared by every batch in flight. The
:class:`TokenSource` also remembers the tokens it has handed out, so that whatever leaves the
client (results, exception messages, log lines, events) can be scrubbed of them: a server that
reflects the token's header must not get the token into a caller's output file.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, TypeAlias

from ._errors import AuthenticationError, BatchError, HTTPStatusError
from ._models import ErrorInfo
from ._transport import TransportError

__all__ = [
    "MIN_REDACTED_LENGTH",
    "REDACTED",
    "TokenProvider",
    "TokenSource",
    "check_token",
    "redact",
]

#: An async callable returning a fresh user token.
TokenProvider: TypeAlias = Callable[[], Awaitable[str]]

#: What a token is replaced with wherever it would leave the client.
REDACTED: Final = "[REDACTED]"

_REDACTED_BYTES: Final = REDACTED.encode("ascii")

#: A token is visible ASCII only (RFC 6750's b64token is narrower still): no space, no control,
#: no Unicode whitespace (NBSP, U+0085, U+2028) or invisible character (U+200B).
_TOKEN_RE: Final = re.compile(r"[\x21-\x7e]+")

#: Tokens shorter than this are not redacted: no real user token is that short (an MSA token runs
#: to hundreds of characters), while replacing a short string everywhere would corrupt ordinary
#: text and IDs (a test token "t1" is inside many a collection ID).
MIN_REDACTED_LENGTH: Final = 8

#: How many of the latest tokens are remembered for redaction (a token expires hourly, so a
#: long-running service cycles through many; the old ones stop mattering).
_REMEMBERED: Final = 32  # 16 tokens, each in two spellings


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (those long enough to be real tokens) replaced."""
    for secret in secrets:
        if len(secret) >= MIN_REDACTED_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def check_token(token: object) -> str:
    """Return ``token`` if it can go in the request's bearer-token header.

    The message never contains the token.

    Raises:
        TypeError: not a string.
        ValueError: empty, or holding anything but visible ASCII (0x21-0x7E): whitespace,
            control characters (header injection) or any non-ASCII character.
    """
    if not isinstance(token, str):
        raise TypeError(f"the token must be a str, not {type(token).__name__}")
    if not token:
        raise ValueError("the token is empty")
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError(
            "the token may hold only visible ASCII characters (no whitespace, control or "
            "non-ASCII characters)"
        )
    return token


class TokenSource:
    """Hands out the current token and refreshes it at most once per stale token.

    When several batches get a 401 for the same token at once, the first to ask refreshes and
    the others wait for it and reuse the result: one refresh shared by all in-flight batches. A
    provider call that fails fails every batch that was waiting for it, at once, and a call is
    bounded by ``timeout`` (it stands in for a request): a provider that hangs cannot stall
    the client.

    Args:
        token: a static token, or an async provider.
        timeout: seconds one provider call may take.
    """

    __slots__ = (
        "_failure",
        "_failures",
        "_lock",
        "_provider",
        "_timeout",
        "_token",
        "_used",
        "_used_bytes",
    )

    def __init__(self, token: str | TokenProvider, *, timeout: float = 30.0) -> None:
        self._used: deque[str] = deque(maxlen=_REMEMBERED)
        self._used_bytes: deque[bytes] = deque(maxlen=_REMEMBERED)  # the same, encoded once
        if isinstance(token, str):
            self._token: str | None = check_token(token)
            self._provider: TokenProvider | None = None
            self._remember(token)
        elif callable(token):
            self._token = None
            self._provider = token
        else:
            raise TypeError(
                "token must be a str or an async callable returning one, "
                f"not {type(token).__name__}"
            )
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._failures = 0  # provider calls that failed
        self._failure = ""  # the message of the latest failure

    def __repr__(self) -> str:
        kind = "provider" if self._provider is not None else "static"
        return f"<TokenSource {kind}>"

    @property
    def refreshable(self) -> bool:
        """Whether a 401 may be cured by asking the provider again."""
        return self._provider is not None

    async def get(self) -> str:
        """The token to send now (asking the provider the first time).

        Raises:
            AuthenticationError: the provider failed, hung past ``timeout`` or returned an
                unusable token.
        """
        token = self._token
        if token is not None:
            return token
        seen = self._failures
        async with self._lock:
            if self._token is not None:
                return self._token
            self._raise_if_failed_since(seen)
            return await self._call_provider()

    async def refresh(self, stale: str) -> str:
        """A token newer than ``stale``; asks the provider only if nobody else already did.

        Raises:
            AuthenticationError: the token is static, or the provider failed.
        """
        if self._provider is None:
            raise AuthenticationError("the service refused the token and it cannot be refreshed")
        seen = self._failures
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            self._raise_if_failed_since(seen)
            return await self._call_provider()

    def redact(self, text: str) -> str:
        """``text`` with every token this source has handed out replaced by ``[REDACTED]``."""
        return redact(text, self._used)

    def redact_bytes(self, body: bytes) -> bytes:
        """``body`` with every token handed out replaced (a response reflecting the header)."""
        for raw in self._used_bytes:
            if raw in body:
                body = body.replace(raw, _REDACTED_BYTES)
        return body

    def redact_info(self, info: ErrorInfo) -> ErrorInfo:
        """``info``, or a copy of it whose texts hold no token handed out."""
        message = None if info.message is None else self.redact(info.message)
        clean = ErrorInfo(self.redact(info.code), self.redact(info.description), message)
        return info if clean == info else clean

    def redact_error(self, exc: BatchError) -> BatchError:
        """``exc``, or a copy of it whose texts hold no token handed out (else ``exc`` itself)."""
        if isinstance(exc, HTTPStatusError):
            texts = (exc.code, exc.description, exc.message)
            clean = tuple(None if t is None else self.redact(t) for t in texts)
            if clean == texts:
                return exc
            return HTTPStatusError(
                exc.status, *clean, retry_after=exc.retry_after, transient=exc.transient
            )
        text = str(exc)
        clean_text = self.redact(text)
        if clean_text == text:
            return exc
        if isinstance(exc, TransportError):
            return TransportError(clean_text, code=exc.code or "CONNECTION_ERROR")
        return type(exc)(clean_text)

    def _raise_if_failed_since(self, seen: int) -> None:
        # A call that started after we began waiting has failed: share its failure rather than
        # asking the provider again (and waiting up to `timeout` once more) for every batch.
        if self._failures > seen:
            raise AuthenticationError(self._failure)

    async def _call_provider(self) -> str:
        assert self._provider is not None
        try:
            token = self._check(await self._ask())
        except AuthenticationError as exc:
            self._failures += 1
            self._failure = str(exc)
            raise
        self._token = token
        self._remember(token)
        return token

    def _remember(self, token: str) -> None:
        # Error codes are respelled with underscores on the way in (spec section 5), so a token
        # reflected into an ErrorCode reaches us as that spelling: it is redacted too.
        for spelling in dict.fromkeys((token, token.replace("-", "_"))):
            if len(spelling) >= MIN_REDACTED_LENGTH and spelling not in self._used:
                self._used.append(spelling)
                self._used_bytes.append(spelling.encode("ascii"))  # visible ASCII: checked

    async def _ask(self) -> object:
        assert self._provider is not None
        failure: str
        try:
            async with asyncio.timeout(self._timeout):
                return await self._provider()
        except TimeoutError:
            failure = f"the token provider did not answer within {self._timeout:g}s"
        except Exception as exc:  # noqa: BLE001  (its text may hold the token: never copied)
            failure = f"the token provider failed: {type(exc).__name__}"
        # Raised outside the handler, so neither chained nor kept as __context__: the
        # provider's exception (and its traceback's locals) may hold the token, and
        # SECURITY.md promises its text never leaves the client.
        raise AuthenticationError(failure)

    @staticmethod
    def _check(token: object) -> str:
        try:
            return check_token(token)
        except (TypeError, ValueError) as exc:
            problem = str(exc)  # our own wording: it never holds the token
        raise AuthenticationError(f"the token provider returned an unusable token: {problem}")
