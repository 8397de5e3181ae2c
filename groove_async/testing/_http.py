"""The HTTP surface of the contract as plain data: requests, answers, routing.

Nothing here does I/O. A transport (the aiohttp server in :mod:`._server`, the in-memory
transport in :mod:`._memory`) turns what it receives into an :class:`HttpRequest`, hands it to
the service (:meth:`~._service.GrooveService.receive`), waits the :class:`Exchange`'s ``delay``,
and sends what :meth:`Exchange.respond` returns: a :class:`Reply`, or :data:`DROP` (close the
connection without answering).

Routing follows spec section 3 (the TrackAction family) and section 9 (playlists and reads):

* ``POST /1/content/{namespace}/collection/{add|delete}``, the action segment matched
  case-insensitively (the SDKs sent ``Add``);
* ``POST /1/content/{namespace}/collection/playlists/{create|update|delete}``, likewise;
* ``GET`` (and ``HEAD``) ``/1/content/{namespace}/collection/{tracks|playlists}/browse``,
  ``/1/content/{playlistId}/lookup``,
  ``/1/content/{playlistId}/collection/playlist/tracks/browse`` and
  ``/1/user/{namespace}/profile``. A playlist ID is a content ID, ``{namespace}.{id}``: its
  namespace is the part before its first dot.

Each path segment is percent-decoded on its own, so ``%2F`` inside a segment never splits it.
Any other path is 404; another method on a known path is 405 with ``Allow``. These two answers,
and the 413 for a body over :data:`MAX_BODY_BYTES`, are plain text, as an HTTP server writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal
from urllib.parse import unquote

import attrs

__all__ = [
    "DROP",
    "MAX_BODY_BYTES",
    "READ_ENDPOINTS",
    "Drop",
    "Exchange",
    "HttpRequest",
    "Reply",
    "Route",
    "route",
    "too_large",
]

MAX_BODY_BYTES: Final = 1024**2
"""The largest request body served (a public server caps them); larger ones get 413."""

_TEXT: Final = "text/plain; charset=utf-8"
_TRACK_ACTIONS: Final = frozenset({"add", "delete"})
_PLAYLIST_EDITS: Final = frozenset({"create", "update", "delete"})
_BROWSE_KINDS: Final = frozenset({"tracks", "playlists"})
_POST_METHODS: Final[tuple[str, ...]] = ("POST",)
_READ_METHODS: Final[tuple[str, ...]] = ("GET", "HEAD")

Endpoint = Literal[
    "track_action", "playlist_edit", "browse", "lookup", "playlist_tracks", "profile"
]

READ_ENDPOINTS: Final[frozenset[Endpoint]] = frozenset(
    {"browse", "lookup", "playlist_tracks", "profile"}
)
"""The endpoints of the read side (spec section 9.2): ``GET`` and ``HEAD``, never faulted."""


@attrs.frozen(slots=True)
class HttpRequest:
    """A request as the service sees it. ``repr`` leaves the headers and body out (the token).

    Attributes:
        method: the method as sent (``"POST"``).
        target: the path and query as sent, still percent-encoded
            (``/1/content/music/collection/add?contentType=xml``); scheme and host are not part
            of it.
        headers: every header line as ``(name, value)``; a name may come more than once.
        body: the whole body.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)

    def header_values(self, name: str) -> list[str]:
        """Every value of a header (names are case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def header(self, name: str) -> str | None:
        """The first value of a header, or ``None``."""
        values = self.header_values(name)
        return values[0] if values else None


@attrs.frozen(slots=True)
class Reply:
    """An answer to send: status, headers (``Content-Type`` among them, when there is a body)
    and body. The transport adds what HTTP itself needs (``Content-Length``, ``Date``)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen(slots=True)
class Drop:
    """Close the connection without answering (spec section 5: connections may drop)."""


DROP: Final = Drop()


