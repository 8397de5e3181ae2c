"""Where a worker gets a user's token: any async callable, or a directory of token files.

A job names a user, never a token (no token travels in Redis). The worker asks its token source
for that user's token when the job starts, and again after a 401 (the client asks once), so an
outside refresher that rewrites a user's file rotates the token under a running job.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeAlias

from ._names import check_user

__all__ = ["DirectoryTokens", "TokenSource", "TokenUnavailable"]

TokenSource: TypeAlias = Callable[[str], Awaitable[str]]
"""A user name in, that user's current token out; raises :class:`TokenUnavailable` (or any
``LookupError``) when there is none."""


class TokenUnavailable(LookupError):
    """There is no token for a user: the job fails with this reason (the message names the user,
    never a token or a path outside the token directory)."""


class DirectoryTokens:
    """A token source reading ``DIR/<user>``: one file per user, holding that user's token.

    The file is read each time a token is asked for, so a refresher may replace it at any time
    (write a temporary file and rename it over the old one). The user name is checked to be a
    plain name (:func:`~groove_async.fleet.check_user`) and the file's real path to lie inside
    the directory, so a name never opens anything else (no ``..``, no symlink out).

    Args:
        directory: the directory of token files.

    Raises:
        ValueError: ``directory`` is not a directory.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        path = Path(directory)
        if not path.is_dir():
            raise ValueError(f"not a directory of token files: {os.fspath(directory)}")
        self._root = path.resolve()

    def __repr__(self) -> str:
        return f"DirectoryTokens({os.fspath(self._root)!r})"

    async def __call__(self, user: str) -> str:
        """The token in the user's file, stripped of surrounding whitespace.

        Raises:
            TokenUnavailable: the name is not a plain user name, the file is missing, empty,
                unreadable or outside the directory.
        """
        return await asyncio.to_thread(self._read, user)

    def _read(self, user: str) -> str:
        try:
            check_user(user)
        except (TypeError, ValueError) as exc:
            raise TokenUnavailable(str(exc)) from None
        path = (self._root / user).resolve()
        if path.parent != self._root:  # a symlink leading out of the directory
            raise TokenUnavailable(f"no token file for the user {user!r}")
        try:
            with open(path, encoding="utf-8") as file:
                token = file.read(16_384).strip()
        except FileNotFoundError:
            raise TokenUnavailable(f"no token file for the user {user!r}") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
            raise TokenUnavailable(f"cannot read the token file of {user!r}: {reason}") from None
        if not token:
            raise TokenUnavailable(f"the token file of the user {user!r} is empty")
        return token
