"""The bulk add's fast path answers and mints exactly as the general path does.

A server with the default catalog takes the fast path for adds of normalised, documented track
IDs that fit; a server whose catalog is a callable accepting the same IDs never does. Driven with
the same seed and the same requests, both must send byte-identical answers and hold identical
collections.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groove_async.testing import FakeGrooveServer, FaultPlan, catalog_track_id
from groove_async.testing._catalog import (
    _encode_documented,
    _encode_one,
    are_documented_track_ids,
    documented_heads,
    documented_owner,
    is_documented_track_id,
    mint_collection_id,
    mint_collection_ids,
    normalise_id,
)

from .conftest import ADD, Api, StartEmulator

TOKEN = "demo-token"


def count_fast_adds(server: FakeGrooveServer) -> list[int]:
    """Count the server's fast-path adds (the list's length) from now on."""
    calls: list[int] = []
    original = server._add_documented

    def spy(*args: Any) -> Any:
        calls.append(1)
        return original(*args)

    server._add_documented = spy  # type: ignore[method-assign]
    return calls


async def script(api: Api) -> list[tuple[int, str, bytes]]:
    """A mix of requests on both sides of the fast path; each answer as sent."""
    xml = {"Accept": "application/xml"}
    requests: list[tuple[str, list[str], dict[str, str] | None]] = [
        ("add", [catalog_track_id(n) for n in range(100)], None),  # all new
        ("add", [catalog_track_id(n) for n in (5, 100, 100, 101, 5, 0)], None),  # re-adds, dups
        ("add", [catalog_track_id(n).lower() for n in range(102, 106)], None),  # lower-case
        (
            "add",
            [catalog_track_id(n)[:10].lower() + catalog_track_id(n)[10:] for n in (7, 8)],
            None,
        ),
        ("add", [catalog_track_id(200), "music.not-a-guid", "music.\u00e9"], None),  # errors
        ("add", [catalog_track_id(n) for n in range(300, 401)], None),  # 101 IDs: 400
        ("add", [catalog_track_id(n) for n in range(110, 130)], xml),  # XML answer
        ("delete", [], None),  # filled in below with minted IDs
        ("add", [catalog_track_id(n) for n in range(10)], None),  # re-add what was deleted
        ("add", [catalog_track_id(n) for n in range(130, 260)][:100], None),  # new again
        ("add", [catalog_track_id(n) for n in range(400, 500)], None),  # overflows capacity
        ("add", [catalog_track_id(0), catalog_track_id(1)], None),  # full, but re-adds
    ]
    answers: list[tuple[int, str, bytes]] = []
    for action, ids, headers in requests:
        if action == "delete":
            ids = [*list(api.server.collection(TOKEN).values())[:10], "music.unknown"]
        path = ADD if action == "add" else ADD.replace("add", "delete")
        reply = await api.post(path, {"TrackIds": ids}, headers=headers)
        answers.append((reply.status, reply.headers.get("Content-Type", ""), reply.body))
    profile = await api.profile()
    answers.append((profile.status, profile.headers["Content-Type"], profile.body))
    return answers


@pytest.mark.parametrize(
    "faults",
    [
        None,
        FaultPlan(p_500=0.1, p_missing_item=0.2, p_truncated=0.15, p_non_json=0.1),
    ],
)
async def test_fast_path_answers_exactly_as_the_general_path(
    emulator: StartEmulator, faults: FaultPlan | None
) -> None:
    fast = await emulator(seed=11, capacity=300, faults=faults)
    slow = await emulator(seed=11, capacity=300, faults=faults, catalog=is_documented_track_id)
    fast_calls = count_fast_adds(fast.server)
    slow_calls = count_fast_adds(slow.server)

    fast_answers = await script(fast)
    slow_answers = await script(slow)

    assert fast_answers == slow_answers
    assert fast.server.collection(TOKEN) == slow.server.collection(TOKEN)
    assert list(fast.server.collection(TOKEN)) == list(slow.server.collection(TOKEN))
    assert [(r.status, r.fault) for r in fast.server.requests] == [
        (r.status, r.fault) for r in slow.server.requests
    ]
    assert fast.server._rng.getstate() == slow.server._rng.getstate()
    assert len(fast_calls) >= 4
    assert slow_calls == []


async def test_fast_path_reproduces_a_collision_exactly(emulator: StartEmulator) -> None:
    """Were a minted ID already taken, both paths mint again from the next draw."""
    ids = [catalog_track_id(n) for n in range(5)]
    servers = [
        await emulator(seed=5),
        await emulator(seed=5, catalog=is_documented_track_id),
    ]
    # What the seed mints first and third: make them taken in both collections.
    preview = random.Random(5)
    doomed = [mint_collection_id(preview, catalog_id) for catalog_id in ids][0:3:2]
    for api in servers:
        user = api.server._lookup(TOKEN).user
        for n, taken in enumerate(doomed):
            user.by_collection[taken] = f"music.taken-{n}"
    fast_calls = count_fast_adds(servers[0].server)
    fast, slow = [await api.add(ids) for api in servers]
    assert fast_calls == [1]
    assert (fast.status, fast.body) == (slow.status, slow.body)
    assert not set(doomed) & {item["Id"] for item in fast.json()["TrackActionResults"]}
    assert servers[0].server.collection(TOKEN) == servers[1].server.collection(TOKEN)
    assert servers[0].server._rng.getstate() == servers[1].server._rng.getstate()


@pytest.mark.parametrize("seed", range(20))
def test_bulk_minting_draws_as_one_by_one(seed: int) -> None:
    picker = random.Random(seed)
    ids = list(
        dict.fromkeys(
            catalog_track_id(picker.getrandbits(32)) for _ in range(picker.randrange(1, 101))
        )
    )
    one_by_one, bulk = random.Random(seed), random.Random(seed)
    taken: set[str] = set()
    if seed % 2:  # take a few of the IDs one-by-one minting would produce
        preview = random.Random(seed)
        taken = {mint_collection_id(preview, i) for i in ids[: min(3, len(ids))]}
    expected: list[str] = []
    for catalog_id in ids:
        new_id = mint_collection_id(one_by_one, catalog_id)
        while new_id in taken or new_id in expected:
            new_id = mint_collection_id(one_by_one, catalog_id)
        expected.append(new_id)
    assert mint_collection_ids(bulk, ids, taken) == expected
    assert bulk.getstate() == one_by_one.getstate()


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([catalog_track_id(0)], True),
        ([catalog_track_id(n) for n in range(100)], True),
        ([catalog_track_id(0).lower()], False),
        ([catalog_track_id(0).replace("-0100-", "-0200-")], False),
        ([catalog_track_id(0) + "\n" + catalog_track_id(1)], False),
        ([catalog_track_id(0) + "\n", catalog_track_id(1)], False),
        ([catalog_track_id(0), ""], False),
        ([catalog_track_id(0) + " "], False),
    ],
)
def test_documented_track_ids_check(ids: list[str], expected: bool) -> None:
    assert are_documented_track_ids(ids) is expected
    assert expected is all(is_documented_track_id(i) for i in ids)


# -- the bulk helpers against their one-by-one definitions -----------------------------------

near_misses = st.one_of(
    st.builds(catalog_track_id, st.integers(0, 2**32 - 1)),
    st.builds(lambda n: catalog_track_id(n).lower(), st.integers(0, 2**32 - 1)),
    st.builds(
        lambda n, at, ch: (lambda s: s[:at] + ch + s[at + 1 :])(catalog_track_id(n)),
        st.integers(0, 2**32 - 1),
        st.integers(0, 41),
        st.sampled_from(list("0123456789ABCDEFabcdefgG-.\n\x00é m")),
    ),
    st.builds(lambda n, extra: catalog_track_id(n) + extra, st.integers(0, 9), st.text(max_size=3)),
    st.builds(lambda n: catalog_track_id(n)[:-1], st.integers(0, 9)),
    st.text(max_size=50),
)


@settings(max_examples=500)
@given(st.lists(near_misses, max_size=8))
def test_documented_heads_is_the_definition(ids: list[str]) -> None:
    expected = all(normalise_id(i) == i and is_documented_track_id(i) for i in ids)
    heads = documented_heads(ids)
    if expected:
        assert heads == b"".join(bytes.fromhex(i[6:14]) for i in ids)
    else:
        assert heads is None
    assert are_documented_track_ids(ids) is expected


def test_documented_heads_of_whole_requests() -> None:
    ids = [catalog_track_id(n * 7919) for n in range(100)]
    assert documented_heads(ids) == b"".join((n * 7919).to_bytes(4, "big") for n in range(100))
    # One ID spread over two, each of the right length in total: refused.
    assert documented_heads([ids[0][:20], ids[0][20:] + ids[1][:20], ids[1][20:]]) is None
    assert documented_heads([ids[0] + "\n" * 6 + ids[1]]) is None


@pytest.mark.parametrize("count", [1, 2, 3, 100])
def test_minting_ids_that_hold_the_gap_between_ids(count: int) -> None:
    """All-zero random bytes put 28 "A"s in an ID: the bulk encoder's split cannot be used."""
    ids = [catalog_track_id(n) for n in range(count)]
    heads = documented_heads(ids)
    assert heads is not None
    zeros = bytes(16 * count)
    expected = [_encode_one(zeros[16 * k : 16 * k + 16], i) for k, i in enumerate(ids)]
    assert _encode_documented(zeros, heads, count) == expected
    assert "A" * 24 in expected[0]


