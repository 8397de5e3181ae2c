"""Test-only helpers of the wire and of batching, moved out of the library (issue 20).

* :func:`strict_converter`: the converter of every wire type that refuses unknown members, so
  that schema drift fails the tests (production ignores them).
* :func:`plan_batches`: plan a whole list at once through :class:`BatchPlanner`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cattrs

from groove_async._batching import MAX_BATCH_SIZE, BatchPlanner, Segment
from groove_async._wire import make_converter

__all__ = ["plan_batches", "reference_converter", "strict_converter"]


@functools.cache
def strict_converter() -> cattrs.Converter:
    """The converter that refuses unknown members (generated hooks only)."""
    return make_converter(forbid_extra_keys=True)


@functools.cache
def reference_converter() -> cattrs.Converter:
    """The production converter without its hand-tuned TrackActionResponse hook: what the hot
    hook must decode exactly like."""
    return make_converter(forbid_extra_keys=False)


def plan_batches(track_ids: Sequence[str], batch_size: int = MAX_BATCH_SIZE) -> list[Segment]:
    """Plan a whole list at once (a convenience over :class:`BatchPlanner`)."""
    planner = BatchPlanner(batch_size)
    segments = [s for s in map(planner.feed, track_ids) if s is not None]
    last = planner.flush()
    if last is not None:
        segments.append(last)
    return segments
