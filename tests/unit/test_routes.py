"""Every path of the service from one home (issue 20), and the playlist-ID forms."""

from __future__ import annotations

import pytest

from groove_async._playlist_ids import browse_playlist_id, edit_playlist_id, playlist_guid
from groove_async._routes import (
    browse_path,
    collection_path,
    lookup_path,
    playlist_edit_path,
    playlist_tracks_path,
    profile_path,
)


def test_the_paths_of_spec_sections_3_and_9() -> None:
    assert collection_path("music", "add") == "/1/content/music/collection/add"
    assert collection_path("music", "delete") == "/1/content/music/collection/delete"
    for action in ("create", "update", "delete"):
        assert playlist_edit_path("music", action) == (
            f"/1/content/music/collection/playlists/{action}"
        )
    assert browse_path("music", "tracks") == "/1/content/music/collection/tracks/browse"
    assert browse_path("music", "playlists") == "/1/content/music/collection/playlists/browse"
    assert lookup_path("music.AQM-_x") == "/1/content/music.AQM-_x/lookup"
    assert playlist_tracks_path("music.AQM") == (
        "/1/content/music.AQM/collection/playlist/tracks/browse"
    )
    assert profile_path("music") == "/1/user/music/profile"


def test_an_id_cannot_add_a_path_segment() -> None:
    assert lookup_path("music.a/../../x?y#z") == "/1/content/music.a%2F..%2F..%2Fx%3Fy%23z/lookup"


@pytest.mark.parametrize("bad", ["move", "", "update/../x"])
def test_unknown_edits_and_browses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="playlist edit"):
        playlist_edit_path("music", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="browse"):
        browse_path("music", bad)  # type: ignore[arg-type]


def test_the_edit_form_is_normalised_to_the_services_lower_case() -> None:
    upper = "music.playlist.D7E2D6B8-8028-00FE-A58D-423BDA374AD1"
    lower = upper.lower()
    assert edit_playlist_id("music", upper) == lower
    assert playlist_guid(upper) == playlist_guid(lower) == lower.removeprefix("music.playlist.")
    assert browse_playlist_id("music", upper) == browse_playlist_id("music", lower)
    assert edit_playlist_id("music", browse_playlist_id("music", upper)) == lower
    assert edit_playlist_id("other", lower) == lower  # another namespace: left to the service
