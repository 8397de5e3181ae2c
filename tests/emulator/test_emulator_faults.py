"""Fault injection: each fault mode, latency, seeded reproducibility and scripted responses."""

from __future__ import annotations

import email.utils
import json
import random
import time
from typing import Any

import aiohttp
import pytest

from groove_async.testing import FaultPlan, ScriptedResponse, catalog_track_id
from tests.emulator.conftest import Api, StartEmulator

IDS = [catalog_track_id(i) for i in range(5)]


def only(**probabilities: Any) -> FaultPlan:
    return FaultPlan(**probabilities)


# -- faults that stop the request before the collection sees it ------------------------------


@pytest.mark.parametrize(
    ("plan", "status", "code"),
    [
        (only(p_429=1.0), 429, "TOO_MANY_REQUESTS"),
        (only(p_409=1.0), 409, "COLLECTION_CONCURRENT_UPDATE"),
        (only(p_500=1.0), 500, "INTERNAL_SERVER_ERROR"),
        (only(p_502=1.0), 502, "CATALOG_UNAVAILABLE"),
    ],
)
async def test_json_error_faults(
    emulator: StartEmulator, plan: FaultPlan, status: int, code: str
) -> None:
    api = await emulator(faults=plan)
    reply = await api.add(IDS)
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"Error"}
    assert body["Error"]["ErrorCode"] == code and body["Error"]["Description"]
    assert "Retry-After" not in reply.headers
    assert api.server.collection("demo-token") == {}
    record = api.server.requests[-1]
    assert (record.status, record.fault, record.id_count) == (status, str(status), 5)


async def test_fault_codes_follow_the_spelling_switch(emulator: StartEmulator) -> None:
    api = await emulator(faults=only(p_409=1.0), hyphen_codes=True)
    assert (await api.add(IDS)).json()["Error"]["ErrorCode"] == "COLLECTION-CONCURRENT-UPDATE"


async def test_503_has_an_empty_body(emulator: StartEmulator) -> None:
    api = await emulator(faults=only(p_503=1.0))
    reply = await api.add(IDS)
    assert (reply.status, reply.body) == (503, b"")
    assert "Retry-After" not in reply.headers
    assert api.server.collection("demo-token") == {}


@pytest.mark.parametrize(("fault", "status"), [("p_504", 504), ("p_html", 502)])
async def test_html_pages_from_a_gateway_or_proxy(
    emulator: StartEmulator, fault: str, status: int
) -> None:
    api = await emulator(faults=only(**{fault: 1.0}))
    reply = await api.add(IDS)
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.body.lstrip().lower().startswith((b"<html", b"<!doctype html"))
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert api.server.collection("demo-token") == {}


@pytest.mark.parametrize(("seconds", "header"), [(2, "2"), (1.5, "1.5"), (0.25, "0.25"), (0, "0")])
@pytest.mark.parametrize("fault", ["p_429", "p_503"])
async def test_retry_after_in_seconds(
    emulator: StartEmulator, fault: str, seconds: float, header: str
) -> None:
    probabilities: dict[str, Any] = {fault: 1.0}
    api = await emulator(faults=FaultPlan(retry_after=seconds, **probabilities))
    reply = await api.add(IDS)
    assert reply.headers["Retry-After"] == header


async def test_retry_after_as_an_http_date(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(p_429=1.0, retry_after=30, retry_after_http_date=True))
    before = time.time()
    reply = await api.add(IDS)
    when = email.utils.parsedate_to_datetime(reply.headers["Retry-After"])
    assert reply.headers["Retry-After"].endswith(" GMT")
    assert before + 29 <= when.timestamp() <= time.time() + 31


