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

from groove_async.testing import FakeGrooveServer, FaultPlan, catalog_track_id
from groove_async.testing._catalog import (
    are_documented_track_ids,
    is_documented_track_id,
    mint_collection_id,
    mint_collection_ids,
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
