"""The hand-tuned TrackActionResponse hook decodes exactly what the generated hooks decode
(issue 20): the same value for every body both accept, and a failure for every body either
refuses, on generated bodies, well-formed and malformed. (Bodies are JSON objects: the
decoder refuses anything else before a hook sees it.)"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from groove_async._contracts import CONTRACTS, WireItem, WireResponse
from groove_async._models import ErrorInfo
from groove_async._wire import converter
from tests.wire_helpers import reference_converter

_ITEM = CONTRACTS[WireItem].members
_RESPONSE = CONTRACTS[WireResponse].members
_ERROR = CONTRACTS[ErrorInfo].members

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
_code = st.sampled_from(["COLLECTION_INVALID_ID", "COLLECTION-INVALID-ID", ""])
_error = st.fixed_dictionaries(
    {_ERROR["code"]: _code},
    optional={_ERROR["description"]: st.text(max_size=8) | _json, _ERROR["message"]: _json},
)
_ids = st.text(max_size=12)
# Well-formed items (a success, a refusal, a delete's success), and items with members of the
# wrong type or missing, and values that are not items at all.
_good_item = st.fixed_dictionaries(
    {_ITEM["input_id"]: _ids},
    optional={_ITEM["id"]: _ids, _ITEM["error"]: _error},
)
_bad_item = st.fixed_dictionaries(
    {},
    optional={
        _ITEM["input_id"]: _ids | _json,
        _ITEM["id"]: _ids | _json,
        _ITEM["error"]: _error | _json,
        "Extra": _json,
    },
)
_items = st.lists(_good_item, max_size=6) | st.lists(
    st.one_of(_good_item, _bad_item, _json), max_size=6
)
_bodies = st.fixed_dictionaries(
    {},
    optional={
        _RESPONSE["results"]: _items | _json,
        _RESPONSE["error"]: _error | _json,
        "Other": _json,
    },
)


def _decode(structure: Any, body: Any) -> tuple[str, Any]:
    try:
        return "ok", structure(body, WireResponse)
    except Exception:  # noqa: BLE001 - the readers turn any failure into a DecodeError
        return "refused", None


@settings(max_examples=600, deadline=None)
@given(body=_bodies | st.dictionaries(st.text(max_size=6), _json))
@example(body={_RESPONSE["results"]: [{_ITEM["input_id"]: "a", _ITEM["id"]: "b"}]})
@example(body={_RESPONSE["results"]: "abc"})
@example(body={_RESPONSE["results"]: [{_ITEM["input_id"]: "a", _ITEM["id"]: None}]})
@example(body={_RESPONSE["results"]: [{_ITEM["input_id"]: True}]})
@example(body={_RESPONSE["results"]: [{_ITEM["input_id"]: "a", _ITEM["error"]: None}]})
def test_the_hot_hook_decodes_exactly_what_the_generated_hooks_decode(body: Any) -> None:
    fast, fast_value = _decode(converter().structure, body)
    generic, generic_value = _decode(reference_converter().structure, body)
    assert fast == generic
    if fast == "ok":
        assert fast_value.error == generic_value.error
        fast_items = None if fast_value.results is None else list(fast_value.results)
        assert fast_items == generic_value.results


def test_both_hooks_accept_the_common_and_the_partial_answer() -> None:
    body = {
        _RESPONSE["results"]: [
            {_ITEM["input_id"]: "music.A", _ITEM["id"]: "music.B"},
            {_ITEM["input_id"]: "music.C", _ITEM["error"]: {_ERROR["code"]: "X-Y"}},
        ]
    }
    expected = [WireItem("music.A", "music.B"), WireItem("music.C", None, ErrorInfo("X_Y"))]
    assert list(converter().structure(body, WireResponse).results or []) == expected
    assert reference_converter().structure(body, WireResponse).results == expected
