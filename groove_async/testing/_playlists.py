"""Playlist edits (spec section 9.1): ``POST /1/content/music/collection/playlists/{verb}``.

The verb is ``create``, ``update`` or ``delete`` (matched case-insensitively, as the action of
``collection/add``). The body is a PlaylistAction, JSON or XML (spec section 6)::

    {"Id": "music.playlist.<guid>", "CollectionStateToken": "...", "Name": "...",
     "IsPublished": false, "TrackActions": [{"Id": "...", "Action": "Add"}, ...]}

The rules, in the order they are checked (every refusal applies nothing):

1. The body must be a PlaylistAction whose members have their types (``Id``,
   ``CollectionStateToken`` and ``Name`` strings, ``IsPublished`` a bool, ``TrackActions`` a
   list of ``{"Id": string, "Action": "Add"|"Delete"}``, the action case-insensitive; a ``null``
   member is an absent one; unknown members are ignored): else 400 ``INVALID_INPUT_PARAMETER``.
   An empty body is an empty PlaylistAction. ``Move`` is out of scope (spec 9.1) and refused so.
2. ``update`` and ``delete`` need ``Id``; ``create`` needs ``Name``; a ``Name`` (create, update)
   holds 1 to 256 characters: else 400 ``COLLECTION_INVALID_PLAYLIST_INFO``.
3. More than 100 track actions (create, update): 400 ``COLLECTION_INVALID_OPERATION``
   "Number of tracks for this operation is limited to 100".
4. ``update`` and ``delete``: an ``Id`` of either form (:func:`~._catalog.parse_playlist_id`)
   that names none of the user's playlists (or names nothing): 404 ``COLLECTION_NO_RESULT``.
5. A ``CollectionStateToken`` other than the collection's current one: 409
   ``COLLECTION_CONCURRENT_UPDATE``. Without a token nothing is checked.
6. ``create`` when the user has 100 playlists: 400 ``COLLECTION_FULL``; ``create`` and
   ``update`` that would leave more than 1,000 entries: 400 ``COLLECTION_PLAYLIST_FULL``.

Then the edit commits at once, every valid action with it (*inferred*, spec 9.1). ``Add`` takes
a catalog ID (the catalog rules of ``collection/add``: an unknown one fails with
``COLLECTION_INVALID_ID``; the track need not be in the library) and **appends** a new entry
with a newly minted entry ID (the 25-byte layout of collection IDs), duplicates included.
``Delete`` takes an entry ID of the playlist (another fails with ``COLLECTION_INVALID_ID``).
Actions apply in request order. ``delete`` uses ``Id`` and ``CollectionStateToken`` only
(its other members are still held to rule 1, and neither echoed nor applied).

The 200 answer is ``{"PlaylistActionResult": {"Id": "music.playlist.<lower-case guid>",
"Name"?, "IsPublished"?, "TrackActionResults"?}, "Error"?}``: ``Name`` and ``IsPublished``
echoed when sent (create, update), ``TrackActionResults`` when actions were sent, one per
action in request order (Add ``{"InputId", "Id"}``, Delete ``{"InputId"}``, failure
``{"InputId", "Error"}``; ``InputId`` normalised as by ``collection/add``), and the top-level
``COLLECTION_SOME_OPERATIONS_FAILED`` when any action failed, still HTTP 200.

An edit that changed the collection (a new or deleted playlist, a new name or flag, an entry
added or deleted) changes the ``CollectionStateToken``; one that changed nothing (the same
name again, only failed actions) does not.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from ._bodies import MAX_PLAYLIST_ENTRIES, MAX_PLAYLISTS, ErrorBodies
from ._catalog import (
    mint_collection_id,
    mint_playlist_guid,
    normalise_id,
    parse_playlist_id,
    playlist_edit_id,
)
from ._state import PlaylistState, User

__all__ = ["MAX_NAME_LENGTH", "MAX_TRACK_ACTIONS", "PlaylistAction", "PlaylistEditor", "action_ids"]

MAX_TRACK_ACTIONS: Final = 100
"""Track actions allowed in one PlaylistAction (spec section 9.1)."""

MAX_NAME_LENGTH: Final = 256
"""The longest playlist name (spec section 9.1)."""

_VERBS: Final = frozenset({"add", "delete"})
# The members checked for their type, and the type each must have.
_TYPED_MEMBERS: Final[tuple[tuple[str, type, str], ...]] = (
    ("Id", str, "a string"),
    ("CollectionStateToken", str, "a string"),
    ("Name", str, "a string"),
    ("IsPublished", bool, "true or false"),
)

# What an edit answers: the status and the body.
_Answer = tuple[int, Mapping[str, Any]]


@attrs.frozen
class PlaylistAction:
    """A PlaylistAction whose members have their types (rule 1 of the module's docstring).

    Attributes:
        playlist_id: ``Id`` as sent, either form.
        state_token: ``CollectionStateToken``.
        name: ``Name``.
        is_published: ``IsPublished``.
        actions: ``(verb, ID)`` per track action, in request order; the verb lower-cased.
    """

    playlist_id: str | None
    state_token: str | None
    name: str | None
    is_published: bool | None
    actions: tuple[tuple[str, str], ...]


def action_ids(data: Mapping[str, Any] | None) -> list[str] | None:
    """The IDs of a PlaylistAction's track actions, for the request log (those readable)."""
    if data is None:
        return None
    actions = data.get("TrackActions")
    if type(actions) is not list:
        return []
    return [item["Id"] for item in actions if type(item) is dict and type(item.get("Id")) is str]


def read_action(data: Mapping[str, Any]) -> PlaylistAction | str:
    """Check the members' types: the action, or the message of the 400 that refuses it."""
    for member, kind, spelt in _TYPED_MEMBERS:
        value = data.get(member)
        if value is not None and type(value) is not kind:
            return f"{member} must be {spelt}"
    actions = _track_actions(data.get("TrackActions"))
    if isinstance(actions, str):
        return actions
    return PlaylistAction(
        data.get("Id"),
        data.get("CollectionStateToken"),
        data.get("Name"),
        data.get("IsPublished"),
        actions,
    )


def _track_actions(raw: object) -> tuple[tuple[str, str], ...] | str:
    if raw is None:
        return ()
    if type(raw) is not list:
        return "TrackActions must be a list of {Id, Action} objects"
    actions: list[tuple[str, str]] = []
    for index, item in enumerate(raw):
        if type(item) is not dict:
            return f"TrackActions[{index}] must be an object"
        track_id, verb = item.get("Id"), item.get("Action")
        if type(track_id) is not str:
            return f"TrackActions[{index}].Id must be a string"
        if type(verb) is not str or verb.lower() not in _VERBS:
            return f"TrackActions[{index}].Action must be Add or Delete"
        actions.append((verb.lower(), track_id))
    return tuple(actions)


class PlaylistEditor:
    """Applies PlaylistActions to users' playlists (see the module's docstring).

    Args:
        rng: the server's seeded generator, which mints the GUIDs and entry IDs.
        in_catalog: normalised catalog ID -> whether it exists.
        bodies: the server's error bodies.
    """

    def __init__(
        self, rng: random.Random, in_catalog: Callable[[str], bool], bodies: ErrorBodies
    ) -> None:
        self._rng = rng
        self._in_catalog = in_catalog
        self._bodies = bodies

    def edit(self, user: User, verb: str, data: Mapping[str, Any]) -> _Answer:
        """Apply one PlaylistAction (``verb``: ``create``, ``update`` or ``delete``)."""
        action = read_action(data)
        if isinstance(action, str):
            return 400, self._bodies.invalid_input(action)
        refusal = self._invalid(verb, action)
        if refusal is not None:
            return 400, refusal
        if verb == "create":
            return self._create(user, action)
        guid = parse_playlist_id(action.playlist_id or "")
        playlist = user.playlists.get(guid) if guid is not None else None
        if playlist is None:
            return 404, self._bodies.no_playlist
        if _stale(user, action):
            return 409, self._bodies.stale_state
        if verb == "delete":
            del user.playlists[playlist.guid]
            user.version += 1
            return 200, {"PlaylistActionResult": {"Id": playlist_edit_id(playlist.guid)}}
        return self._update(user, playlist, action)

    def _invalid(self, verb: str, action: PlaylistAction) -> Mapping[str, Any] | None:
        """Rules 2 and 3: the refusal's body, or ``None``."""
        bodies = self._bodies
        if verb != "create" and action.playlist_id is None:
            return bodies.invalid_playlist_info(f"Id is required to {verb} a playlist")
        if verb == "delete":
            return None
        if verb == "create" and action.name is None:
            return bodies.invalid_playlist_info("Name is required to create a playlist")
        if action.name is not None and not 1 <= len(action.name) <= MAX_NAME_LENGTH:
            return bodies.invalid_playlist_info(f"Name must hold 1 to {MAX_NAME_LENGTH} characters")
        if len(action.actions) > MAX_TRACK_ACTIONS:
            return bodies.too_many
        return None

    def _create(self, user: User, action: PlaylistAction) -> _Answer:
        if _stale(user, action):
            return 409, self._bodies.stale_state
        if len(user.playlists) >= MAX_PLAYLISTS:
            return 400, self._bodies.too_many_playlists
        guid = mint_playlist_guid(self._rng)
        while guid in user.playlists:  # 112 random bits: never, but be exact
            guid = mint_playlist_guid(self._rng)
        assert action.name is not None  # rule 2
        playlist = PlaylistState(guid, action.name, bool(action.is_published))
        # At most 100 actions: a new playlist cannot overflow.
        playlist.entries, results, failed = self._apply([], action.actions)
        user.playlists[guid] = playlist
        user.version += 1
        return 200, self._answer(guid, action, results, failed)

    def _update(self, user: User, playlist: PlaylistState, action: PlaylistAction) -> _Answer:
        entries, results, failed = self._apply(list(playlist.entries), action.actions)
        if len(entries) > MAX_PLAYLIST_ENTRIES:
            return 400, self._bodies.playlist_full
        name = action.name if action.name is not None else playlist.name
        published = action.is_published
        if published is None:
            published = playlist.is_published
        changed = (entries, name, published) != (
            playlist.entries,
            playlist.name,
            playlist.is_published,
        )
        playlist.entries, playlist.name, playlist.is_published = entries, name, published
        if changed:
            user.version += 1
        return 200, self._answer(playlist.guid, action, results, failed)

    def _apply(
        self, entries: list[tuple[str, str]], actions: tuple[tuple[str, str], ...]
    ) -> tuple[list[tuple[str, str]], list[dict[str, Any]], bool]:
        """Apply the track actions to a copy of the entries, in order: the entries after, one
        result per action, and whether any failed."""
        taken = {entry_id for entry_id, _ in entries}
        results: list[dict[str, Any]] = []
        failed = False
        for verb, raw in actions:
            input_id = normalise_id(raw)
            if verb == "add":
                result = self._add(entries, taken, input_id)
            else:
                result = self._delete(entries, input_id)
            failed = failed or "Error" in result
            results.append(result)
        return entries, results, failed

    def _add(
        self, entries: list[tuple[str, str]], taken: set[str], input_id: str
    ) -> dict[str, Any]:
        if not self._in_catalog(input_id):
            return {"InputId": input_id, "Error": self._bodies.item_invalid_add}
        entry_id = mint_collection_id(self._rng, input_id)
        while entry_id in taken:  # 128 random bits: never, but be exact
            entry_id = mint_collection_id(self._rng, input_id)
        taken.add(entry_id)
        entries.append((entry_id, input_id))
        return {"InputId": input_id, "Id": entry_id}

    def _delete(self, entries: list[tuple[str, str]], input_id: str) -> dict[str, Any]:
        for index, (entry_id, _) in enumerate(entries):
            if entry_id == input_id:
                del entries[index]
                return {"InputId": input_id}
        return {"InputId": input_id, "Error": self._bodies.item_invalid_delete}

    def _answer(
        self,
        guid: uuid.UUID,
        action: PlaylistAction,
        results: list[dict[str, Any]],
        failed: bool,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"Id": playlist_edit_id(guid)}
        if action.name is not None:
            result["Name"] = action.name
        if action.is_published is not None:
            result["IsPublished"] = action.is_published
        if action.actions:
            result["TrackActionResults"] = results
        answer: dict[str, Any] = {"PlaylistActionResult": result}
        if failed:
            answer["Error"] = self._bodies.some_failed
        return answer


def _stale(user: User, action: PlaylistAction) -> bool:
    """Rule 5: a token was sent and it is not the collection's current one."""
    return action.state_token is not None and action.state_token != user.state_token
