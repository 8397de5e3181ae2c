"""The library read back (spec 9.2): the profile, playlist lookups, and browses whose pages are
fetched concurrently under the client's limit and yielded in the service's order.

A browse is sized from a count the service gives (the profile's for the library, the lookup's
for a playlist): its pages are fetched at once, a window of them at a time, by offset (``page``),
then, should the count have been an underestimate, one after another until a page comes back
short. Every page request goes through the caller, so the client's concurrency bound, throttle
gate, retries and token refresh apply.

A read never trusts the server to end it (see :class:`_Bound`): it is bounded by what the
contract allows (spec 9.1: 100 playlists, 1,000 entries per playlist; the library: the
profile's track count plus its remaining track count, the collection's capacity, and at least
:data:`LIBRARY_MARGIN` more), an empty page ends it (the pages in flight are cancelled), an item
already read is not yielded again (the service's pages are offsets: a collection changing
meanwhile shifts them), and a page bringing nothing new, a page larger than asked for, or more
items or pages than the bound ends it with a :class:`~groove_async.DecodeError` saying why.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Final, Protocol, TypeVar

from ._errors import DecodeError
from ._library_wire import (
    MAX_PAGE_ITEMS,
    Page,
    Profile,
    Redact,
    browse_playlist_id,
    read_lookup,
    read_playlist_tracks_page,
    read_playlists_page,
    read_profile,
    read_tracks_page,
)
from ._models import LibraryTrack, Playlist
from ._routes import LOOKUP_QUERY, browse_path, lookup_path, playlist_tracks_path, profile_path

__all__ = ["LIBRARY_MARGIN", "MAX_PLAYLISTS", "MAX_PLAYLIST_ENTRIES", "Getter", "LibraryReader"]

#: The most playlists a user has (spec 9.1).
MAX_PLAYLISTS: Final = 100
#: The most entries a playlist holds (spec 9.1).
MAX_PLAYLIST_ENTRIES: Final = 1_000
#: Tracks a library read takes beyond the profile's track count at the least (a collection
#: growing during the read), when the profile's remaining track count allows fewer.
LIBRARY_MARGIN: Final = 1_000


T = TypeVar("T", LibraryTrack, Playlist)


class Getter(Protocol):
    """What the reader sends its GETs through (the client's caller)."""

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> bytes:
        """The body of the 200 to a GET of ``path`` (raw tokens already scrubbed).

        Raises:
            BatchError: the read failed for good.
        """
        ...


class LibraryReader:
    """Reads a user's library for one client.

    Args:
        caller: the client's single-request sender.
        namespace: the content namespace.
        window: the most pages in flight at once (the client's ``max_concurrency``).
        redact: the token source's redaction, applied to every decoded string (a token
            reflected in an escaped spelling is not in the raw bytes).
    """

    def __init__(self, caller: Getter, namespace: str, window: int, *, redact: Redact) -> None:
        self._caller = caller
        self._namespace = namespace
        self._window = max(1, window)
        self._redact = redact

    async def profile(self) -> Profile:
        """The collection's state token and counts."""
        return read_profile(await self._caller.get(profile_path(self._namespace)))

    async def lookup(self, playlist_id: str) -> tuple[Playlist, str | None]:
        """A playlist and the collection's state token."""
        path = lookup_path(browse_playlist_id(self._namespace, playlist_id))
        return read_lookup(await self._caller.get(path, LOOKUP_QUERY), self._redact)

    def collection_tracks(self) -> AsyncGenerator[LibraryTrack, None]:
        """The library's tracks, in the order added."""
        path = browse_path(self._namespace, "tracks")

        async def sized() -> _Bound:
            profile = await self.profile()
            limit = profile.track_count + max(profile.remaining_track_count, LIBRARY_MARGIN)
            return _Bound("the library", limit, profile.track_count)

        async def page(number: int) -> Page[LibraryTrack]:
            body = await self._caller.get(path, _query(number))
            return read_tracks_page(body, self._namespace, self._redact)

        return self._browse(sized(), page)

    def playlists(self) -> AsyncGenerator[Playlist, None]:
        """The user's playlists, newest first."""
        path = browse_path(self._namespace, "playlists")

        async def sized() -> _Bound:
            count = (await self.profile()).playlist_count
            return _Bound("the playlists", MAX_PLAYLISTS, count)

        async def page(number: int) -> Page[Playlist]:
            return read_playlists_page(await self._caller.get(path, _query(number)), self._redact)

        return self._browse(sized(), page)

    def playlist_tracks(self, playlist_id: str) -> AsyncGenerator[LibraryTrack, None]:
        """A playlist's entries, in playlist order."""
        browse_id = browse_playlist_id(self._namespace, playlist_id)

        async def sized() -> _Bound:
            playlist, _ = await self.lookup(browse_id)
            return _Bound(f"the playlist {browse_id}", MAX_PLAYLIST_ENTRIES, playlist.track_count)

        async def page(number: int) -> Page[LibraryTrack]:
            return await self._entries_page(browse_id, number)

        return self._browse(sized(), page)

    async def entries(self, playlist_id: str, start: int, stop: int) -> list[LibraryTrack]:
        """A playlist's entries from position ``start`` up to ``stop`` (read by page).

        Raises:
            DecodeError: ``stop`` is past what a playlist can hold (a count the server lied
                about), or the pages do not hold the entries asked for.
        """
        if start >= stop:
            return []
        if start < 0 or stop > MAX_PLAYLIST_ENTRIES:
            raise DecodeError(
                f"entries {start} to {stop} asked of a playlist, which holds at most "
                f"{MAX_PLAYLIST_ENTRIES}: the server's count cannot be right"
            )
        browse_id = browse_playlist_id(self._namespace, playlist_id)
        first, last = start // MAX_PAGE_ITEMS, (stop - 1) // MAX_PAGE_ITEMS
        pages = await asyncio.gather(
            *(self._entries_page(browse_id, number) for number in range(first, last + 1))
        )
        for page in pages:
            _check_size(page, f"the playlist {browse_id}")
        tracks = [track for page in pages for track in page.items]
        offset = first * MAX_PAGE_ITEMS
        return tracks[start - offset : stop - offset]

    async def _entries_page(self, browse_id: str, number: int) -> Page[LibraryTrack]:
        body = await self._caller.get(playlist_tracks_path(browse_id), _query(number))
        return read_playlist_tracks_page(body, self._namespace, self._redact)[1]

    async def _browse(
        self, sized: Awaitable[_Bound], page: Callable[[int], Awaitable[Page[T]]]
    ) -> AsyncGenerator[T, None]:
        """Every item of a paged browse, in order, each once; pages fetched a window at a
        time, ended by an empty page or a short one past the count, and by the bound."""
        bound = await sized
        expected = bound.expected_pages()
        pending: deque[asyncio.Task[Page[T]]] = deque()
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
                for item in bound.take(number - len(pending) - 1, got):
                    yield item
                if not got.items or (len(got.items) < MAX_PAGE_ITEMS and number >= expected):
                    return  # the end (an empty page ends it even before the count)
        finally:
            for task in pending:
                task.cancel()
            if pending:  # nothing left behind when the reader stops early or fails
                await asyncio.gather(*pending, return_exceptions=True)


class _Bound:
    """What one read may take: at most ``limit`` distinct items (``what`` names the read in
    its errors), each page bringing something new, in at most about twice the pages the limit
    needs."""

    def __init__(self, what: str, limit: int, count: int) -> None:
        self._what = what
        self._limit = limit
        self._count = min(count, limit)  # a count past the bound sizes no more pages
        self._max_pages = 2 * -(-limit // MAX_PAGE_ITEMS) + 2
        self._seen: set[str] = set()
        self._pages = 0

    def expected_pages(self) -> int:
        """The pages the count calls for (fetched concurrently)."""
        return -(-self._count // MAX_PAGE_ITEMS)

    def take(self, number: int, page: Page[T]) -> list[T]:
        """The items of page ``number`` not read before.

        Raises:
            DecodeError: the page is larger than asked for or brings nothing new, or the read
                went past its bound.
        """
        self._pages += 1
        _check_size(page, self._what)
        fresh = []
        for item in page.items:
            if item.id not in self._seen:
                self._seen.add(item.id)
                fresh.append(item)
        if page.items and not fresh:
            raise DecodeError(
                f"page {number} of {self._what} holds only items already read: the server "
                "repeats itself (does it ignore the page asked for?)"
            )
        if len(self._seen) > self._limit or self._pages > self._max_pages:
            raise DecodeError(
                f"{self._what} went on past {self._limit} items in {self._pages} pages, more "
                "than the service can hold: the server does not end its pages"
            )
        return fresh


def _check_size(page: Page[T], what: str) -> None:
    if len(page.items) > MAX_PAGE_ITEMS:
        raise DecodeError(
            f"a page of {what} holds {len(page.items)} items where at most {MAX_PAGE_ITEMS} "
            "were asked for"
        )


def _query(page: int) -> dict[str, str]:
    return {"maxItems": str(MAX_PAGE_ITEMS), "page": str(page)}
