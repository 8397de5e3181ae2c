"""The rules of a track ID: what the client accepts, how the service normalises it, and when
an echo stands for the ID sent (spec sections 3.1 and 7).

Pure functions and one validator; the command line checks IDs through the same
:class:`IdValidator` the client does.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

__all__ = ["MAX_ID_LENGTH", "IdValidator", "echo_matches", "normalise_id"]

#: Real IDs are about 45 characters; anything this long is a mistake, not an ID.
MAX_ID_LENGTH: Final = 1024

_GUID_RE: Final = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")


def normalise_id(track_id: str) -> str:
    """The service's view of an ID: the GUID after the namespace upper-cased (spec 3.1).

    Collection IDs (base64) are case-sensitive and returned unchanged.
    """
    dot = track_id.find(".")
    if len(track_id) - dot != 37:  # not a GUID after the dot: the common collection-ID case
        return track_id
    rest = track_id[dot + 1 :]
    if rest[8] == "-" and _GUID_RE.fullmatch(rest):
        upper = track_id[: dot + 1] + rest.upper()
        return track_id if upper == track_id else upper
    return track_id


class IdValidator:
    """Checks caller input before anything is sent.

    An ID must be a ``str`` of the form ``{namespace}.{id}`` where the part after the dot is
    1..1024 printable ASCII characters without spaces: no control characters (no CR/LF header or
    body injection), no whitespace, no non-ASCII.
    """

    __slots__ = ("_many", "_namespace", "_pattern")

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        one = re.escape(namespace) + rf"\.[\x21-\x7e]{{1,{MAX_ID_LENGTH - len(namespace) - 1}}}"
        self._pattern = re.compile(one)
        # A whole batch joined by newlines, checked by one regex call (no ID can hold "\n").
        self._many = re.compile(rf"(?:{one}\n)*{one}")

    def check(self, track_id: object, position: int | None = None) -> str:
        """Return ``track_id`` if valid (``position``: its place in the input; ``None`` for a
        single ID, which has none).

        Raises:
            TypeError: not a string.
            ValueError: not a well-formed ID of this client's namespace.
        """
        if isinstance(track_id, str) and self._pattern.fullmatch(track_id):
            return track_id
        raise self.error(track_id, position)

    def check_many(self, track_ids: list[Any], start: int) -> list[str]:
        """Return ``track_ids`` if every one is valid (``start``: position of the first).

        Raises:
            TypeError, ValueError: for the first invalid ID, as :meth:`check`.
        """
        try:
            joined = "\n".join(track_ids)
        except TypeError:
            joined = ""
        if joined and joined.count("\n") == len(track_ids) - 1 and self._many.fullmatch(joined):
            return cast(list[str], track_ids)
        return [self.check(track_id, start + offset) for offset, track_id in enumerate(track_ids)]

    def error(self, track_id: object, position: int | None = None) -> TypeError | ValueError:
        """The exception describing why ``track_id`` is not acceptable."""
        where = "track ID" if position is None else f"track ID at position {position}"
        if not isinstance(track_id, str):
            return TypeError(f"{where} must be a str, not {type(track_id).__name__}")
        shown = repr(track_id[:60]) + ("..." if len(track_id) > 60 else "")
        prefix = self._namespace + "."
        if not track_id:
            reason = "is empty"
        elif not track_id.startswith(prefix) or len(track_id) == len(prefix):
            reason = f"must look like '{prefix}<id>'"
        elif len(track_id) > MAX_ID_LENGTH:
            reason = f"is {len(track_id)} characters long (at most {MAX_ID_LENGTH})"
        else:
            reason = "may hold only printable ASCII without spaces or control characters"
        return ValueError(f"{where} {reason}: {shown}")


def echo_matches(sent: str, echo: str) -> bool:
    """Whether the service's echo of an input ID stands for the ID sent there.

    The service upper-cases the GUID of a catalog ID (spec 3.1), so that part alone compares
    case-insensitively, in ASCII; everything else (the namespace, collection IDs, which are
    case-sensitive base64url) compares exactly. ``str.upper()`` on the whole ID would accept a
    swapped ``AbCd``/``aBcD`` pair, and Unicode look-alikes (the long s -> ``S``, the ff
    ligature -> ``FF``).
    """
    return echo == sent or normalise_id(echo) == normalise_id(sent)
