"""What names a fleet's things: user names, the Redis keys, a job's identity, a token's hash.

Pure rules, no I/O and no Redis: the command line checks a user name with :func:`check_user`
before anything is sent, and the worker checks it again before it opens a token file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Final

__all__ = [
    "ACTIONS",
    "CHUNK",
    "PREFIX",
    "TERMINAL",
    "check_action",
    "check_user",
    "input_digest",
    "token_hash",
]

PREFIX: Final = "groove:fleet"
"""Every key the fleet writes (beside saq's own ``saq:`` keys) starts with this."""

CHUNK: Final = 100
"""Inputs per recorded batch: the service's batch limit (spec section 3), so that a chunk is
one POST and the resend bound after a crash is the batches in flight."""

ACTIONS: Final = ("add", "delete")

TERMINAL: Final = frozenset({"complete", "failed", "aborted"})
"""The states a job never leaves."""

_USER: Final = re.compile(r"[A-Za-z0-9._@-]{1,128}")


def check_user(name: object) -> str:
    """``name`` if it is a plain user name: letters, digits and ``._@-``, 1 to 128 characters,
    not starting with a dot (so never a path, ``..`` or a hidden file).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: it is not a plain user name (the message quotes at most 40 characters).
    """
    if not isinstance(name, str):
        raise TypeError(f"a user name must be a string, not {type(name).__name__}")
    if not _USER.fullmatch(name) or name.startswith("."):
        raise ValueError(
            f"not a user name: {name[:40]!r} (letters, digits and ._@- only, 1 to 128 "
            "characters, not starting with a dot)"
        )
    return name


def check_action(action: object) -> str:
    """``action`` if it is ``"add"`` or ``"delete"``.

    Raises:
        ValueError: it is neither.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be 'add' or 'delete', not {action!r}")
    return str(action)


def input_digest(user: str, action: str, inputs: Iterable[str]) -> str:
    """The identity of a job for de-duplication: its user, action and input lines, hashed."""
    digest = hashlib.sha256(f"{action}\n{user}\n".encode())
    for line in inputs:
        digest.update(line.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


def token_hash(token: str) -> str:
    """What names a token's shared pause in Redis: a hash, from which the token cannot be read
    back (SHA-256 of a domain-separated string; a bearer token has far too much entropy to be
    guessed from it)."""
    return hashlib.sha256(b"groove-async fleet gate\0" + token.encode()).hexdigest()[:32]