@pytest.mark.parametrize("seed", range(10))
def test_documented_owner(seed: int) -> None:
    rng = random.Random(seed)
    for catalog_id in [catalog_track_id(rng.getrandbits(32)) for _ in range(50)]:
        assert documented_owner(mint_collection_id(rng, catalog_id)) == catalog_id
    # Minted for an ID that is no documented track: the head it holds names another ID (or
    # none); the collection decides, see test_collection_ids_of_every_kind_of_catalog_id.
    artist = "music.6F0A0600-0200-11DB-89CA-0019B92A3933"
    assert documented_owner(mint_collection_id(rng, artist)) == catalog_track_id(0x6F0A0600)
    assert documented_owner(mint_collection_id(rng, "plain")) == catalog_track_id(0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "music.",
        "music." + "A" * 33,
        "music." + "A" * 35,
        "Music." + "A" * 34,
        "x" * 40,
        "music." + "!" * 34,
        "music." + "é" * 34,
        "music." + "=" * 34,
    ],
)
def test_documented_owner_of_anything_else(text: str) -> None:
    assert documented_owner(text) is None


@pytest.mark.parametrize("custom", [True, False])
async def test_collection_ids_of_every_kind_of_catalog_id(
    emulator: StartEmulator, custom: bool
) -> None:
    """Collection IDs minted for documented track IDs are found from the ID itself, others from
    a map: delete finds both, and nothing else."""
    artist = "music.6F0A0600-0200-11DB-89CA-0019B92A3933"
    same_head_track = catalog_track_id(0x6F0A0600)
    if custom:
        ids = [catalog_track_id(1), artist, "plain", same_head_track, catalog_track_id(2)]
        api = await emulator(seed=3, catalog=ids)
    else:
        ids = [catalog_track_id(1), same_head_track, catalog_track_id(2)]
        api = await emulator(seed=3)
    reply = await api.add(ids)
    minted = {item["InputId"]: item["Id"] for item in reply.json()["TrackActionResults"]}
    assert list(minted) == ids
    assert api.server.collection(TOKEN) == minted
    # A collection ID that differs in its last character decodes to the same head.
    near = minted[catalog_track_id(1)][:-1] + "R"
    reply = await api.delete([near, catalog_track_id(1), *minted.values(), *minted.values()])
    items = reply.json()["TrackActionResults"]
    failed = [True, True] + [False] * len(minted) + [True] * len(minted)
    assert ["Error" in item for item in items] == failed
    assert api.server.collection(TOKEN) == {}
    assert api.server._lookup(TOKEN).user.by_collection == {}


async def test_a_collision_with_a_documented_track_is_minted_again(
    emulator: StartEmulator,
) -> None:
    """An artist ID whose GUID head is a track's, drawing the track's 16 bytes again, would get
    the track's collection ID: it is minted again, as any collision."""
    artist = "music.6F0A0600-0200-11DB-89CA-0019B92A3933"
    track = catalog_track_id(0x6F0A0600)
    api = await emulator(seed=9, catalog=[artist, track])
    state = api.server._rng.getstate()
    track_id = (await api.add([track])).json()["TrackActionResults"][0]["Id"]
    api.server._rng.setstate(state)
    preview = random.Random()
    preview.setstate(state)
    preview.random()  # the request's fault roll
    first = mint_collection_id(preview, artist)
    second = mint_collection_id(preview, artist)
    assert first == track_id  # the same bytes and the same head
    artist_id = (await api.add([artist])).json()["TrackActionResults"][0]["Id"]
    assert artist_id == second
    assert api.server.collection(TOKEN) == {track: track_id, artist: artist_id}
    reply = await api.delete([track_id])
    assert "Error" not in reply.json()["TrackActionResults"][0]
    assert api.server.collection(TOKEN) == {artist: artist_id}
