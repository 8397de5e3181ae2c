"""The library read back (spec 9.2): the profile, playlist lookups, and browses whose pages are
fetched concurrently under the client's limit and yielded in the service's order.

A browse is sized from a count the service gives (the profile's for the library, the lookup's
for a playlist): its pages are fetched at once, a window of them at a time, by offset (``page``),
then, should the count have been an underestimate, one after another until a page comes back
short. Every page request goes through the :class:`~groove_async._calls.Caller`, so the client's
concurrency bound, throttle gate, retries and token refresh apply.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Final, TypeVar

from ._calls import Caller
from ._library_wire import (
    MAX_PAGE_ITEMS,
    Page,
    Profile,
    browse_path,
    browse_playlist_id,
    lookup_path,
    playlist_tracks_path,
    read_lookup,
    read_page,
    read_playlist_tracks_page,
    read_profile,
)
from ._models import LibraryTrack, Playlist

__all__ = ["LibraryReader"]

_SOURCE: Final = {"source": "collection"}

T = TypeVar("T")


class LibraryReader:
    """Reads a user's library for one client.

    Args:
        caller: the client's single-request sender.
        namespace: the content namespace.
        window: the most pages in flight at once (the client's ``max_concurrency``).
    """

    def __init__(self, caller: Caller, namespace: str, window: int) -> None:
        self._caller = caller
        self._namespace = namespace
        self._window = max(1, window)

    async def profile(self) -> Profile:
        """The collection's state token and counts."""
        return read_profile(await self._caller.get(f"/1/user/{self._namespace}/profile"))

    async def lookup(self, playlist_id: str) -> tuple[Playlist, str | None]:
        """A playlist and the collection's state token."""
        path = lookup_path(browse_playlist_id(self._namespace, playlist_id))
        return read_lookup(await self._caller.get(path, _SOURCE), self._namespace)

    def collection_tracks(self) -> AsyncGenerator[LibraryTrack, None]:
        """The library's tracks, in the order added."""
        return self._browse(self._count("tracks"), self._page_reader("Tracks"), LibraryTrack)

    def playlists(self) -> AsyncGenerator[Playlist, None]:
        """The user's playlists, newest first."""
        return self._browse(self._count("playlists"), self._page_reader("Playlists"), Playlist)

    def playlist_tracks(self, playlist_id: str) -> AsyncGenerator[LibraryTrack, None]:
        """A playlist's entries, in playlist order."""
        browse_id = browse_playlist_id(self._namespace, playlist_id)

        async def count() -> int:
            playlist, _ = await self.lookup(browse_id)
            return playlist.track_count

        async def page(number: int) -> Page:
            body = await self._caller.get(playlist_tracks_path(browse_id), _query(number))
            return read_playlist_tracks_page(body, self._namespace)[1]

        return self._browse(count(), page, LibraryTrack)

    async def entries(self, playlist_id: str, start: int, stop: int) -> list[LibraryTrack]:
        """A playlist's entries from position ``start`` up to ``stop`` (read by page)."""
        browse_id = browse_playlist_id(self._namespace, playlist_id)
        first, last = start // MAX_PAGE_ITEMS, (stop - 1) // MAX_PAGE_ITEMS
        pages = await asyncio.gather(
            *(
                self._caller.get(playlist_tracks_path(browse_id), _query(number))
                for number in range(first, last + 1)
            )
        )
        tracks = [
            t for body in pages for t in read_playlist_tracks_page(body, self._namespace)[1].items
        ]
        offset = first * MAX_PAGE_ITEMS
        return tracks[start - offset : stop - offset]

    async def _count(self, kind: str) -> int:
        profile = await self.profile()
        return profile.track_count if kind == "tracks" else profile.playlist_count

    def _page_reader(self, kind: str) -> Callable[[int], Awaitable[Page]]:
        path = browse_path(self._namespace, kind.lower())

        async def page(number: int) -> Page:
            body = await self._caller.get(path, _query(number))
            return read_page(body, kind, self._namespace)

        return page

    async def _browse(
        self, count: Awaitable[int], page: Callable[[int], Awaitable[Page]], kind: type[T]
    ) -> AsyncGenerator[T, None]:
        """Every item of a paged browse, in order; pages fetched a window at a time."""
        expected = -(-(await count) // MAX_PAGE_ITEMS)  # pages the count calls for
        pending: deque[asyncio.Task[Page]] = deque()
        number = 0
        try:
            while True:
                while number < expected and len(pending) < self._window:
                    pending.append(asyncio.ensure_future(page(number)))
                    number += 1
                if not pending:  # past the count: read on until a page comes back short
                    pending.append(asyncio.ensure_future(page(number)))
                    number += 1
                    expected = number
                got = await pending.popleft()
                for item in got.items:
                    assert isinstance(item, kind)
                    yield item
                if len(got.items) < MAX_PAGE_ITEMS and number >= expected and not pending:
                    return
        finally:
            for task in pending:
                task.cancel()
            if pending:  # nothing left behind when the reader stops early or fails
                await asyncio.gather(*pending, return_exceptions=True)


def _query(page: int) -> dict[str, str]:
    return {"maxItems": str(MAX_PAGE_ITEMS), "page": str(page)}
