"""The benchmarks' server reads JSON bodies with orjson: the same readings as the emulator.

The emulator reads a TrackActionRequest with the standard library (the reference); the
benchmarks' server (``benchmarks/_bench_server.py``) tries orjson first and leaves to the
emulator's reading whatever orjson refuses (a BOM, NaN, lone surrogates, UTF-16/32, deep
nesting...). For any body both must find the same IDs and the same problem. What orjson
accepts it reads as the stdlib does, but for big integers and float rounding, which no
TrackActionRequest holds. Also here: the benchmarks' shared latency timer.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks._bench_server import BenchService, Sleeper
from groove_async.testing import catalog_track_id
from groove_async.testing._codec import read_track_ids
from groove_async.testing._http import HttpRequest

ADD = "/1/content/music/collection/add"
SERVICE = BenchService(
    ["t"], catalog=None, faults=None, seed=1, hyphen_codes=False, capacity=10, log_limit=0
)


def check(body: bytes) -> None:
    request = HttpRequest("POST", ADD, (("Content-Type", "application/json"),), body)
    assert SERVICE._read_track_ids(request) == read_track_ids(body, "application/json"), body


CASES = [
    b'{"TrackIds":["a"]}',
    b'\xef\xbb\xbf{"TrackIds":["a"]}',  # a BOM: orjson refuses it
    b'{"TrackIds":["\\ud800"]}',  # a lone surrogate, escaped
    b'{"TrackIds":["\xed\xa0\x80"]}',  # and raw (json.loads uses surrogatepass)
    b'{"TrackIds":["\\ud83d\\ude00", "\\u00e9", "\xc3\xa9", "\\/", "\\u0000"]}',
    b'{"TrackIds":["a"], "Other": NaN}',
    b'{"TrackIds":["a"], "Other": 1e400}',
    b'{"TrackIds":["a"], "Other": 123456789012345678901234567890}',
    b'{"TrackIds":123456789012345678901234567890}',
    b'{"TrackIds":[123456789012345678901234567890]}',
    b'{"TrackIds":[-Infinity]}',
    b'{"TrackIds":["a"],"TrackIds":["b","c"]}',
    b'{"TrackIds":["a"],"TrackIds":null}',
    b'{"TrackIds":[]}',
    b'{"TrackIds":null}',
    b"{}",
    b"[]",
    b'"TrackIds"',
    b"null",
    b'{"TrackIds":[["a"]]}',
    b'{"TrackIds":["a",null]}',
    b'{"TrackIds":["a"]}garbage',
    b'{"TrackIds":["\x01"]}',
    b'{"TrackIds":["\xff"]}',
    b'{"TrackIds":["a"]}\x00',
    b'\x0c{"TrackIds":["a"]}',
    b'\r\n\t {"TrackIds" : [ "a" , "b" ] } \n',
    b'{"TrackIds":["a"' + b"]" * 3,
    b'{"x":' + b"[" * 5000 + b"]" * 5000 + b', "TrackIds":["a"]}',  # deeper than orjson goes
    b'{"x":' + b"[" * 900 + b"]" * 900 + b', "TrackIds":["a"]}',
    b"   ",
    b"",
    json.dumps({"TrackIds": ["\u00e9"]}).encode("utf-16"),
    json.dumps({"TrackIds": ["x"]}).encode("utf-32"),
    json.dumps({"TrackIds": ["x"]}).encode("utf-16-be"),
    json.dumps({"TrackIds": [catalog_track_id(n) for n in range(100)]}).encode(),
]


def test_known_differences_between_the_decoders() -> None:
    for body in CASES:
        check(body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
requests = st.fixed_dictionaries(
    {"TrackIds": st.one_of(st.lists(st.text(max_size=8), max_size=5), json_values)},
    optional={"Other": json_values},
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    requests | json_values,
    st.sampled_from(["compact", "spaced", "ascii", "indent"]),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_same_reading_as_the_stdlib(value: Any, layout: str, encoding: str) -> None:
    if layout == "compact":
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    elif layout == "spaced":
        text = json.dumps(value, ensure_ascii=False)
    elif layout == "ascii":
        text = json.dumps(value)
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError:  # a lone surrogate
        body = text.encode(encoding, "surrogatepass")
    check(body)


@settings(max_examples=300)
@given(st.binary(max_size=40), st.binary(max_size=40))
def test_same_reading_of_damaged_bodies(prefix: bytes, suffix: bytes) -> None:
    body = json.dumps({"TrackIds": ["a", "b"]}).encode()
    check(prefix + body)
    check(body + suffix)
    check(prefix + body[: len(suffix)] + suffix)


@pytest.mark.parametrize("seed", range(5))
async def test_the_latency_queue_wakes_each_sleeper_in_time(seed: int) -> None:
    """The shared timer, under latencies that grow, repeat and shrink, and cancellations."""
    loop = asyncio.get_running_loop()
    sleeper = Sleeper(loop)
    rng = random.Random(seed)
    late: list[float] = []

    async def sleep(delay: float) -> None:
        due = loop.time() + delay
        await sleeper.sleep(delay)
        late.append(loop.time() - due)

    tasks = []
    for n in range(40):
        delay = rng.choice([0.01, 0.02, 0.02, 0.03, rng.uniform(0.001, 0.05)])
        tasks.append(asyncio.ensure_future(sleep(0.3 if n in (3, 10) else delay)))
        await asyncio.sleep(rng.choice([0, 0, 0.001, 0.004]))
        if n == 12:
            tasks[3].cancel()
            tasks[10].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(late) == 38
    assert tasks[3].cancelled() and tasks[10].cancelled()
    assert min(late) >= -1e-6  # never early
    await asyncio.sleep(0.35)  # the cancelled ones leave the queue at their time
    assert sleeper._timer is None and not sleeper._queue
    pending = asyncio.ensure_future(sleeper.sleep(10))
    sleeper.close()
    with pytest.raises(asyncio.CancelledError):
        await pending
