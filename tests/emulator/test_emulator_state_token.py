"""The CollectionStateToken against the raw HTTP contract (spec section 9.1): one version of
the whole collection, changed by every committed change and only then, given by the reads and
the profile, never by an edit; an edit carrying another one is a 409 that applies nothing."""

from __future__ import annotations

import json

import pytest

from groove_async.testing import catalog_track_id
from tests.emulator.conftest import (
    DELETE,
    PLAYLISTS,
    Api,
    Reply,
    StartEmulator,
    adds,
    assert_refused,
    catalog_ids,
    deletes,
    entries_path,
    entry_ids,
    lookup_path,
)

TOKEN = "demo-token"
RANDOM_GUID = "music.9bb2c5c5-455c-4c15-827c-f9bfd759a458"  # not in the default catalog
A, B, C = (catalog_track_id(i) for i in range(3))


async def current_token(api: Api) -> str:
    """The token as the profile gives it (spec 9.2), checked against the server's."""
    token: str = (await api.profile()).json()["Collection"]["Token"]
    assert token == api.server.collection_state(TOKEN)
    return token


async def test_the_token_changes_with_every_committed_change_and_only_then(api: Api) -> None:
    seen = [await current_token(api)]

    async def changed(reply: Reply) -> bool:
        assert reply.status in (200, 400, 404, 409)
        seen.append(await current_token(api))
        return seen[-1] != seen[-2]

    playlist_id = await api.new_playlist("P", A)
    seen.append(await current_token(api))
    assert seen[-1] != seen[-2]
    (entry_a,) = entry_ids(api.server, playlist_id)
    collection_id = (await api.add([B])).json()["TrackActionResults"][0]["Id"]
    seen.append(await current_token(api))
    assert seen[-1] != seen[-2]
    # Changes.
    assert await changed(await api.update(playlist_id, Name="Q"))
    assert await changed(await api.update(playlist_id, IsPublished=True))
    assert await changed(await api.update(playlist_id, TrackActions=adds(C)))
    assert await changed(await api.update(playlist_id, TrackActions=deletes(entry_a)))
    assert await changed(await api.request("POST", DELETE, body=_ids(collection_id)))
    # No change: nothing committed, or nothing to commit.
    assert not await changed(await api.update(playlist_id, Name="Q", IsPublished=True))
    assert not await changed(await api.update(playlist_id))
    assert not await changed(await api.update(playlist_id, TrackActions=adds(RANDOM_GUID)))
    assert not await changed(await api.update(playlist_id, TrackActions=deletes(entry_a)))
    assert not await changed(await api.request("POST", DELETE, body=_ids(collection_id)))
    assert not await changed(await api.add([RANDOM_GUID]))
    assert not await changed(await api.update(playlist_id, Name=""))
    assert not await changed(await api.update(playlist_id, CollectionStateToken="stale"))
    assert await changed(await api.add([A]))
    assert not await changed(await api.add([A]))  # a re-add changes nothing
    assert await changed(await api.delete_playlist(playlist_id))
    versions = [t for i, t in enumerate(seen) if i == 0 or t != seen[i - 1]]
    assert len(versions) == len(set(versions)) == 10  # no token ever comes back
    assert all(t.startswith("3.0.1.1.7.7.") for t in seen)


def _ids(*ids: str) -> bytes:
    return json.dumps({"TrackIds": list(ids)}).encode()


async def test_a_stale_token_is_a_409_and_applies_nothing(api: Api) -> None:
    stale = await current_token(api)
    playlist_id = await api.new_playlist("P", A)
    fresh = await current_token(api)
    before = api.server.playlists(TOKEN)
    for reply in (
        await api.create("New", B, CollectionStateToken=stale),
        await api.update(playlist_id, CollectionStateToken=stale, TrackActions=adds(B)),
        await api.update(playlist_id, CollectionStateToken=stale, Name="Other"),
        await api.delete_playlist(playlist_id, CollectionStateToken=stale),
        await api.update(playlist_id, CollectionStateToken="", TrackActions=adds(B)),
    ):
        assert_refused(reply, 409, "COLLECTION_CONCURRENT_UPDATE")
    assert api.server.playlists(TOKEN) == before
    assert await current_token(api) == fresh
    # The current token passes, and the edit makes it stale in turn.
    reply = await api.update(playlist_id, CollectionStateToken=fresh, TrackActions=adds(B))
    assert reply.status == 200
    assert catalog_ids(api.server, playlist_id) == [A, B]
    reply = await api.update(playlist_id, CollectionStateToken=fresh, TrackActions=adds(C))
    assert reply.status == 409
    assert catalog_ids(api.server, playlist_id) == [A, B]


async def test_a_track_edit_makes_a_playlist_token_stale(api: Api) -> None:
    playlist_id = await api.new_playlist("P", A)
    token = await current_token(api)
    await api.add([C])  # the collection changed: tracks and playlists share one version
    reply = await api.update(playlist_id, CollectionStateToken=token, TrackActions=adds(B))
    assert_refused(reply, 409, "COLLECTION_CONCURRENT_UPDATE")


async def test_reads_give_the_current_token(api: Api) -> None:
    playlist_id = await api.new_playlist("P", A)
    token = api.server.collection_state(TOKEN)
    browsed = (await api.get(PLAYLISTS)).json()["Playlists"]["Items"][0]
    looked_up = (await api.get(lookup_path(playlist_id))).json()["Playlists"]["Items"][0]
    sub = (await api.get(entries_path(playlist_id))).json()["Playlists"]["Items"][0]
    assert browsed["CollectionStateToken"] == looked_up["CollectionStateToken"] == token
    assert sub["CollectionStateToken"] == token == await current_token(api)


async def test_each_user_has_a_token_of_their_own(emulator: StartEmulator) -> None:
    api = await emulator(tokens=[TOKEN, "other"])
    other = api.server.collection_state("other")
    await api.new_playlist("Mine", A)
    assert api.server.collection_state("other") == other
    assert api.server.playlists("other") == []
    reply = await api.update(api.server.playlists(TOKEN)[0].id, token="other")
    assert reply.status == 404  # another user's playlist does not exist for them
    with pytest.raises(KeyError):
        api.server.collection_state("stranger")