async def test_dropped_connections(emulator: StartEmulator) -> None:
    api = await emulator(faults=only(p_drop=1.0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.add(IDS)
    assert api.server.collection("demo-token") == {}
    record = api.server.requests[-1]
    assert (record.status, record.fault, record.id_count) == (None, "drop", 5)

    # The server keeps serving afterwards.
    api.server.faults = FaultPlan()
    assert (await api.add(IDS)).status == 200


# -- faults applied after the request was processed ------------------------------------------


async def test_truncated_body(emulator: StartEmulator) -> None:
    api = await emulator(faults=only(p_truncated=1.0), seed=4)
    reply = await api.add(IDS)
    assert reply.status == 200
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    collection = api.server.collection("demo-token")
    assert list(collection) == IDS  # the server did the work
    whole = json.dumps(
        {"TrackActionResults": [{"InputId": i, "Id": collection[i]} for i in IDS]},
        separators=(",", ":"),
    ).encode()
    assert reply.body == whole[: len(whole) // 2]
    assert api.server.requests[-1].fault == "truncated"


async def test_non_json_body(emulator: StartEmulator) -> None:
    api = await emulator(faults=only(p_non_json=1.0))
    reply = await api.add(IDS)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert list(api.server.collection("demo-token")) == IDS


async def test_missing_item(emulator: StartEmulator) -> None:
    api = await emulator(faults=only(p_missing_item=1.0), seed=2)
    reply = await api.add([*IDS, "music.not-in-catalog"])
    assert reply.status == 200
    body = reply.json()
    got = [item["InputId"] for item in body["TrackActionResults"]]
    expected = [*IDS, "music.not-in-catalog"]
    assert len(got) == len(expected) - 1
    assert [i for i in expected if i not in got] != []
    assert [i for i in expected if i in got] == got  # still in request order
    assert body["Error"]["ErrorCode"] == "COLLECTION_SOME_OPERATIONS_FAILED"
    assert list(api.server.collection("demo-token")) == IDS
    assert api.server.requests[-1].fault == "missing_item"


@pytest.mark.parametrize("fault", ["p_truncated", "p_non_json", "p_missing_item"])
async def test_damage_only_hits_genuine_successes(emulator: StartEmulator, fault: str) -> None:
    api = await emulator(faults=only(**{fault: 1.0}))
    reply = await api.add(IDS, token="wrong")
    assert reply.status == 401
    assert reply.json()["Error"]["ErrorCode"] == "INVALID_AUTHORIZATION_HEADER"
    assert api.server.requests[-1].fault is None


# -- latency ---------------------------------------------------------------------------------


async def test_latency(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(latency=0.05))
    started = time.monotonic()
    assert (await api.add(IDS)).status == 200
    assert time.monotonic() - started >= 0.05


async def test_latency_with_jitter(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(latency=0.02, latency_jitter=0.02))
    started = time.monotonic()
    assert (await api.add(IDS)).status == 200
    assert time.monotonic() - started >= 0.02


async def test_latency_does_not_block_other_requests(emulator: StartEmulator) -> None:
    import asyncio

    api = await emulator(faults=FaultPlan(latency=0.2))
    started = time.monotonic()
    replies = await asyncio.gather(*(api.add([catalog_track_id(i)]) for i in range(10)))
    assert [r.status for r in replies] == [200] * 10
    assert time.monotonic() - started < 10 * 0.2  # concurrent, not one after the other


async def test_latency_is_kept_by_every_request(emulator: StartEmulator) -> None:
    import asyncio

    api = await emulator(faults=FaultPlan(latency=0.05))

    async def timed(n: int) -> float:
        await asyncio.sleep(n * 0.007)
        started = time.monotonic()
        assert (await api.add([catalog_track_id(n)])).status == 200
        return time.monotonic() - started

    elapsed = await asyncio.gather(*(timed(n) for n in range(20)))
    assert min(elapsed) >= 0.05
    assert max(elapsed) < 1.0


async def test_a_shorter_latency_overtakes_a_longer_one(emulator: StartEmulator) -> None:
    import asyncio

    api = await emulator(faults=FaultPlan(latency=0.4))
    done: list[str] = []

    async def add(name: str, n: int) -> None:
        started = time.monotonic()
        assert (await api.add([catalog_track_id(n)])).status == 200
        done.append(name)
        assert time.monotonic() - started >= (0.4 if name == "slow" else 0.02)

    slow = asyncio.create_task(add("slow", 1))
    await asyncio.sleep(0.05)
    api.server.faults = FaultPlan(latency=0.02)
    await add("fast", 2)
    await slow
    assert done == ["fast", "slow"]
    assert list(api.server.collection("demo-token")) == [catalog_track_id(2), catalog_track_id(1)]


async def test_stopping_lets_sleeping_requests_finish(emulator: StartEmulator) -> None:
    import asyncio

    api = await emulator(faults=FaultPlan(latency=0.1))
    replies = asyncio.gather(*(api.add([catalog_track_id(n)]) for n in range(5)))
    await asyncio.sleep(0.03)
    await api.server.stop()
    assert [r.status for r in await replies] == [200] * 5


async def test_stopping_cuts_requests_sleeping_too_long(emulator: StartEmulator) -> None:
    import asyncio

    api = await emulator(faults=FaultPlan(latency=30.0))
    reply = asyncio.ensure_future(api.add(IDS))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await api.server.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(aiohttp.ClientError):
        await reply
    await api.server.start()  # and it starts again, with its latency
    api.server.faults = FaultPlan(latency=0.02)
    assert (await api.add(IDS)).status == 200


# -- the plan itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_429": 1.5},
        {"p_500": -0.1},
        {"p_500": 0.6, "p_502": 0.6},
        {"latency": -1},
        {"latency_jitter": float("nan")},
        {"retry_after": -1},
    ],
)
def test_invalid_plans(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|add up"):
        FaultPlan(**kwargs)


def test_one_draw_per_roll_and_the_frequencies() -> None:
    plan = FaultPlan(p_429=0.25, p_500=0.25)
    rng, reference = random.Random(11), random.Random(11)
    rolls = [plan.roll(rng) for _ in range(4000)]
    reference_draws = [reference.random() for _ in range(4000)]
    assert rng.random() == reference.random()  # exactly one draw per roll
    assert rolls.count("429") == sum(u < 0.25 for u in reference_draws)
    assert 800 < rolls.count("429") < 1200 and 800 < rolls.count("500") < 1200
    assert FaultPlan().roll(rng) is None


# -- seeded reproducibility ------------------------------------------------------------------


async def run_session(api: Api) -> list[tuple[int | None, Any]]:
    """40 sequential adds of 3 new IDs each; what each answer was."""
    outcomes: list[tuple[int | None, Any]] = []
    for n in range(40):
        try:
            reply = await api.add([catalog_track_id(3 * n + k) for k in range(3)])
        except aiohttp.ClientError:
            outcomes.append((None, None))
            continue
        try:
            outcomes.append((reply.status, reply.json()))
        except ValueError:
            outcomes.append((reply.status, reply.body))
    return outcomes


PLAN = FaultPlan(
    p_429=0.1, p_500=0.1, p_drop=0.05, p_missing_item=0.1, p_truncated=0.05, latency_jitter=0.002
)


async def test_same_seed_same_faults_and_ids(emulator: StartEmulator) -> None:
    first = await emulator(faults=PLAN, seed=7)
    second = await emulator(faults=PLAN, seed=7)
    third = await emulator(faults=PLAN, seed=8)
    a, b, c = await run_session(first), await run_session(second), await run_session(third)
    assert a == b
    assert first.server.collection("demo-token") == second.server.collection("demo-token")
    assert [status for status, _ in a] != [status for status, _ in c]
    assert first.server.collection("demo-token") != third.server.collection("demo-token")
    assert {r.fault for r in first.server.requests} >= {None, "429", "500", "missing_item"}


async def test_the_seed_can_come_from_the_plan(emulator: StartEmulator) -> None:
    plan = FaultPlan(p_500=0.5, seed=21)
    first = await emulator(faults=plan)
    second = await emulator(faults=plan)
    assert await run_session(first) == await run_session(second)


async def test_assigning_a_seeded_plan_restarts_the_stream(emulator: StartEmulator) -> None:
    api = await emulator(seed=1)
    api.server.faults = FaultPlan(seed=99)
    first = (await api.add([catalog_track_id(1)])).json()
    await api.delete([first["TrackActionResults"][0]["Id"]])
    api.server.faults = FaultPlan(seed=99)
    again = (await api.add([catalog_track_id(1)])).json()
    assert again == first


async def test_faults_can_change_while_running(emulator: StartEmulator) -> None:
    api = await emulator()
    assert (await api.add(IDS)).status == 200
    api.server.faults = FaultPlan(p_500=1.0)
    assert api.server.faults.p_500 == 1.0
    assert (await api.add(IDS)).status == 500
    api.server.faults = FaultPlan()
    assert (await api.add(IDS)).status == 200
    with pytest.raises(TypeError):
        api.server.faults = {"p_500": 1.0}  # type: ignore[assignment]


# -- scripted responses ----------------------------------------------------------------------


async def test_scripted_responses_are_served_in_order(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(p_409=1.0))
    api.server.script(
        ScriptedResponse(
            500, {"Error": {"ErrorCode": "INTERNAL_SERVER_ERROR", "Description": "x"}}
        ),
        ScriptedResponse(429, headers={"Retry-After": "7"}),
    )
    api.server.script(ScriptedResponse(200, b'{"TrackActionResults":[]}'))
    assert api.server.pending_scripts == 3

    first, second, third, fourth = [await api.add(IDS) for _ in range(4)]
    assert (first.status, first.json()["Error"]["Description"]) == (500, "x")
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert (second.status, second.body, second.headers["Retry-After"]) == (429, b"", "7")
    assert "Content-Type" not in second.headers
    assert (third.status, third.body) == (200, b'{"TrackActionResults":[]}')
    assert fourth.status == 409  # the queue is empty: faults are rolled again
    assert api.server.pending_scripts == 0
    assert [r.fault for r in api.server.requests] == ["scripted"] * 3 + ["409"]
    assert [r.status for r in api.server.requests] == [500, 429, 200, 409]
    assert api.server.collection("demo-token") == {}


async def test_scripted_bodies_are_sent_as_given(emulator: StartEmulator) -> None:
    api = await emulator(hyphen_codes=False)
    api.server.script(
        ScriptedResponse(400, {"Error": {"ErrorCode": "COLLECTION-FULL", "Description": "d"}}),
        ScriptedResponse(502, "<html>bad gateway</html>", headers={"Content-Type": "text/html"}),
    )
    first, second = await api.add(IDS), await api.add(IDS)
    assert first.json()["Error"]["ErrorCode"] == "COLLECTION-FULL"  # no respelling
    assert (second.body, second.headers["Content-Type"]) == (
        b"<html>bad gateway</html>",
        "text/html",
    )


async def test_scripted_drop_with_and_without_apply(emulator: StartEmulator) -> None:
    api = await emulator()
    api.server.script(ScriptedResponse(drop=True), ScriptedResponse(drop=True, apply=True))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.add(IDS[:2])
    assert api.server.collection("demo-token") == {}
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.add(IDS[:2])
    assert list(api.server.collection("demo-token")) == IDS[:2]  # done, answer lost
    assert [(r.status, r.fault) for r in api.server.requests] == [(None, "scripted")] * 2


async def test_scripted_apply_with_an_error_status(emulator: StartEmulator) -> None:
    api = await emulator()
    api.server.script(ScriptedResponse(500, apply=True))
    assert (await api.add(IDS)).status == 500
    minted = api.server.collection("demo-token")
    assert list(minted) == IDS
    again = (await api.add(IDS)).json()
    assert [item["Id"] for item in again["TrackActionResults"]] == [minted[i] for i in IDS]


async def test_scripted_delay(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(latency=5.0))  # the plan's latency does not apply
    api.server.script(ScriptedResponse(204, delay=0.05))
    started = time.monotonic()
    assert (await api.add(IDS)).status == 204
    assert 0.05 <= time.monotonic() - started < 5.0


async def test_scripts_do_not_touch_the_profile(emulator: StartEmulator) -> None:
    api = await emulator(faults=FaultPlan(p_500=1.0))
    api.server.script(ScriptedResponse(503))
    assert (await api.profile()).status == 200
    assert api.server.pending_scripts == 1


def test_scripted_response_validation() -> None:
    with pytest.raises(ValueError, match="status"):
        ScriptedResponse(42)
    with pytest.raises(ValueError, match="delay"):
        ScriptedResponse(delay=-1)
    assert ScriptedResponse().encode() == (b"", {})
    assert ScriptedResponse(body={"a": 1}, headers={"content-type": "text/plain"}).encode() == (
        b'{"a":1}',
        {"content-type": "text/plain"},
    )


async def test_script_refuses_other_objects(api: Api) -> None:
    with pytest.raises(TypeError):
        api.server.script({"status": 500})  # type: ignore[arg-type]
    assert api.server.pending_scripts == 0
