"""The benchmarks' server (``benchmarks/_bench_server.py``) answers exactly as the emulator.

It is the emulator's service with the path of a healthy bulk add made cheap (bulk minting on
joined buffers, a JSON template, orjson, aiohttp's low-level server). Driven with the same seed
and the same requests, both must send byte-identical answers, hold identical collections, log
the same requests and leave their random generators in the same state. The bulk ID helpers of
``benchmarks/_bench_catalog.py`` must equal their one-by-one definitions in the emulator.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks._bench_catalog import (
    _encode_documented,
    are_documented_track_ids,
    documented_heads,
    documented_owner,
    mint_collection_ids,
)
from benchmarks._bench_server import BenchGrooveServer
from groove_async.testing import FakeGrooveServer, FaultPlan, catalog_track_id
from groove_async.testing._catalog import (
    encode_collection_id,
    guid_head,
    is_documented_track_id,
    mint_collection_id,
    normalise_id,
)

from .conftest import ADD, Api, StartEmulator

TOKEN = "demo-token"
ROOT = Path(__file__).resolve().parents[2]
SERVERS = [FakeGrooveServer, BenchGrooveServer]


def count_bulk_adds(server: FakeGrooveServer) -> list[int]:
    """Count the benchmarks' server's bulk adds (the list's length) from now on."""
    calls: list[int] = []
    service: Any = server._service
    original = service._add_documented

    def spy(*args: Any) -> Any:
        calls.append(1)
        return original(*args)

    service._add_documented = spy
    return calls


def user_of(server: FakeGrooveServer) -> Any:
    return server._service.accounts.lookup(TOKEN).user


def rng_state(server: FakeGrooveServer) -> Any:
    return server._service.rng.getstate()


async def script(api: Api) -> list[tuple[int, str, bytes]]:
    """A mix of requests on both sides of the bulk add; each answer as sent."""
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
        ("add", [catalog_track_id(n) for n in range(130, 140)], xml),  # XML re-adds
    ]
    answers: list[tuple[int, str, bytes]] = []
    for action, ids, headers in requests:
        if action == "delete":
            ids = [*list(api.server.collection(TOKEN).values())[:10], "music.unknown"]
        path = ADD if action == "add" else ADD.replace("add", "delete")
        reply = await api.post(path, {"TrackIds": ids}, headers=headers)
        answers.append((reply.status, reply.headers.get("Content-Type", ""), reply.body))
    for method, target in [("GET", "/1/user/music/profile"), ("GET", ADD), ("POST", "/x")]:
        reply = await api.request(method, target)
        answers.append((reply.status, reply.headers.get("Content-Type", ""), reply.body))
    return answers


@pytest.mark.parametrize(
    "faults",
    [
        None,
        FaultPlan(p_500=0.1, p_missing_item=0.2, p_truncated=0.15, p_non_json=0.1),
    ],
)
async def test_the_bench_server_answers_exactly_as_the_emulator(
    emulator: StartEmulator, faults: FaultPlan | None
) -> None:
    bench = await emulator(BenchGrooveServer, seed=11, capacity=300, faults=faults)
    plain = await emulator(seed=11, capacity=300, faults=faults)
    bulk_adds = count_bulk_adds(bench.server)

    bench_answers = await script(bench)
    plain_answers = await script(plain)

    assert bench_answers == plain_answers
    assert bench.server.collection(TOKEN) == plain.server.collection(TOKEN)
    assert list(bench.server.collection(TOKEN)) == list(plain.server.collection(TOKEN))
    bench_user, plain_user = user_of(bench.server), user_of(plain.server)
    for catalog_id, collection_id in plain_user.by_catalog.items():
        assert bench_user.owner(collection_id) == plain_user.owner(collection_id) == catalog_id
    assert bench_user.version == plain_user.version

    def log(server: FakeGrooveServer) -> list[tuple[Any, ...]]:
        return [(r.method, r.path, r.status, r.ids, r.fault, r.token) for r in server.requests]

    assert log(bench.server) == log(plain.server)
    assert rng_state(bench.server) == rng_state(plain.server)
    assert len(bulk_adds) >= 4


