"""Grouping a cProfile's own times by where they were spent (shared by the two profilers)."""

from __future__ import annotations

import pstats
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Groups = Sequence[tuple[str, str]]  # (needle, group name)


def group_profile(
    prof_path: str, files: Groups, builtins: Groups, *, other_builtins: str
) -> tuple[dict[Any, Any], float, dict[str, float]]:
    """(pstats' raw table, total own time, own time per group) of a profile.

    A function is put in the first group whose needle occurs in ``file:function``; a built-in in
    the first group whose needle occurs in its name, else in its biggest caller's group.
    """

    def group(key: tuple[str, int, str], callers: dict[Any, Any]) -> str:
        filename, _, name = key
        if filename == "~":  # a built-in: its name says what it is
            for needle, found in builtins:
                if needle in name:
                    return found
            if callers:  # otherwise charge it to the group of its biggest caller
                top = max(callers.items(), key=lambda kv: kv[1][2])[0]
                if top[0] != "~":
                    return group(top, {})
            return other_builtins
        probe = f"{filename}:{name}"
        for needle, found in files:
            if needle in probe:
                return found
        return "other (" + Path(filename).name + ")"

    raw = pstats.Stats(prof_path).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())  # tottime
    groups: dict[str, float] = defaultdict(float)
    for key, (_cc, _nc, tt, _ct, callers) in raw.items():
        groups[group(key, callers)] += tt
    return raw, total, groups
