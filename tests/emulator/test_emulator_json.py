"""The emulator reads JSON bodies with orjson, falling back to the stdlib: the same answers.

The stdlib decoder is the reference (it was the emulator's only JSON reader): for any body,
``_parse_track_ids`` must find the same IDs and the same problem as reading it with
``json.loads`` alone. orjson refuses what it does not take (a BOM, NaN, lone surrogates,
UTF-16/32, deep nesting...), and the stdlib then decides; what orjson accepts it reads as the
stdlib does, but for big integers and float rounding, which no TrackActionRequest holds.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groove_async.testing import catalog_track_id
from groove_async.testing._server import _INVALID, _MISSING, _parse_track_ids


def reference(body: bytes) -> tuple[list[str] | None, str | None]:
    """The stdlib-only reading of a JSON TrackActionRequest."""
    if not body.strip():
        return None, _MISSING
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, _INVALID
    if type(data) is not dict:
        return None, _INVALID
    ids = data.get("TrackIds")
    if ids is None:
        return None, _MISSING
    if type(ids) is not list or not all(type(i) is str for i in ids):
        return None, _INVALID
    if not ids:
        return ids, _MISSING
    return ids, None


def check(body: bytes) -> None:
    if body.lstrip().lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return  # read as XML
    assert _parse_track_ids(body, "application/json") == reference(body), body


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
