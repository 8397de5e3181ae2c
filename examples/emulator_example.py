"""Test your own code against the Groove emulator: python examples/emulator_example.py"""

import asyncio

import aiohttp  # the code under test is a bare aiohttp client

from groove_async.testing import FakeGrooveServer, FaultPlan, ScriptedResponse, catalog_track_id


async def import_tracks(base_url: str, token: str, track_ids: list[str]) -> dict[str, str]:
    """The code under test: add tracks 100 at a time, retrying throttling and 5xx answers.

    Returns catalog ID -> collection ID for the tracks that were added.
    """
    added: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url) as session:
        for start in range(0, len(track_ids), 100):
            batch = track_ids[start : start + 100]
            for _attempt in range(5):
                async with session.post(
                    "/1/content/music/collection/add", json={"TrackIds": batch}, headers=headers
                ) as response:
                    if response.status == 429 or response.status >= 500:
                        await asyncio.sleep(float(response.headers.get("Retry-After", "0.01")))
                        continue
                    response.raise_for_status()
                    body = await response.json()
                    break
            else:
                raise RuntimeError("the service kept failing")
            # One result per input, in request order; InputId is upper-cased, so go by position.
            for track_id, result in zip(batch, body["TrackActionResults"], strict=True):
                if "Id" in result:
                    added[track_id] = result["Id"]
    return added


async def main() -> None:
    tracks = [catalog_track_id(n) for n in range(250)]  # IDs the emulator's catalog knows

    # 1. The happy path: check the result against the server's state.
    async with FakeGrooveServer(tokens=["user-1"]) as server:
        added = await import_tracks(server.url, "user-1", tracks)
        assert added == server.collection("user-1")
        assert [r.id_count for r in server.requests] == [100, 100, 50]

    # 2. Exact answers for the next requests: a throttle, then a lost answer to a request the
    #    server did carry out (the retry then gets the same collection IDs back).
    async with FakeGrooveServer(tokens=["user-1"]) as server:
        server.script(
            ScriptedResponse(429, headers={"Retry-After": "0.05"}),
            ScriptedResponse(500, apply=True),
        )
        added = await import_tracks(server.url, "user-1", tracks)
        assert added == server.collection("user-1")
        assert [r.status for r in server.requests] == [429, 500, 200, 200, 200]

    # 3. Random faults, reproducible with a seed.
    faults = FaultPlan(p_503=0.3, p_500=0.1, retry_after=0.01, latency=0.001, seed=6)
    async with FakeGrooveServer(tokens=["user-1"], faults=faults) as server:
        added = await import_tracks(server.url, "user-1", tracks)
        assert len(added) == 250
        failures = [r.fault for r in server.requests if r.fault]
        assert failures == ["500", "503", "500"]  # the same faults on every run with seed 6
        print(f"imported {len(added)} tracks through {len(failures)} injected faults: {failures}")


if __name__ == "__main__":
    asyncio.run(main())
