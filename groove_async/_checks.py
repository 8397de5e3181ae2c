"""Argument checks of the public API: one clear ``TypeError``/``ValueError`` before any request."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable

__all__ = ["check_iterable", "check_seconds", "int_in_range"]


def check_seconds(name: str, value: object, *, allow_zero: bool) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != value  # NaN
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a number of seconds {bound}, got {value!r}")


def check_iterable(track_ids: object) -> None:
    if isinstance(track_ids, str | bytes | bytearray):
        raise TypeError(
            "track_ids must be an iterable of IDs, not a single string: wrap one ID in a list"
        )
    if not isinstance(track_ids, Iterable | AsyncIterable):
        raise TypeError(
            f"track_ids must be an iterable or async iterable of str, "
            f"not {type(track_ids).__name__}"
        )


def int_in_range(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value
