"""The one converter of the wire: shapes and encodings of every wire type (spec 4, 6 and 9).

A single cattrs :class:`~cattrs.Converter` maps the PascalCase wire members to the Python models,
every name taken from the table of :mod:`groove_async._contracts` (the only module that spells
them). Production decoding ignores unknown members (the service may add some); a converter made
by :func:`make_converter` with ``forbid_extra_keys=True`` forbids them, so the tests notice
schema drift. Section 9's bodies (playlists, browses, the profile) are JSON only:
:func:`encode_json` and :func:`decode_json`.

Both encodings are driven by that converter and by the contract table of
:mod:`groove_async._contracts`. JSON is ``orjson.dumps(converter.unstructure(model))``. XML (spec
section 6) is the same unstructured dict written and read back by :mod:`groove_async._xml`
(hardened: no DTD, caps on size, depth and elements) before ``converter.structure``. Every
failure to read is a :class:`DecodeError`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import (
    Any,
    Final,
    Literal,
    TypeVar,
    get_args,
    get_origin,
    overload,
)

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._contracts import (
    CONTRACTS,
    ERROR_ROOTS,
    OBJECTS,
    REQUEST_ROOTS,
    RESPONSE_ROOTS,
    SHAPES,
    STRINGS,
    WireItem,
    WireRequest,
    WireResponse,
)
from ._errors import DecodeError
from ._models import Columns, ErrorInfo
from ._xml import MAX_XML_BODY, excerpt, read_xml, write_xml

__all__ = [
    "JSON_CONTENT_TYPE",
    "MAX_XML_BODY",
    "XML_CONTENT_TYPE",
    "WireFormat",
    "WireItem",
    "WireResponse",
    "converter",
    "decode_error_body",
    "decode_json",
    "decode_request",
    "decode_response",
    "encode_json",
    "encode_request",
    "encode_response",
    "load_json",
    "make_converter",
    "media_type",
    "normalise_code",
]

T = TypeVar("T")

WireFormat = Literal["json", "xml"]
"""The two encodings the service speaks (spec sections 1 and 6)."""

JSON_CONTENT_TYPE: Final = "application/json"
XML_CONTENT_TYPE: Final = "application/xml"

_CONTENT_TYPES: Final[Mapping[str, str]] = {"json": JSON_CONTENT_TYPE, "xml": XML_CONTENT_TYPE}


def media_type(wire_format: str) -> str:
    """The media type of a wire format, for ``Content-Type`` and ``Accept``.

    Raises:
        ValueError: not ``"json"`` or ``"xml"``.
    """
    try:
        return _CONTENT_TYPES[wire_format]
    except (KeyError, TypeError):
        raise ValueError(f"wire_format must be 'json' or 'xml', got {wire_format!r:.40}") from None


def normalise_code(code: str) -> str:
    """Return an error code in the wire's underscore spelling (spec section 5).

    The documentation pages print ``COLLECTION-INVALID-ID``; the service sent
    ``COLLECTION_INVALID_ID``. Callers always see the latter.
    """
    return code.replace("-", "_")


def _strict_str(value: Any, _type: Any) -> str:
    # cattrs' default str hook calls str(value), which would turn a numeric input ID into "5"
    # and hide a malformed response.
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_int(value: Any, _type: Any) -> int:
    # The default hook calls int(value): "5" and true would read as counts.
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _strict_bool(value: Any, _type: Any) -> bool:
    # The default hook calls bool(value): the string "false" would read as True.
    if type(value) is not bool:
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def _strict_lists(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], list[Any]]]:
    """Lists of the wire are JSON arrays: cattrs' default hook iterates any iterable, so that a
    string given for a list would become its characters and an object its keys."""

    def factory(annotation: Any) -> Callable[[Any, Any], list[Any]]:
        (item,) = get_args(annotation)
        hook = conv.get_structure_hook(item)

        def structure(value: Any, _type: Any) -> list[Any]:
            if type(value) is not list:
                raise TypeError(f"expected a list, got {type(value).__name__}")
            return [hook(element, item) for element in value]

        return structure

    return factory


def _normalised_error(info: ErrorInfo) -> ErrorInfo:
    if "-" in info.code:
        return ErrorInfo(normalise_code(info.code), info.description, info.message)
    return info


def make_converter(*, forbid_extra_keys: bool) -> cattrs.Converter:
    """A converter of every wire type of the contracts table, with generated hooks only.

    The production converter is this with ``forbid_extra_keys=False`` plus the hand-tuned
    TrackActionResponse hook; the tests make the strict one (``True``) and compare against the
    generic hooks.
    """
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys, detailed_validation=False)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook_factory(_is_list, _strict_lists(conv))
    for cls, contract in CONTRACTS.items():
        fields = attrs.fields_dict(cls)
        renames: dict[str, Any] = {
            name: override(rename=wire) for name, wire in contract.members.items()
        }
        structure: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=forbid_extra_keys, **renames
        )
        if cls is ErrorInfo:
            structure = _normalising(structure)
        conv.register_structure_hook(cls, _objects_only(structure))
        # Spec section 4: absent members are omitted, never null. Only optional members (default
        # None) can be absent; an empty Description is still sent.
        omitting: dict[str, Any] = {
            name: override(rename=wire, omit_if_default=fields[name].default is None)
            for name, wire in contract.members.items()
        }
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **omitting)
        )
    return conv


def _objects_only(structure: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    """A wire object is a JSON object: the generated hook of a type whose members are all
    optional would take a list (or a string) as an object without members."""

    def structure_object(value: Any, cls: Any) -> T:
        if type(value) is not dict:
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return structure(value, cls)

    return structure_object


def _normalising(structure: Callable[[Any, Any], Any]) -> Callable[[Any, Any], ErrorInfo]:
    def structure_error_info(value: Any, cls: Any) -> ErrorInfo:
        return _normalised_error(structure(value, cls))

    return structure_error_info


class ItemColumns(Columns, Sequence[WireItem]):
    """A TrackActionResponse's results as the production decoder builds them: :class:`Columns` whose
    ``input_ids`` are the service's echoes (outcomes are the merge's to decide), readable as a
    sequence of :class:`WireItem` like the generic hooks' list.

    A 100-item response would otherwise cost 100 attrs objects; the merge reads the columns
    directly and :class:`WireItem` values are made only when someone indexes or iterates.
    """

    __slots__ = ()

    def __init__(
        self, input_ids: list[str], ids: list[str | None], errors: dict[int, ErrorInfo]
    ) -> None:
        super().__init__(input_ids, ids, None, errors)

    @overload
    def __getitem__(self, index: int) -> WireItem: ...
    @overload
    def __getitem__(self, index: slice) -> list[WireItem]: ...
    def __getitem__(self, index: int | slice) -> WireItem | list[WireItem]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self.input_ids))[index]
        return WireItem(self.input_ids[i], self.ids[i], self.errors.get(i))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


_NONE_TYPE: Final = type(None)
# The hot hook's member names, from the one table.
_RESULTS: Final = CONTRACTS[WireResponse].members["results"]
_ERROR: Final = CONTRACTS[WireResponse].members["error"]
_ITEM_INPUT_ID: Final = CONTRACTS[WireItem].members["input_id"]
_ITEM_ID: Final = CONTRACTS[WireItem].members["id"]
_ITEM_ERROR: Final = CONTRACTS[WireItem].members["error"]
# itemgetter, not methodcaller("get"): no attribute lookup per item (benchmarks/RESULTS.md).
# A missing key raises KeyError, and any non-object item (list, string, number, null) TypeError.
_GET_INPUT_ID: Final = operator.itemgetter(_ITEM_INPUT_ID)
_GET_ID: Final = operator.itemgetter(_ITEM_ID)
_BOM: Final = b"\xef\xbb\xbf"


def _fast_response_hook(conv: cattrs.Converter) -> Callable[[Any, Any], WireResponse]:
    """A hand-tuned structure hook for the hot type: TrackActionResponse by column.

    It checks what the generated hooks check (objects where objects belong, strings where
    strings belong, an ``Error`` through the converter's own ErrorInfo hook) with C-level
    passes over each column instead of a generic call per item. The common response, every
    item exactly its input ID and its ID, is recognised from the items' sizes without looking
    for an error in each. Its member names come from the contracts table, and a property test
    proves it decodes exactly what the generated hooks decode (tests/unit/test_wire_hot_hook.py).
    """
    structure_error = conv.get_structure_hook(ErrorInfo)

    def structure(data: Any, _cls: Any) -> WireResponse:
        error_data = data.get(_ERROR)
        error = None if error_data is None else structure_error(error_data, ErrorInfo)
        items = data.get(_RESULTS)
        if items is None:
            return WireResponse(None, error)
        if type(items) is not list:
            raise TypeError("the results are not a list")
        try:
            # map() with itemgetter walks each column in C, with no Python frame per item. Only
            # an object can answer [input ID]: a list, string, number or null raises TypeError.
            input_ids = list(map(_GET_INPUT_ID, items))
        except (KeyError, TypeError):
            if not set(map(type, items)) <= {dict}:
                raise TypeError("a TrackActionResult is not an object") from None
            raise TypeError("an input ID is missing or not a string") from None
        if not set(map(type, input_ids)) <= {str}:
            raise TypeError("an input ID is missing or not a string")
        try:
            ids = list(map(_GET_ID, items))
            # Each item holds its input ID and ID: exactly two members means no error anywhere.
            plain = sum(map(len, items)) == 2 * len(items)
        except KeyError:  # some item has no Id (a failed one)
            ids = [item.get(_ITEM_ID) for item in items]
            plain = False
        if not set(map(type, ids)) <= {str, _NONE_TYPE}:
            raise TypeError("an Id is not a string")
        errors: dict[int, ErrorInfo] = {}
        if not plain:
            for n, item in enumerate(items):
                raw = item.get(_ITEM_ERROR)
                if raw is not None:
                    errors[n] = structure_error(raw, ErrorInfo)
        return WireResponse(ItemColumns(input_ids, ids, errors), error)  # type: ignore[arg-type]

    return structure


_converter: Final = make_converter(forbid_extra_keys=False)
_converter.register_structure_hook(WireResponse, _fast_response_hook(_converter))


def converter() -> cattrs.Converter:
    """The production converter (unknown members ignored)."""
    return _converter


# -- encoding ------------------------------------------------------------------------------------


def encode_request(track_ids: Sequence[str], wire_format: WireFormat = "json") -> bytes:
    """Encode a TrackActionRequest.

    Args:
        track_ids: the IDs, in order.
        wire_format: ``"json"`` or ``"xml"`` (the documented DataContract layout, spec section 6).

    Raises:
        ValueError: an unknown ``wire_format``, or (XML) an ID holding a character XML 1.0
            cannot carry.
    """
    return _encode(WireRequest(list(track_ids)), wire_format)


def encode_response(response: WireResponse, wire_format: WireFormat = "json") -> bytes:
    """Encode a TrackActionResponse (used by tests and tools, not the emulator).

    Raises:
        ValueError: an unknown ``wire_format``, or (XML) a string holding a character XML 1.0
            cannot carry.
    """
    return _encode(response, wire_format)


def _encode(model: WireRequest | WireResponse, wire_format: str) -> bytes:
    media_type(wire_format)  # validates the format
    payload = _converter.unstructure(model)
    if wire_format == "xml":
        return write_xml(type(model), payload)
    return orjson.dumps(payload)


# -- decoding ------------------------------------------------------------------------------------


def decode_response(
    body: bytes,
    *,
    structure: Callable[[Any, type[WireResponse]], WireResponse] | None = None,
    content_type: str | None = None,
) -> WireResponse:
    """Decode a TrackActionResponse from JSON or XML bytes.

    Args:
        body: the response body.
        structure: the cattrs structure function (tests pass the strict converter's).
        content_type: the response's ``Content-Type``. When it names JSON or XML it decides the
            format; otherwise the body does (``<`` after any BOM and whitespace means XML), so a
            JSON answer to an XML request is still read.

    Raises:
        DecodeError: the body is not JSON or XML, or not shaped like a TrackActionResponse.
    """
    data = _load(body, content_type, WireResponse, RESPONSE_ROOTS)
    return _structure(structure or _converter.structure, data, WireResponse)


def encode_json(model: Any) -> bytes:
    """Encode a wire type of the contracts table as JSON (absent members omitted)."""
    return orjson.dumps(_converter.unstructure(model))


def decode_json(body: bytes, cls: type[T]) -> T:
    """Decode a JSON body as the wire type ``cls`` of the contracts table (unknown members
    ignored; a UTF-8 BOM tolerated).

    Raises:
        DecodeError: the body is not JSON, or not shaped like ``cls``.
    """
    data = load_json(body)
    if not isinstance(data, Mapping):
        raise DecodeError(f"body is JSON but not an object: {excerpt(body)}")
    return _structure(_converter.structure, data, cls)


def decode_error_body(body: bytes, content_type: str | None = None) -> ErrorInfo | None:
    """Read the ``Error`` member of a whole-request error body, or ``None`` if there is none.

    Error bodies of 4xx/5xx responses may be empty, HTML from a proxy or truncated (spec
    section 5); none of that is an error here, the status alone then decides. In XML the error
    document's root may be a ``TrackActionResponse`` or an ``ErrorResponse``.
    """
    if not body.strip():
        return None
    try:
        data = _load(body, content_type, WireResponse, ERROR_ROOTS)
        return _structure(_converter.structure, data, WireResponse).error
    except DecodeError:
        return None


def decode_request(body: bytes, content_type: str | None = None) -> list[str]:
    """Read the IDs of a TrackActionRequest in JSON or XML (for tools replaying traffic).

    The XML reader takes either item form of ``TrackIds`` (``d2p1:string`` or ``TrackId``).

    Raises:
        DecodeError: the body is not a TrackActionRequest.
    """
    data = _load(body, content_type, WireRequest, REQUEST_ROOTS)
    return list(_structure(_converter.structure, data, WireRequest).track_ids)


def _structure(structure: Callable[[Any, type[T]], T], data: Any, cls: type[T]) -> T:
    try:
        return structure(data, cls)
    except Exception as exc:  # any failure to structure hostile data is a DecodeError
        name = CONTRACTS[cls].name
        raise DecodeError(f"body does not match {name}: {exc!r:.200}") from exc


def _load(body: bytes, content_type: str | None, cls: type, roots: Mapping[str, type]) -> Any:
    """The body as the dict ``converter.structure`` takes for ``cls``, from JSON or XML."""
    if _is_xml(body, content_type):
        return read_xml(body, roots)
    data = load_json(body)
    if not isinstance(data, Mapping):
        raise DecodeError(f"body is JSON but not an object: {excerpt(body)}")
    # cattrs would iterate a string given for a list (TrackIds: "abc" -> ["a", "b", "c"]).
    for member, shape in SHAPES[cls].items():
        value = data.get(member)
        if value is not None and shape.kind in (STRINGS, OBJECTS) and type(value) is not list:
            raise DecodeError(f"{member} is not a list")
    return data


def load_json(body: bytes) -> Any:
    """A JSON body (a UTF-8 BOM tolerated, spec section 1) as Python data.

    Raises:
        DecodeError: the body is not JSON.
    """
    # orjson, not json.loads: decoding was the largest cost per ID on the hot path (the figures
    # are in benchmarks/RESULTS.md). It refuses a BOM, which spec section 1 says to tolerate.
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        return orjson.loads(body)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise DecodeError(f"body is not JSON: {excerpt(body)}") from exc


# The first significant byte: after a UTF-8 BOM (spec section 1) and XML/JSON whitespace.
_FIRST_BYTE: Final = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*(.)", re.DOTALL)
_UTF16_XML_STARTS: Final = (b"\xff\xfe<\x00", b"\xfe\xff\x00<")


def _is_xml(body: bytes, content_type: str | None) -> bool:
    """Whether to read a body as XML: by its ``Content-Type`` if that says, else by its start."""
    if content_type:
        media = content_type.partition(";")[0].lower()
        if "json" in media:
            return False
        if "xml" in media:
            return True
    first = _FIRST_BYTE.match(body)
    return (first is not None and first.group(1) == b"<") or body.startswith(_UTF16_XML_STARTS)
