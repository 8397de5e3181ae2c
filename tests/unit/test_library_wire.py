"""The wire of playlists and the library read back (spec section 9), pure functions."""

from __future__ import annotations

import json
import uuid

import pytest

from groove_async import DecodeError, ErrorInfo, LibraryTrack, Playlist
from groove_async._library_wire import (
    browse_playlist_id,
    catalog_id_from_link,
    edit_playlist_id,
    playlist_action,
    read_edit,
    read_lookup,
    read_playlist_tracks_page,
    read_profile,
    read_tracks_page,
)

#: The documentation's two browse-form IDs (spec 9.1).
DOC_BROWSE_IDS = ["music.AQMhT-EZaoD-AHqGpBl9GuHQ", "music.AQPRiQGUVID-ANj02JdwYA_R"]


@pytest.mark.parametrize("browse", DOC_BROWSE_IDS)
def test_the_two_forms_of_a_playlist_id_carry_the_same_guid(browse: str) -> None:
    edit = edit_playlist_id("music", browse)
    assert edit.startswith("music.playlist.")
    uuid.UUID(edit.removeprefix("music.playlist."))  # a GUID
    assert browse_playlist_id("music", edit) == browse
    assert edit_playlist_id("music", edit) == edit  # already the edit form
    assert browse_playlist_id("music", browse) == browse


def test_unknown_playlist_id_shapes_are_passed_through() -> None:
    for odd in ["music.nope", "music.playlist.not-a-guid", "music.AQQfZ78ml185KUqtiDc9dx6i6Ae5"]:
        assert edit_playlist_id("music", odd) == odd
        assert browse_playlist_id("music", odd) == odd


@pytest.mark.parametrize(
    ("link", "catalog"),
    [
        (
            "https://music.microsoft.com/Track/a83eb907-0100-11db-89ca-0019b92a3933?partnerID=x",
            "music.A83EB907-0100-11DB-89CA-0019B92A3933",
        ),
        (
            "https://music.microsoft.com/Track/A83EB907-0100-11DB-89CA-0019B92A3933/",
            "music.A83EB907-0100-11DB-89CA-0019B92A3933",
        ),
        ("https://music.microsoft.com/Track/not-a-guid?partnerID=x", None),
        (None, None),
        (5, None),
    ],
)
def test_the_catalog_id_is_recovered_from_the_link(link: object, catalog: str | None) -> None:
    assert catalog_id_from_link("music", link) == catalog


def test_the_documented_create_body() -> None:
    body = playlist_action(
        name="Groove APIs rock!",
        published=False,
        adds=["music.A83EB907-0100-11DB-89CA-0019B92A3933"],
    )
    assert json.loads(body) == {
        "Name": "Groove APIs rock!",
        "IsPublished": False,
        "TrackActions": [{"Id": "music.A83EB907-0100-11DB-89CA-0019B92A3933", "Action": "Add"}],
    }
    assert json.loads(playlist_action(playlist_id="music.playlist.x", state_token="3.0.1")) == {
        "Id": "music.playlist.x",
        "CollectionStateToken": "3.0.1",
    }


def test_the_documented_create_answer_and_a_partial_failure() -> None:
    answer = read_edit(
        b'{"PlaylistActionResult":{"Id":"music.playlist.d7e2d6b8-8028-00fe-a58d-423bda374ad1",'
        b'"Name":"Groove APIs rock!","IsPublished":false,"TrackActionResults":['
        b'{"InputId":"music.A83EB907-0100-11DB-89CA-0019B92A3933",'
        b'"Id":"music.AQQf4QwRv9XTc0enTqGcoGW-Dwe5PqgAAQ"},'
        b'{"InputId":"music.x","Error":{"ErrorCode":"COLLECTION-INVALID-ID","Description":"d"}}]},'
        b'"Error":{"ErrorCode":"COLLECTION_SOME_OPERATIONS_FAILED","Description":"Some failed"}}',
        adds=["music.a83eb907-0100-11db-89ca-0019b92a3933", "music.x"],
    )
    assert answer.id == "music.playlist.d7e2d6b8-8028-00fe-a58d-423bda374ad1"
    assert answer.actions == [
        ("music.AQQf4QwRv9XTc0enTqGcoGW-Dwe5PqgAAQ", None),
        (None, ErrorInfo("COLLECTION_INVALID_ID", "d")),
    ]
    assert read_edit(b'{"PlaylistActionResult":{"Id":"music.playlist.x"}}').actions == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>",
        b"[]",
        b'{"PlaylistActionResult":{}}',
        b'{"PlaylistActionResult":{"Id":5}}',
        b'{"PlaylistActionResult":{"Id":"x","TrackActionResults":{}}}',
        b'{"PlaylistActionResult":{"Id":"x","TrackActionResults":[{"Id":"y"}]}}',
        b'{"PlaylistActionResult":{"Id":"x","TrackActionResults":[{"InputId":"a","Id":7}]}}',
    ],
)
def test_a_malformed_edit_answer_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        read_edit(body)


