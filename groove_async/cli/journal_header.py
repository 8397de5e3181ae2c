"""The first line of an import journal: what it serves, and whose token it was started with.

A :class:`JournalHeader` names the input (the SHA-256 of its bytes), the action and the base URL
a journal belongs to (and, for ``playlist create``, the playlist's name), and holds a
:class:`TokenFingerprint` of the token it was started with. :mod:`groove_async.cli.journal`
describes the whole format and uses these.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any, Final

import attrs

__all__ = [
    "MAGIC",
    "READABLE_VERSIONS",
    "VERSION",
    "JournalError",
    "JournalHeader",
    "TokenFingerprint",
]

MAGIC: Final = "groove-async"
"""The value of the header's ``journal`` key."""

VERSION: Final = 3
"""The newest journal format version, that of a ``playlist create`` journal.

Version 3 is version 2 with the playlist's name in the header and the playlist's own lines
(:mod:`groove_async.cli.journal`); the journals of ``add`` and ``delete``, which have neither,
are still written as version 2, which groove-async releases before version 3 read too.
"""

PLAIN_VERSION: Final = 2
"""The version of a journal without a playlist (``add``, ``delete``)."""

READABLE_VERSIONS: Final = frozenset({1, PLAIN_VERSION, VERSION})
"""The format versions this module reads: version 1 is version 2 without the token fingerprint."""

TOKEN_KDF: Final = "pbkdf2-sha256"  # noqa: S105 -- the name of an algorithm, not a secret
"""How a token's fingerprint is derived: PBKDF2-HMAC-SHA256 over its UTF-8 bytes."""
TOKEN_ITERATIONS: Final = 200_000
"""PBKDF2 iterations of a new fingerprint (computed once per command)."""
_MAX_ITERATIONS: Final = 2_000_000  # a stored fingerprint asking for more is refused as damaged
_SALT_BYTES: Final = 16


class JournalError(Exception):
    """The journal cannot be used: not a journal, made for another input, damaged or in use."""


@attrs.frozen
class TokenFingerprint:
    """A salted, slow, one-way fingerprint of a token: tells tokens apart, gives none away.

    Attributes:
        salt: the random salt, hex.
        digest: PBKDF2-HMAC-SHA256 of the token's UTF-8 bytes with that salt, hex.
        iterations: the PBKDF2 iteration count.
    """

    salt: str
    digest: str
    iterations: int = TOKEN_ITERATIONS

    @classmethod
    def of(cls, token: str) -> TokenFingerprint:
        """A new fingerprint of ``token``, with a fresh random salt."""
        salt = os.urandom(_SALT_BYTES)
        return cls(salt.hex(), _derive(token, salt, TOKEN_ITERATIONS).hex(), TOKEN_ITERATIONS)

    def matches(self, token: str) -> bool:
        """Whether ``token`` is the token this fingerprint was made of."""
        digest = _derive(token, bytes.fromhex(self.salt), self.iterations)
        return hmac.compare_digest(digest.hex(), self.digest)

    def to_json(self) -> dict[str, Any]:
        """The fingerprint as the header's ``token`` object."""
        return {
            "kdf": TOKEN_KDF,
            "iterations": self.iterations,
            "salt": self.salt,
            "hash": self.digest,
        }

    @classmethod
    def from_json(cls, value: object) -> TokenFingerprint:
        """Read the header's ``token`` object.

        Raises:
            JournalError: it is not a fingerprint this module makes.
        """
        if (
            isinstance(value, dict)
            and value.get("kdf") == TOKEN_KDF
            and type(value.get("iterations")) is int
            and 1 <= value["iterations"] <= _MAX_ITERATIONS
            and _is_hex(value.get("salt"), 2 * _SALT_BYTES)
            and _is_hex(value.get("hash"), 64)
        ):
            return cls(value["salt"], value["hash"], value["iterations"])
        raise JournalError("the journal header is damaged (its token fingerprint is unreadable)")


