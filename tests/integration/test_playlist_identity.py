"""One identity for a playlist (issue 19, "new user"): what ``create_playlist`` returns (the
edit form) and what ``iter_playlists`` lists (the browse form) compare by ``guid``, and each
offers both forms."""

from __future__ import annotations

from groove_async import GrooveClient, RetryPolicy
from groove_async.testing import FakeGrooveServer, catalog_track_id

TOKEN = "owner-token"


async def test_a_created_playlist_is_found_among_the_listed_ones_by_guid() -> None:
    async with (
        FakeGrooveServer(tokens=[TOKEN], seed=5) as server,
        GrooveClient(
            TOKEN, base_url=server.url, retry=RetryPolicy(wait=False), transport=server.transport()
        ) as groove,
    ):
        made = await groove.create_playlist("Road trip", [catalog_track_id(1)])
        other = await groove.create_playlist("Other", [])
        listed = [p async for p in groove.iter_playlists()]
        # Either form of the ID works for the calls, the other form included.
        upper = made.edit_id.replace(made.guid or "", (made.guid or "").upper())
        await groove.add_to_playlist(upper, [catalog_track_id(2)])
        back = [t.catalog_id async for t in groove.iter_playlist_tracks(listed[1].edit_id)]
    (stored,) = [p for p in server.playlists(TOKEN) if p.name == "Road trip"]
    assert made.guid is not None and made.guid in [p.guid for p in listed]
    assert [p.guid for p in listed] == [other.guid, made.guid]  # newest first
    found = listed[1]
    assert found.id == stored.browse_id == made.browse_id  # as the service lists it
    assert made.id == stored.id == found.edit_id  # as an edit answers it
    assert made.guid == found.guid == made.guid.lower()
    assert back == [catalog_track_id(1), catalog_track_id(2)]


def test_an_id_of_neither_form_is_its_own_identity() -> None:
    from groove_async import Playlist

    odd = Playlist("music.nope", "x", 0)
    assert (odd.guid, odd.edit_id, odd.browse_id) == (None, "music.nope", "music.nope")
