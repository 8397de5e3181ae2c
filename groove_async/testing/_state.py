"""What the emulated service stores: users, their collections, and the tokens that name them.

Each bearer token is one user with one collection (spec section 2), unless a token is added as
another name of a known user (a refreshed token). The tokens themselves are dict keys only:
logs and reprs show a label (``token#N``), never a token.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Final

from ._catalog import is_documented_track_id, normalise_id

__all__ = ["Accounts", "Token", "User", "catalog_predicate"]

MISSING_LABEL: Final = "missing"
UNKNOWN_LABEL: Final = "unknown"


class User:
    """One user's collection (spec section 3).

    Attributes:
        by_catalog: catalog ID (normalised) -> collection ID, in the order the tracks were added.
        by_collection: collection ID -> catalog ID, the way back (delete takes collection IDs).
        version: bumped by every request that changed the collection (the profile's ``Token``).
    """

    __slots__ = ("by_catalog", "by_collection", "version")

    def __init__(self) -> None:
        self.by_catalog: dict[str, str] = {}
        self.by_collection: dict[str, str] = {}
        self.version = 0

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