def _derive(token: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", token.encode(), salt, iterations)


def _is_hex(value: object, length: int) -> bool:
    if not isinstance(value, str) or len(value) != length:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


@attrs.frozen
class JournalHeader:
    """What a journal belongs to.

    Attributes:
        action: ``"add"``, ``"delete"`` or ``"playlist create"``.
        base_url: the service root the results came from.
        input_sha256: hex SHA-256 of the input file's bytes.
        input: the input's path as given when the journal was started; informational only (a
            renamed or moved input with the same bytes is still the same input).
        token: the fingerprint of the token the journal was started with; ``None`` when unknown
            (a version 1 journal, or one opened without a token). Not part of the identity.
        playlist: the name of the playlist a ``playlist create`` journal fills (written as
            ``playlist_name``, version 3); ``None`` for the other actions.
    """

    action: str
    base_url: str
    input_sha256: str
    input: str = ""
    token: TokenFingerprint | None = None
    playlist: str | None = None

    def to_line(self) -> bytes:
        """The header as the journal's first line, newline included (``token`` last)."""
        body: dict[str, Any] = {
            "journal": MAGIC,
            "version": PLAIN_VERSION if self.playlist is None else VERSION,
            "action": self.action,
            "base_url": self.base_url,
            "input_sha256": self.input_sha256,
            "input": self.input,
        }
        if self.playlist is not None:
            body["playlist_name"] = self.playlist
        if self.token is not None:
            body["token"] = self.token.to_json()
        return _dump(body)

    @classmethod
    def from_json(cls, value: object) -> JournalHeader:
        """Read a parsed header line.

        Raises:
            JournalError: it is not a groove-async journal header of a version this module reads.
        """
        if not isinstance(value, dict) or value.get("journal") != MAGIC:
            raise JournalError("not a groove-async journal (its first line is not a header)")
        version = value.get("version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise JournalError(
                f"journal format version {version!r} is not supported "
                f"(this groove-async reads versions 1 to {VERSION})"
            )
        fields = ("action", "base_url", "input_sha256", "input")
        playlist = value.get("playlist_name")
        if not all(isinstance(value.get(name), str) for name in fields) or not isinstance(
            playlist, str | None
        ):
            raise JournalError("the journal header is damaged (a field is missing)")
        stored = value.get("token")
        token = None if version == 1 or stored is None else TokenFingerprint.from_json(stored)
        return cls(
            value["action"],
            value["base_url"],
            value["input_sha256"],
            value["input"],
            token,
            playlist,
        )

    def _torn(self, first: bytes) -> bool:
        """Whether ``first``, a first line without its newline, is a torn start of this header.

        Only the part before the fingerprint is compared: a new fingerprint has a new salt.
        """
        stable = attrs.evolve(self, token=None).to_line()[: -len(b"}\n")]
        return stable.startswith(first) or first.startswith(stable)

    def mismatch(self, expected: JournalHeader) -> str | None:
        """Explain why this (stored) header does not serve ``expected``, or ``None`` if it does.

        The input's name is not compared: identity is the content's hash.
        """
        if self.input_sha256 != expected.input_sha256:
            return (
                f"it was started for a different input ({self.input or 'unnamed'}, sha256 "
                f"{self.input_sha256[:12]}...), not {expected.input or 'this input'} (sha256 "
                f"{expected.input_sha256[:12]}...)"
            )
        if self.action != expected.action:
            return f"it records the action '{self.action}', not '{expected.action}'"
        if self.base_url != expected.base_url:
            return f"it records results from {self.base_url}, not {expected.base_url}"
        if self.playlist != expected.playlist:
            return f"it fills the playlist {self.playlist!r}, not {expected.playlist!r}"
        return None


_encode: Final = json.JSONEncoder(ensure_ascii=False).encode  # built once, not per call


def _dump(value: Mapping[str, Any]) -> bytes:
    return _encode(value).encode() + b"\n"