async def test_the_bulk_add_reproduces_a_collision_exactly(emulator: StartEmulator) -> None:
    """Were a minted ID already taken, both servers mint again from the next draw."""
    ids = [catalog_track_id(n) for n in range(5)]
    servers = [await emulator(BenchGrooveServer, seed=5), await emulator(seed=5)]
    # What the seed mints first and third: make them taken in both collections.
    preview = random.Random(5)
    preview.random()  # the request's fault roll
    doomed = [mint_collection_id(preview, catalog_id) for catalog_id in ids][0:3:2]
    for api in servers:
        for n, taken in enumerate(doomed):
            user_of(api.server).by_collection[taken] = f"music.taken-{n}"
    bulk_adds = count_bulk_adds(servers[0].server)
    bench, plain = [await api.add(ids) for api in servers]
    assert bulk_adds == [1]
    assert (bench.status, bench.body) == (plain.status, plain.body)
    assert not set(doomed) & {item["Id"] for item in bench.json()["TrackActionResults"]}
    assert servers[0].server.collection(TOKEN) == servers[1].server.collection(TOKEN)
    assert rng_state(servers[0].server) == rng_state(servers[1].server)


@pytest.mark.parametrize("server_class", SERVERS)
@pytest.mark.parametrize("custom", [True, False])
async def test_collection_ids_of_every_kind_of_catalog_id(
    emulator: StartEmulator, custom: bool, server_class: type[FakeGrooveServer]
) -> None:
    """Delete finds the collection IDs of documented track IDs and of any other catalog ID,
    and nothing else (a near miss decodes to the same GUID head)."""
    artist = "music.6F0A0600-0200-11DB-89CA-0019B92A3933"
    same_head_track = catalog_track_id(0x6F0A0600)
    if custom:
        ids = [catalog_track_id(1), artist, "plain", same_head_track, catalog_track_id(2)]
        api = await emulator(server_class, seed=3, catalog=ids)
    else:
        ids = [catalog_track_id(1), same_head_track, catalog_track_id(2)]
        api = await emulator(server_class, seed=3)
    reply = await api.add(ids)
    minted = {item["InputId"]: item["Id"] for item in reply.json()["TrackActionResults"]}
    assert list(minted) == ids
    assert api.server.collection(TOKEN) == minted
    near = minted[catalog_track_id(1)][:-1] + "R"
    reply = await api.delete([near, catalog_track_id(1), *minted.values(), *minted.values()])
    items = reply.json()["TrackActionResults"]
    failed = [True, True] + [False] * len(minted) + [True] * len(minted)
    assert ["Error" in item for item in items] == failed
    assert api.server.collection(TOKEN) == {}
    assert user_of(api.server).by_collection == {}


@pytest.mark.parametrize("server_class", SERVERS)
async def test_a_collision_with_a_documented_track_is_minted_again(
    emulator: StartEmulator, server_class: type[FakeGrooveServer]
) -> None:
    """An artist ID whose GUID head is a track's, drawing the track's 16 bytes again, would get
    the track's collection ID: it is minted again, as any collision."""
    artist = "music.6F0A0600-0200-11DB-89CA-0019B92A3933"
    track = catalog_track_id(0x6F0A0600)
    api = await emulator(server_class, seed=9, catalog=[artist, track])
    rng = api.server._service.rng
    state = rng.getstate()
    track_id = (await api.add([track])).json()["TrackActionResults"][0]["Id"]
    rng.setstate(state)
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


async def test_the_bench_server_command_line() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks._bench_server",
        "serve",
        "--port",
        "0",
        "--latency",
        "0.001",
        "--token",
        "bench-a",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        url = line.removeprefix("Groove emulator listening on ")
        assert url.startswith("http://127.0.0.1:"), line
        token_line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert token_line.decode().strip() == "Token: bench-a"
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url + ADD,
                json={"TrackIds": [catalog_track_id(1)]},
                headers={"Authorization": "Bearer bench-a"},
            ) as response,
        ):
            assert response.status == 200
            assert (await response.json())["TrackActionResults"][0]["InputId"] == (
                catalog_track_id(1)
            )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        returncode = await asyncio.wait_for(process.wait(), timeout=10)
    assert returncode == 0


# -- the bulk helpers against their one-by-one definitions -----------------------------------


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
    expected = [
        encode_collection_id(zeros[16 * k : 16 * k + 16], guid_head(i)) for k, i in enumerate(ids)
    ]
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
