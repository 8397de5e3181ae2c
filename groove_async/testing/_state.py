"""What the emulated service stores: users, their collections and playlists, and the tokens
that name them.

Each bearer token is one user with one collection (spec section 2), unless a token is added as
another name of a known user (a refreshed token). The tokens themselves are dict keys only:
logs and reprs show a label (``token#N``), never a token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from typing import Final

import attrs

from ._catalog import is_documented_track_id, normalise_id, playlist_browse_id, playlist_edit_id

__all__ = ["Accounts", "PlaylistState", "StoredPlaylist", "Token", "User", "catalog_predicate"]

MISSING_LABEL: Final = "missing"
UNKNOWN_LABEL: Final = "unknown"


@attrs.frozen
class StoredPlaylist:
    """One playlist as the server holds it (:meth:`FakeGrooveServer.playlists`), a snapshot.

    Attributes:
        id: the edit form of its ID, ``music.playlist.<lower-case guid>`` (spec section 9.1).
        browse_id: the browse form of the same ID, ``music.AQ...``.
        name: its name.
        is_published: whether it is published (``False`` unless an edit said otherwise).
        entries: ``(entry ID, catalog ID)`` per entry, in playlist order; the catalog ID is
            normalised (GUID upper-cased) as the service echoes it.
    """

    id: str
    browse_id: str
    name: str
    is_published: bool
    entries: tuple[tuple[str, str], ...]


class PlaylistState:
    """One playlist of a user (spec section 9.1): its GUID, name, flag and entries."""

    __slots__ = ("entries", "guid", "is_published", "name")

    def __init__(self, guid: uuid.UUID, name: str, is_published: bool) -> None:
        self.guid = guid
        self.name = name
        self.is_published = is_published
        #: ``(entry ID, catalog ID)`` per entry, in playlist order.
        self.entries: list[tuple[str, str]] = []

    def snapshot(self) -> StoredPlaylist:
        """A frozen copy, for tests."""
        return StoredPlaylist(
            id=playlist_edit_id(self.guid),
            browse_id=playlist_browse_id(self.guid),
            name=self.name,
            is_published=self.is_published,
            entries=tuple(self.entries),
        )


class User:
    """One user's collection (spec sections 3 and 9).

    Attributes:
        by_catalog: catalog ID (normalised) -> collection ID, in the order the tracks were added.
        by_collection: collection ID -> catalog ID, the way back (delete takes collection IDs).
        playlists: GUID -> playlist, in the order the playlists were created.
        version: bumped by every request that changed the collection, tracks or playlists;
            :attr:`state_token` spells it.
    """

    __slots__ = ("_listed", "by_catalog", "by_collection", "playlists", "version")

    def __init__(self) -> None:
        self.by_catalog: dict[str, str] = {}
        self.by_collection: dict[str, str] = {}
        self.playlists: dict[uuid.UUID, PlaylistState] = {}
        self.version = 0
        self._listed: tuple[int, list[tuple[str, str]]] = (0, [])

    def tracks(self) -> list[tuple[str, str]]:
        """``(catalog ID, collection ID)`` per track, in the order added: what the tracks
        browse pages through (spec section 9.2). The caller must not modify it."""
        version, listed = self._listed
        if version != self.version or len(listed) != len(self.by_catalog):
            listed = list(self.by_catalog.items())
            self._listed = (self.version, listed)
        return listed

    @property
    def state_token(self) -> str:
        """The ``CollectionStateToken`` (spec section 9.1): one opaque version string for the
        whole collection, changed by every committed edit that changed something."""
        return f"3.0.1.1.7.7.{self.version}"

    def owner(self, collection_id: str) -> str | None:
        """The catalog ID whose collection ID this is, or None when no track has it."""
        return self.by_collection.get(collection_id)

    def insert(self, catalog_id: str, collection_id: str) -> None:
        """Put a track in the collection under a new collection ID."""
        self.by_catalog[catalog_id] = collection_id
        self.by_collection[collection_id] = catalog_id

    def remove(self, collection_id: str) -> str | None:
        """Take a track out by its collection ID; returns its catalog ID (None: not there)."""
        catalog_id = self.by_collection.pop(collection_id, None)
        if catalog_id is not None:
            del self.by_catalog[catalog_id]
        return catalog_id


class Token:
    """What the server knows about one bearer token (the token itself is the dict key only)."""

    __slots__ = ("expired", "label", "user")

    def __init__(self, label: str, user: User) -> None:
        self.label = label
        self.user = user
        self.expired = False

    def __repr__(self) -> str:
        return f"<Token {self.label}{' expired' if self.expired else ''}>"


class Accounts:
    """The tokens a server accepts, each naming a user (spec section 2)."""

    def __init__(self, tokens: Iterable[str], *, user_class: type[User] = User) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens must be an iterable of token strings, not one string")
        self._user_class = user_class
        self._tokens: dict[str, Token] = {}
        for token in tokens:
            self.add(token)

    def __len__(self) -> int:
        return len(self._tokens)

    def add(self, token: str, *, same_user_as: str | None = None) -> None:
        """Accept a token (again, if it was expired); a new user unless ``same_user_as``.

        Raises:
            ValueError: the token is empty or holds whitespace.
            KeyError: ``same_user_as`` is not a known token.
        """
        if not isinstance(token, str) or not token or token != "".join(token.split()):
            raise ValueError("a token must be a non-empty string without whitespace")
        known = self._tokens.get(token)
        if known is not None:
            known.expired = False
            return
        user = self.lookup(same_user_as).user if same_user_as is not None else self._user_class()
        self._tokens[token] = Token(f"token#{len(self._tokens) + 1}", user)

    def lookup(self, token: str) -> Token:
        """The state of a known token.

        Raises:
            KeyError: the token is not known (the message does not show it: it could be logged).
        """
        state = self._tokens.get(token)
        if state is None:
            raise KeyError("unknown token (not one of the server's tokens)")
        return state

    def authenticate(self, authorization: list[str]) -> tuple[Token | None, str]:
        """Read the ``Authorization`` header lines of a request (spec section 2).

        Exactly one ``Bearer <token>`` line (scheme case-insensitive) naming a known token is
        accepted. Returns the token's state (``None`` when refused) and its label for the
        request log: the token's own, ``"missing"`` without the header, else ``"unknown"``.
        """
        if not authorization:
            return None, MISSING_LABEL
        if len(authorization) != 1:  # spec section 2: exactly one token is sent
            return None, UNKNOWN_LABEL
        scheme, _, token = authorization[0].partition(" ")
        state = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if state is None:
            return None, UNKNOWN_LABEL
        return state, state.label


def catalog_predicate(
    catalog: Callable[[str], bool] | Collection[str] | None,
) -> Callable[[str], bool]:
    """Turn a server's ``catalog`` argument into ``normalised ID -> exists``.

    ``None`` is the documented track shape (spec section 7); a collection is exactly those IDs
    (GUIDs compared case-insensitively); a callable is asked.
    """
    if catalog is None:
        return is_documented_track_id
    if isinstance(catalog, str):
        raise TypeError("catalog must be a collection of IDs or a callable, not one string")
    if callable(catalog):
        return catalog
    known = frozenset(normalise_id(item) for item in catalog)
    return known.__contains__
