"""Resuming ``playlist create``: what the playlist holds that its journal does not say yet.

A playlist Add is not idempotent (spec 9.1): sending again a chunk that the service committed
before the earlier run died (its answer lost with the process, or its results not yet on disk)
would add its tracks twice. So before sending anything, a resumed run reads the playlist back
and holds it against the journal:

* the playlist must begin with the entries the journal recorded, entry ID for entry ID;
  anything else means someone else edited it, and nothing is sent;
* the entries after those are what the earlier run had in flight: they are matched, in order,
  against the next unfinished inputs of the file (an entry's catalog ID against the input with
  its GUID upper-cased) and recorded as SUCCEEDED, never sent again. An input passed over
  before the last match was in that same chunk and refused by the service (its reason lost
  with the answer): it is recorded REJECTED, ``NOT_ADDED``. One chunk at most was in flight
  (each chunk's results reach the journal before the next is sent), so the matches must lie
  within the next :data:`~groove_async.PLAYLIST_CHUNK` unfinished inputs; entries that match
  no such input are someone else's: nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from groove_async import PLAYLIST_CHUNK, GrooveClient, HTTPStatusError, LibraryTrack, normalise_id

from .inputs import _FileSource, _Input, _Inputs
from .journal import JournalRecord

_encode: Final = json.JSONEncoder(ensure_ascii=False).encode

NOT_ADDED: Final = "NOT_ADDED"
"""The code of an input of the chunk in flight at a crash that the playlist does not hold."""
_NOT_ADDED_DESCRIPTION: Final = (
    "The chunk in flight when an earlier run ended was added without this track; the "
    "service's reason was lost with its answer"
)
_NOT_FOUND: Final = 404


class _Conflict(Exception):
    """The playlist is not what the journal says: someone else edited or deleted it."""


async def _reconcile(
    client: GrooveClient,
    playlist_id: str,
    finished: dict[int, JournalRecord],
    input_path: str,
) -> list[JournalRecord]:
    """The records of the inputs the playlist holds but the journal does not record.

    Args:
        client: the open client.
        playlist_id: the playlist of the journal.
        finished: the journal's finished positions.
        input_path: the input file, read again from its start.

    Raises:
        _Conflict: the playlist was deleted, or holds what neither the journal nor the next
            inputs account for.
        BatchError: the playlist could not be read back.
    """
    try:
        entries = [entry async for entry in client.iter_playlist_tracks(playlist_id)]
    except HTTPStatusError as exc:
        if exc.status == _NOT_FOUND:
            raise _Conflict(
                f"the playlist {playlist_id} of the journal no longer exists; delete the "
                "journal to start over with a new playlist"
            ) from None
        raise
    recorded = [r for _, r in sorted(finished.items()) if r.outcome == "SUCCEEDED"]
    if len(entries) < len(recorded) or any(
        entry.id != record.id for entry, record in zip(entries, recorded, strict=False)
    ):
        raise _Conflict(
            f"the playlist {playlist_id} no longer begins with the {len(recorded):,} entries "
            f"the journal recorded (it holds {len(entries):,}): someone else edited it; "
            "nothing was sent"
        )
    extra = entries[len(recorded) :]
    if not extra:
        return []
    return await _match(extra, finished, input_path, playlist_id)


async def _match(
    extra: Sequence[LibraryTrack],
    finished: dict[int, JournalRecord],
    input_path: str,
    playlist_id: str,
) -> list[JournalRecord]:
    """Match ``extra``, in order, against the next unfinished valid inputs of the file."""
    found: list[JournalRecord] = []
    passed: list[_Input] = []  # inputs passed over since the last match
    matched = 0
    source = _FileSource(input_path)
    try:
        async for item in _Inputs(source):
            if item.position in finished or item.problem is not None:
                continue
            if matched + len(passed) == PLAYLIST_CHUNK:  # one chunk at most was in flight
                break
            entry = extra[matched]
            if normalise_id(item.track_id) != entry.catalog_id:
                passed.append(item)
                continue
            found.extend(_not_added(skipped) for skipped in passed)
            passed.clear()
            found.append(_added(item, entry))
            matched += 1
            if matched == len(extra):
                return found
    finally:
        source.close()
    raise _Conflict(
        f"the playlist {playlist_id} holds {len(extra):,} entries after those the journal "
        f"recorded, of which {len(extra) - matched:,} are not the next tracks of "
        f"{input_path}: someone else edited it; nothing was sent"
    )


def _added(item: _Input, entry: LibraryTrack) -> JournalRecord:
    result = {"input_id": item.track_id, "id": entry.id, "outcome": "SUCCEEDED", "error": None}
    return JournalRecord(item.position, item.track_id, "SUCCEEDED", _encode(result), None, entry.id)


def _not_added(item: _Input) -> JournalRecord:
    error = {"code": NOT_ADDED, "description": _NOT_ADDED_DESCRIPTION, "message": None}
    result = {"input_id": item.track_id, "id": None, "outcome": "REJECTED", "error": error}
    return JournalRecord(item.position, item.track_id, "REJECTED", _encode(result), NOT_ADDED)
