"""The public surface as users write it: CI type-checks this file with ``mypy --strict``.

Nothing here runs in the test suite (``tests/test_public_surface.py`` runs the same shapes);
the point is that documented usage type-checks, e.g. closing a stream with ``aclosing``.
"""

from __future__ import annotations

from contextlib import aclosing

from groove_async import (
    BulkResult,
    EventCallback,
    GrooveClient,
    ProgressEvent,
    TokenProvider,
    TrackResult,
)


async def first_results(groove: GrooveClient, ids: list[str], n: int) -> list[TrackResult]:
    taken: list[TrackResult] = []
    async with aclosing(groove.stream_add_tracks(ids)) as results:
        async for item in results:
            taken.append(item)
            if len(taken) == n:
                break
    return taken


async def rejected_codes(groove: GrooveClient, ids: list[str]) -> list[str]:
    result: BulkResult = await groove.add_tracks(ids)
    return [item.error.code for item in result.rejected if item.error is not None]


def client_with_provider(provider: TokenProvider, on_event: EventCallback) -> GrooveClient:
    return GrooveClient(provider, on_event=on_event)


def print_events(event: ProgressEvent) -> None:
    print(event)
