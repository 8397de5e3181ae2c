"""The one place that knows the wire: names, shapes and encodings of the TrackAction objects.

A single cattrs :class:`~cattrs.Converter` maps the PascalCase wire members (spec section 4) to the
Python models; nothing else in the package spells ``TrackActionResults``. Production decoding
ignores unknown members (the service may add some); :func:`strict_converter` forbids them, so the
tests notice schema drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import DecodeError
from ._models import ErrorInfo

__all__ = [
    "JSON_CONTENT_TYPE",
    "WireItem",
    "WireResponse",
    "decode_error_body",
    "decode_response",
    "encode_request",
    "normalise_code",
    "strict_converter",
]

JSON_CONTENT_TYPE: Final = "application/json"


@attrs.frozen(slots=True)
class WireItem:
    """One TrackActionResult as the service sent it (``InputId`` is the service's echo)."""

    input_id: str
    id: str | None = None
    error: ErrorInfo | None = None


@attrs.frozen(slots=True)
class WireResponse:
    """A TrackActionResponse. ``results`` is ``None`` when the member was absent."""

    results: list[WireItem] | None = None
    error: ErrorInfo | None = None


@attrs.frozen(slots=True)
class WireRequest:
    """A TrackActionRequest."""

    track_ids: Sequence[str]


def normalise_code(code: str) -> str:
    """Return an error code in the wire's underscore spelling (spec section 5).

    The documentation pages print ``COLLECTION-INVALID-ID``; the service sent
    ``COLLECTION_INVALID_ID``. Callers always see the latter.
    """
    return code.replace("-", "_")


def _strict_str(value: Any, _type: Any) -> str:
    # cattrs' default str hook calls str(value), which would turn a numeric InputId into "5"
    # and hide a malformed response.
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _make_converter(*, forbid_extra_keys: bool) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys, detailed_validation=False)
    conv.register_structure_hook(str, _strict_str)

    structure_error = make_dict_structure_fn(
        ErrorInfo,
        conv,
        _cattrs_forbid_extra_keys=forbid_extra_keys,
        code=override(rename="ErrorCode"),
        description=override(rename="Description"),
        message=override(rename="Message"),
    )

    def structure_error_info(value: Any, cls: type[ErrorInfo]) -> ErrorInfo:
        info = structure_error(value, cls)
        if "-" in info.code:
            return ErrorInfo(normalise_code(info.code), info.description, info.message)
        return info

    conv.register_structure_hook(ErrorInfo, structure_error_info)
    conv.register_unstructure_hook(
        ErrorInfo,
        make_dict_unstructure_fn(
            ErrorInfo,
            conv,
            _cattrs_omit_if_default=True,
            code=override(rename="ErrorCode", omit_if_default=False),
            description=override(rename="Description", omit_if_default=False),
            message=override(rename="Message"),
        ),
    )
    conv.register_structure_hook(
        WireItem,
        make_dict_structure_fn(
            WireItem,
            conv,
            _cattrs_forbid_extra_keys=forbid_extra_keys,
            input_id=override(rename="InputId"),
            id=override(rename="Id"),
            error=override(rename="Error"),
        ),
    )
    conv.register_unstructure_hook(
        WireItem,
        make_dict_unstructure_fn(
            WireItem,
            conv,
            _cattrs_omit_if_default=True,
            input_id=override(rename="InputId", omit_if_default=False),
            id=override(rename="Id"),
            error=override(rename="Error"),
        ),
    )
    conv.register_structure_hook(
        WireResponse,
        make_dict_structure_fn(
            WireResponse,
            conv,
            _cattrs_forbid_extra_keys=forbid_extra_keys,
            results=override(rename="TrackActionResults"),
            error=override(rename="Error"),
        ),
    )
    conv.register_unstructure_hook(
        WireResponse,
        make_dict_unstructure_fn(
            WireResponse,
            conv,
            _cattrs_omit_if_default=True,
            results=override(rename="TrackActionResults"),
            error=override(rename="Error"),
        ),
    )
    conv.register_structure_hook(
        WireRequest,
        make_dict_structure_fn(
            WireRequest,
            conv,
            _cattrs_forbid_extra_keys=forbid_extra_keys,
            track_ids=override(rename="TrackIds"),
        ),
    )
    conv.register_unstructure_hook(
        WireRequest,
        make_dict_unstructure_fn(WireRequest, conv, track_ids=override(rename="TrackIds")),
    )
    return conv


_converter: Final = _make_converter(forbid_extra_keys=False)
_strict: Final = _make_converter(forbid_extra_keys=True)


def strict_converter() -> cattrs.Converter:
    """The converter that refuses unknown members: for tests that guard against schema drift."""
    return _strict


def converter() -> cattrs.Converter:
    """The production converter (unknown members ignored)."""
    return _converter


def encode_request(track_ids: Sequence[str]) -> bytes:
    """Encode a TrackActionRequest as JSON bytes."""
    payload = _converter.unstructure(WireRequest(list(track_ids)))
    return json.dumps(payload, separators=(",", ":")).encode()


def _load_json(body: bytes) -> Any:
    # json.loads on bytes detects UTF-8 with or without a BOM (spec section 1: tolerate a BOM).
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise DecodeError(f"response body is not JSON: {_excerpt(body)}") from exc


def decode_response(
    body: bytes, *, structure: Callable[[Any, type[WireResponse]], WireResponse] | None = None
) -> WireResponse:
    """Decode a TrackActionResponse from JSON bytes.

    Raises:
        DecodeError: the body is not JSON or not shaped like a TrackActionResponse.
    """
    data = _load_json(body)
    if not isinstance(data, Mapping):
        raise DecodeError(f"response is JSON but not an object: {_excerpt(body)}")
    results = data.get("TrackActionResults")
    if results is not None and not isinstance(results, list):
        raise DecodeError("TrackActionResults is not a list")
    try:
        return (structure or _converter.structure)(data, WireResponse)
    except Exception as exc:  # any failure to structure hostile data is a DecodeError
        raise DecodeError(f"response does not match TrackActionResponse: {exc!r:.200}") from exc


def decode_error_body(body: bytes) -> ErrorInfo | None:
    """Read the ``Error`` member of a whole-request error body, or ``None`` if there is none.

    Error bodies of 4xx/5xx responses may be empty, HTML from a proxy or truncated (spec
    section 5); none of that is an error here, the status alone then decides.
    """
    if not body.strip():
        return None
    try:
        response = decode_response(body)
    except DecodeError:
        return None
    return response.error


def encode_response(response: WireResponse) -> bytes:
    """Encode a TrackActionResponse as JSON bytes (used by tests and tools, not the emulator)."""
    return json.dumps(_converter.unstructure(response), separators=(",", ":")).encode()


def _excerpt(body: bytes, limit: int = 80) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > limit else "")