class Exchange:
    """One request in progress: what the service decided when it arrived.

    The transport waits :attr:`delay` seconds (the latency of a fault plan or a scripted
    response), then calls :meth:`respond` once, which does the work (or not, for a failure that
    happens before the service) and returns what to send. A transport whose request is
    abandoned before the delay is over may still call :meth:`respond`, as a server that does
    not notice the client has gone.
    """

    __slots__ = ("_respond", "delay")

    def __init__(self, delay: float, respond: Callable[[], Reply | Drop]) -> None:
        self.delay = delay
        self._respond = respond

    @classmethod
    def answered(cls, outcome: Reply | Drop) -> Exchange:
        """An exchange decided on arrival, with no delay."""
        return cls(0.0, lambda: outcome)

    def respond(self) -> Reply | Drop:
        """Do the request's work and return what to send."""
        return self._respond()


@attrs.frozen(slots=True)
class Route:
    """Where a request goes.

    Attributes:
        endpoint: ``"track_action"`` (spec section 3), ``"playlist_edit"`` (9.1),
            ``"browse"``, ``"lookup"``, ``"playlist_tracks"`` or ``"profile"`` (9.2).
        namespace: the namespace segment, percent-decoded (only ``music`` exists); for a
            playlist's lookup and sub-browse, the part of the playlist ID before its first dot.
        action: lower-cased, ``"add"`` or ``"delete"`` (TrackAction), ``"create"``,
            ``"update"`` or ``"delete"`` (playlist edit), ``"tracks"`` or ``"playlists"``
            (browse); ``""`` for the others.
        path: the whole path, percent-decoded, without the query (for the request log).
        query: the query string, without ``?``.
        item: the playlist ID of a lookup or sub-browse, percent-decoded; ``""`` for the others.
    """

    endpoint: Endpoint
    namespace: str
    action: str
    path: str
    query: str
    item: str = ""


def route(method: str, target: str) -> Route | Reply:
    """Find the endpoint of a request, or the 404 or 405 answer when there is none."""
    raw_path, _, query = target.partition("?")
    segments = [unquote(segment) for segment in raw_path.split("/")]
    found = _match(segments)
    if found is None:
        return _text(404, "404: Not Found")
    endpoint, namespace, action, item = found
    allowed = _READ_METHODS if endpoint in READ_ENDPOINTS else _POST_METHODS
    if method not in allowed:
        return _text(405, "405: Method Not Allowed", Allow=",".join(allowed))
    return Route(endpoint, namespace, action, unquote(raw_path), query, item)


def _match(segments: list[str]) -> tuple[Endpoint, str, str, str] | None:
    """``(endpoint, namespace, action, item)`` of a path's segments, or ``None``."""
    match segments:
        case ["", "1", "content", namespace, "collection", action] if (
            namespace and action.lower() in _TRACK_ACTIONS
        ):
            return "track_action", namespace, action.lower(), ""
        case ["", "1", "content", namespace, "collection", "playlists", action] if (
            namespace and action.lower() in _PLAYLIST_EDITS
        ):
            return "playlist_edit", namespace, action.lower(), ""
        case ["", "1", "content", namespace, "collection", kind, "browse"] if (
            namespace and kind.lower() in _BROWSE_KINDS
        ):
            return "browse", namespace, kind.lower(), ""
        case ["", "1", "content", item, "lookup"] if _is_content_id(item):
            return "lookup", item.partition(".")[0], "", item
        case ["", "1", "content", item, "collection", "playlist", "tracks", "browse"] if (
            _is_content_id(item)
        ):
            return "playlist_tracks", item.partition(".")[0], "", item
        case ["", "1", "user", namespace, "profile"] if namespace:
            return "profile", namespace, "", ""
    return None


def _is_content_id(segment: str) -> bool:
    """Whether a path segment is a content ID, ``{namespace}.{id}`` (spec section 1)."""
    namespace, dot, rest = segment.partition(".")
    return bool(namespace and dot and rest)


def too_large() -> Reply:
    """The 413 for a body over :data:`MAX_BODY_BYTES`."""
    return _text(413, f"Maximum request body size {MAX_BODY_BYTES} exceeded.")


def _text(status: int, text: str, **headers: str) -> Reply:
    return Reply(status, {"Content-Type": _TEXT, **headers}, text.encode("utf-8"))