def test_browse_pages_lookup_and_profile() -> None:
    track = {
        "Id": "music.AQQfA",
        "Name": "Song",
        "Link": "https://music.microsoft.com/Track/a83eb907-0100-11db-89ca-0019b92a3933?p=1",
        "Source": "Collection",
    }
    page = read_tracks_page(
        json.dumps(
            {"Tracks": {"Items": [track], "ContinuationToken": "c1", "TotalItemCount": 30}}
        ).encode(),
        "music",
    )
    assert page.items == [
        LibraryTrack("music.AQQfA", "music.A83EB907-0100-11DB-89CA-0019B92A3933", "Song")
    ]
    assert (page.continuation, page.total) == ("c1", 30)
    playlist = {
        "Id": DOC_BROWSE_IDS[0],
        "Name": "Mix",
        "TrackCount": 0,
        "IsPublished": False,
        "CollectionStateToken": "3.0.1.1.7.7.7",
    }
    body = json.dumps({"Playlists": {"Items": [playlist]}}).encode()
    assert read_lookup(body) == (
        Playlist(DOC_BROWSE_IDS[0], "Mix", 0, False),
        "3.0.1.1.7.7.7",
    )
    found, tracks = read_playlist_tracks_page(body, "music")  # empty: Tracks omitted
    assert found.track_count == 0 and tracks.items == []
    profile = read_profile(b'{"Collection":{"Token":"t","TrackCount":3}}')
    assert (profile.token, profile.track_count, profile.playlist_count) == ("t", 3, 0)
    assert read_profile(b"{}").track_count == 0
    with pytest.raises(DecodeError):
        read_profile(b'{"Collection":{"TrackCount":-1}}')
    with pytest.raises(DecodeError):
        read_lookup(b'{"Playlists":{"Items":[]}}')


@pytest.mark.parametrize(
    ("reader", "body"),
    [
        ("tracks", b'{"Tracks":{"Items":"abc"}}'),
        ("tracks", b'{"Tracks":{"Items":{"Id":"x"}}}'),
        ("tracks", b'{"Tracks":{"Items":[{"Id":""}]}}'),
        ("tracks", b'{"Tracks":{"Items":[{"Id":"x","Name":5}]}}'),
        ("tracks", b'{"Tracks":{"Items":[],"TotalItemCount":-1}}'),
        ("tracks", b'{"Tracks":{"Items":[],"TotalItemCount":true}}'),
        ("tracks", b'{"Tracks":[]}'),
        ("profile", b'{"Collection":{"TrackCount":true}}'),
        ("profile", b'{"Collection":{"TrackCount":"5"}}'),
        ("profile", b'{"Collection":{"TrackCount":2.5}}'),
        ("profile", b'{"Collection":[]}'),
        ("lookup", b'{"Playlists":{"Items":[{"Id":"x","IsPublished":"false"}]}}'),
        ("lookup", b'{"Playlists":{"Items":[{"Id":"x","TrackCount":-3}]}}'),
        ("lookup", b'{"Playlists":{"Items":[{"Id":"x","CollectionStateToken":7}]}}'),
    ],
)
def test_a_member_of_the_wrong_type_is_a_decode_error(reader: str, body: bytes) -> None:
    """The converter's strict types: no number read as a string, no string or bool read as a
    count or a flag, no object or string iterated as a list."""
    read = {
        "tracks": lambda: read_tracks_page(body, "music"),
        "profile": lambda: read_profile(body),
        "lookup": lambda: read_lookup(body),
    }[reader]
    with pytest.raises(DecodeError):
        read()


@pytest.mark.parametrize(
    ("adds", "results"),
    [
        (
            ["music.A", "music.B"],
            [{"InputId": "music.B", "Id": "e1"}, {"InputId": "music.A", "Id": "e2"}],
        ),
        (["music.A"], [{"InputId": "music.A", "Id": "e1"}, {"InputId": "music.B", "Id": "e2"}]),
        (["music.A", "music.B"], [{"InputId": "music.A", "Id": "e1"}]),
        (["music.A"], [{"InputId": "music.A"}]),
        (["music.A"], [{"InputId": "music.A", "Id": ""}]),
        (["music.A"], None),
        ([], [{"InputId": "music.A", "Id": "e1"}]),
    ],
)
def test_an_edit_answer_that_does_not_answer_the_adds_sent_is_a_decode_error(
    adds: list[str], results: list[dict[str, str]] | None
) -> None:
    answer: dict[str, object] = {"Id": "music.playlist.x"}
    if results is not None:
        answer["TrackActionResults"] = results
    with pytest.raises(DecodeError):
        read_edit(json.dumps({"PlaylistActionResult": answer}).encode(), adds)
