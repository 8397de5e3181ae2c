"""The files ``export --playlists DIR`` writes: safe, unique names, and what a line holds.

A playlist's name may hold anything the service takes (slashes, quotes, control characters,
dots, 256 characters) and two playlists may share one, so each gets a file name of its own:
:func:`_file_names`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Final

from groove_async import LibraryTrack

from .output import PART

_encode: Final = json.JSONEncoder(ensure_ascii=False).encode

INDEX: Final = "index.jsonl"
"""The index of ``export --playlists DIR``: one line per playlist file."""

_UNSAFE: Final = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
"""Characters no file name should hold on any system: controls, Windows' reserved, slashes."""
_RESERVED: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
"""Names Windows keeps for devices, whatever their extension."""
_MAX_STEM_BYTES: Final = 180
"""The longest stem, in UTF-8 bytes: with a ``(N)`` and a suffix, under any system's 255."""


def _safe_stem(name: str) -> str:
    """``name`` as a file name's stem: the unsafe characters as ``_``, runs of white space as one
    space, no dot or space at either end, at most :data:`_MAX_STEM_BYTES` bytes, never empty or
    a device name of Windows."""
    stem = _UNSAFE.sub("_", " ".join(unicodedata.normalize("NFC", name).split()))
    stem = stem.strip(" .")
    encoded = stem.encode("utf-8")
    if len(encoded) > _MAX_STEM_BYTES:
        stem = encoded[:_MAX_STEM_BYTES].decode("utf-8", "ignore").rstrip(" .")
    if not stem:
        return "playlist"
    if stem.split(".")[0].upper() in _RESERVED:
        return f"_{stem}"
    return stem


def _file_names(names: Sequence[str], suffix: str, taken: Iterable[str] = ()) -> list[str]:
    """A file name for each of ``names``, in order: its safe stem and ``suffix``, unique even
    where the file system ignores case (the later of two alike gets `` (2)``, `` (3)``...).

    Args:
        names: the playlists' names.
        suffix: ``.txt`` or ``.jsonl``.
        taken: file names already used in the directory (the index, the library's output).
    """
    used = {_key(name) for name in (INDEX, *taken)}
    files: list[str] = []
    for name in names:
        stem = _safe_stem(name)
        candidate, number = f"{stem}{suffix}", 2
        # Its .part (written first, then renamed) must not be a taken name either.
        while _key(candidate) in used or _key(candidate + PART) in used:
            candidate, number = f"{stem} ({number}){suffix}", number + 1
        used.add(_key(candidate))
        files.append(candidate)
    return files


def _key(file_name: str) -> str:
    """What two file names that are one file on a case-insensitive system have in common."""
    return unicodedata.normalize("NFC", file_name).casefold()


def _track_line(track: LibraryTrack, form: str) -> str | None:
    """A track as a line of ``--format`` ``form``; ``None`` when ``ids`` has nothing to write."""
    if form == "ids":
        return track.catalog_id
    return _encode({"id": track.id, "catalog_id": track.catalog_id, "name": track.name})


def _index_line(**fields: Any) -> str:
    return _encode(fields)
