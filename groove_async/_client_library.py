"""The public methods of :class:`~groove_async.GrooveClient` for playlists and the library read
back (spec section 9): argument checks here, the work in :mod:`groove_async._playlists` and
:mod:`groove_async._library`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable

from ._checks import check_iterable
from ._ids import IdValidator
from ._library import LibraryReader
from ._models import BulkResult, LibraryTrack, Playlist, PlaylistResult
from ._operation import Operation, read_all
from ._playlists import MAX_PLAYLIST_NAME_LENGTH, PLAYLIST_CHUNK, PlaylistEditor, check_marker

__all__ = ["LibraryMethods"]


class LibraryMethods:
    """Playlists and the library read back; mixed into :class:`~groove_async.GrooveClient`."""

    _editor: PlaylistEditor
    _reader: LibraryReader
    _validator: IdValidator
    _namespace: str
    _check_open: Callable[[], None]

    async def create_playlist(
        self,
        name: str,
        track_ids: Iterable[str] | AsyncIterable[str] = (),
        *,
        published: bool = False,
        marker: str | None = None,
    ) -> PlaylistResult:
        """Create a playlist holding ``track_ids`` in order, each exactly once.

        Any number of tracks (chunks of 100 go one after another); repeats in the input are
        kept. After a failure whose outcome is unknown the client reads the playlist back
        before going on, so nothing is added twice, and while the playlist is being created it
        carries a provisional name (``name`` and a random marker) so that a lost answer cannot
        make two playlists. A failure once the playlist exists names it
        (:attr:`PlaylistEditError.playlist_id`) with one result per track, so that the rest can
        be appended to it with :meth:`add_to_playlist`.

        Args:
            name: 1 to 256 characters.
            track_ids: catalog IDs (``music.<GUID>``), read and checked before any request.
            published: whether the playlist is published.
            marker: 1 to 32 lower-case letters and digits naming this creation, for a caller
                that records it before the call (a journal): the playlist carries
                ``name [groove-async <marker>]`` until it is named, and a later call with the
                same marker takes over a playlist a crash left under that name instead of
                making another. ``None``: a random marker.

        Returns:
            The playlist's ID and name, and one result per track (a success's ``id`` is its
            playlist-entry ID).

        Raises:
            TypeError, ValueError: a bad name, marker or track ID (nothing is sent).
            PlaylistConflictError: someone else edited the playlist meanwhile (a
                :class:`PlaylistEditError`).
            PlaylistEditError: the create stopped: a refusal, the policy spent on failures
                whose outcome is unknown (the last cause, "gave up after N attempts"), a
                playlist that could not be read back. ``playlist_id`` names the playlist once
                it exists, ``partial`` holds one result per track.
            AuthenticationError: the token was refused and could not be refreshed.
        """
        self._check_open()
        _check_name(name)
        if not isinstance(published, bool):
            raise TypeError(f"published must be a bool, not {type(published).__name__}")
        if marker is not None:
            check_marker(marker)
        ids = await self._checked(track_ids)
        return await self._editor.create(name, ids, published=published, marker=marker)

    async def add_to_playlist(
        self,
        playlist_id: str,
        track_ids: Iterable[str] | AsyncIterable[str],
        *,
        expected_count: int | None = None,
    ) -> BulkResult:
        """Append ``track_ids`` to a playlist, in order, each exactly once.

        Args:
            playlist_id: either form of the playlist's ID (``music.playlist.<guid>`` or the
                browse form ``music.AQM...``).
            track_ids: catalog IDs, read and checked before any request.
            expected_count: the entries the playlist must hold when the append starts, for a
                caller that appends in several calls and must notice someone else's edit in
                between (``None``: whatever it holds then). Another count raises
                :class:`PlaylistConflictError` before anything is sent.

        Returns:
            One result per input, in input order; a success's ``id`` is its entry ID. A
            playlist that reaches the service's cap (1,000 entries) refuses the chunk that would
            overflow it: that chunk and the rest are REJECTED ``COLLECTION_PLAYLIST_FULL``.

        Raises:
            TypeError, ValueError: a bad playlist or track ID (nothing is sent).
            PlaylistConflictError: someone else edited the playlist meanwhile; ``partial``
                holds one result per input.
            PlaylistEditError, AuthenticationError: as :meth:`create_playlist`.
        """
        self._check_open()
        self._check_playlist_id(playlist_id)
        if expected_count is not None and (
            isinstance(expected_count, bool)
            or not isinstance(expected_count, int)
            or expected_count < 0
        ):
            raise ValueError(f"expected_count must be an int >= 0 or None, got {expected_count!r}")
        ids = await self._checked(track_ids)
        return await self._editor.append(playlist_id, ids, expected=expected_count)

    async def delete_playlist(self, playlist_id: str) -> None:
        """Delete a playlist (either form of its ID).

        Raises:
            HTTPStatusError: the service refused (404 ``COLLECTION_NO_RESULT``: no such playlist).
        """
        self._check_open()
        self._check_playlist_id(playlist_id)
        await self._editor.delete(playlist_id)

    def iter_playlists(self) -> AsyncGenerator[Playlist, None]:
        """The user's playlists, newest first; pages fetched concurrently under the client's
        bound, sized from the profile's count."""
        self._check_open()
        return self._reader.playlists()

    def iter_playlist_tracks(self, playlist_id: str) -> AsyncGenerator[LibraryTrack, None]:
        """A playlist's entries in playlist order: ``id`` is the entry ID, ``catalog_id`` the
        track's catalog ID (recovered from its link)."""
        self._check_open()
        self._check_playlist_id(playlist_id)
        return self._reader.playlist_tracks(playlist_id)

    def iter_collection_tracks(self) -> AsyncGenerator[LibraryTrack, None]:
        """The library's tracks in the order they were added: ``id`` is the collection ID,
        ``catalog_id`` the catalog ID (recovered from the track's link). Pages are fetched
        concurrently under the client's bound, sized from the profile's count; a collection
        changing meanwhile may shift them (the service's pages are offsets)."""
        self._check_open()
        return self._reader.collection_tracks()

    async def _checked(self, track_ids: Iterable[str] | AsyncIterable[str]) -> list[str]:
        """Every input read and checked before anything is sent: the client's one reader of a
        caller's input (:func:`~groove_async._operation.read_all`), with no stop of its own."""
        check_iterable(track_ids)
        ids = await read_all(track_ids, Operation("add"), self._validator, PLAYLIST_CHUNK)
        return [str(track_id) for track_id in ids]

    def _check_playlist_id(self, playlist_id: object) -> None:
        if not isinstance(playlist_id, str):
            raise TypeError(f"playlist_id must be a str, not {type(playlist_id).__name__}")
        try:
            self._validator.check(playlist_id)
        except ValueError:
            raise ValueError(
                f"playlist_id must look like '{self._namespace}.playlist.<guid>' or "
                f"'{self._namespace}.AQM...', got {playlist_id[:60]!r}"
            ) from None


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not 1 <= len(name) <= MAX_PLAYLIST_NAME_LENGTH:
        raise ValueError(
            f"name must be 1 to {MAX_PLAYLIST_NAME_LENGTH} characters, got {len(name)}"
        )
