"""The one place that knows the wire: names, shapes and encodings of the TrackAction objects.

A single cattrs :class:`~cattrs.Converter` maps the PascalCase wire members (spec section 4) to the
Python models; nothing else in the package spells ``TrackActionResults``. Production decoding
ignores unknown members (the service may add some); :func:`strict_converter` forbids them, so the
tests notice schema drift.

Both encodings are driven by that converter. JSON is ``orjson.dumps(converter.unstructure(model))``.
XML (spec section 6) is the same unstructured dict written by a generic writer, and read back by a
generic reader into the same dict shape before ``converter.structure``. The only XML-specific
knowledge is derived from :data:`_CONTRACTS` (one entry per wire type: its DataContract name and
its member names) and the attrs field types: a ``list[str]`` member is written as WCF writes a
``List<string>``, a list of objects holds one element per item named after the item's type.

The XML reader is hardened (spec section 6 says nothing about it; the service is gone, so anything
that answers may be hostile): no DTD, hence no entity expansion ("billion laughs") and no external
entities; a size cap; a depth and an element cap. Every failure is a :class:`DecodeError`.
"""

from __future__ import annotations

import operator
import re
import types
from collections.abc import Callable, Mapping, Sequence
from typing import (
    Any,
    Final,
    Literal,
    NoReturn,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    overload,
)
from xml.parsers import expat

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import DecodeError
from ._models import Columns, ErrorInfo

__all__ = [
    "JSON_CONTENT_TYPE",
    "MAX_XML_BODY",
    "XML_CONTENT_TYPE",
    "WireFormat",
    "WireItem",
    "WireResponse",
    "decode_error_body",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "media_type",
    "normalise_code",
    "strict_converter",
]

T = TypeVar("T")

WireFormat = Literal["json", "xml"]
"""The two encodings the service speaks (spec sections 1 and 6)."""

JSON_CONTENT_TYPE: Final = "application/json"
XML_CONTENT_TYPE: Final = "application/xml"

_CONTENT_TYPES: Final[Mapping[str, str]] = {"json": JSON_CONTENT_TYPE, "xml": XML_CONTENT_TYPE}

#: The largest XML body the reader parses: the transport's cap (``DEFAULT_MAX_BODY``), repeated
#: here so that a body handed to the decoder directly is bounded too.
MAX_XML_BODY: Final = 8 * 1024 * 1024

# Spec section 6: the platform's default namespace, and the one the later SDK's contracts used.
_PLATFORM_NAMESPACE: Final = "http://schemas.microsoft.com/xboxmusic/2013/10/platform"
_SDK_NAMESPACE: Final = "http://schemas.microsoft.com/groovemusic/2016/09/api"
_XSI_NAMESPACE: Final = "http://www.w3.org/2001/XMLSchema-instance"
_ARRAYS_NAMESPACE: Final = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
_NAMESPACES: Final = frozenset({_PLATFORM_NAMESPACE, _SDK_NAMESPACE})

_MAX_XML_DEPTH: Final = 32  # the deepest legitimate element (ErrorCode of an item) is at 5
_MAX_XML_ELEMENTS: Final = 10_000  # a full 100-item response has about 700 elements


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


@attrs.frozen(slots=True)
class _Contract:
    """A wire type: its DataContract name (XML root or list item element) and its members."""

    name: str
    members: Mapping[str, str]  # Python field -> wire member


# The one table of wire names (spec sections 4 and 6), in dependency order: a type's hooks are
# generated after those of the types it holds. The converter and the XML schema both come from it.
_CONTRACTS: Final[Mapping[type, _Contract]] = {
    ErrorInfo: _Contract(
        "Error", {"code": "ErrorCode", "description": "Description", "message": "Message"}
    ),
    WireItem: _Contract("TrackActionResult", {"input_id": "InputId", "id": "Id", "error": "Error"}),
    WireResponse: _Contract(
        "TrackActionResponse", {"results": "TrackActionResults", "error": "Error"}
    ),
    WireRequest: _Contract("TrackActionRequest", {"track_ids": "TrackIds"}),
}


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
    # cattrs' default str hook calls str(value), which would turn a numeric InputId into "5"
    # and hide a malformed response.
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _normalised_error(info: ErrorInfo) -> ErrorInfo:
    if "-" in info.code:
        return ErrorInfo(normalise_code(info.code), info.description, info.message)
    return info


def _make_converter(*, forbid_extra_keys: bool) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys, detailed_validation=False)
    conv.register_structure_hook(str, _strict_str)
    for cls, contract in _CONTRACTS.items():
        fields = attrs.fields_dict(cls)
        renames: dict[str, Any] = {
            name: override(rename=wire) for name, wire in contract.members.items()
        }
        structure: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=forbid_extra_keys, **renames
        )
        if cls is ErrorInfo:
            structure = _normalising(structure)
        conv.register_structure_hook(cls, structure)
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


def _normalising(structure: Callable[[Any, Any], Any]) -> Callable[[Any, Any], ErrorInfo]:
    def structure_error_info(value: Any, cls: Any) -> ErrorInfo:
        return _normalised_error(structure(value, cls))

    return structure_error_info


class ItemColumns(Columns, Sequence[WireItem]):
    """TrackActionResults as the production decoder builds them: :class:`Columns` whose
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
# itemgetter, not methodcaller("get"): about 3x faster per item (no attribute lookup per call).
# A missing key raises KeyError, and any non-object item (list, string, number, null) TypeError.
_GET_INPUT_ID: Final = operator.itemgetter("InputId")
_GET_ID: Final = operator.itemgetter("Id")
_BOM: Final = b"\xef\xbb\xbf"


def _fast_response_hook(conv: cattrs.Converter) -> Callable[[Any, Any], WireResponse]:
    """A hand-tuned structure hook for the hot type: TrackActionResponse by column.

    It checks what the generated hooks check (objects where objects belong, strings where
    strings belong, an ``Error`` through the converter's own ErrorInfo hook) with C-level
    passes over each column instead of a generic call per item. The common response, every
    item exactly ``{"InputId", "Id"}``, is recognised from the items' sizes without looking
    for an ``Error`` in each.
    """
    structure_error = conv.get_structure_hook(ErrorInfo)

    def structure(data: Any, _cls: Any) -> WireResponse:
        error_data = data.get("Error")
        error = None if error_data is None else structure_error(error_data, ErrorInfo)
        items = data.get("TrackActionResults")
        if items is None:
            return WireResponse(None, error)
        if type(items) is not list:
            raise TypeError("TrackActionResults is not a list")
        try:
            # map() with itemgetter walks each column in C, with no Python frame per item. Only
            # an object can answer ["InputId"]: a list, string, number or null raises TypeError.
            input_ids = list(map(_GET_INPUT_ID, items))
        except (KeyError, TypeError):
            if not set(map(type, items)) <= {dict}:
                raise TypeError("a TrackActionResult is not an object") from None
            raise TypeError("an InputId is missing or not a string") from None
        if not set(map(type, input_ids)) <= {str}:
            raise TypeError("an InputId is missing or not a string")
        try:
            ids = list(map(_GET_ID, items))
            # Each item holds InputId and Id: exactly two members means no Error anywhere.
            plain = sum(map(len, items)) == 2 * len(items)
        except KeyError:  # some item has no Id (a failed one)
            ids = [item.get("Id") for item in items]
            plain = False
        if not set(map(type, ids)) <= {str, _NONE_TYPE}:
            raise TypeError("an Id is not a string")
        errors: dict[int, ErrorInfo] = {}
        if not plain:
            for n, item in enumerate(items):
                raw = item.get("Error")
                if raw is not None:
                    errors[n] = structure_error(raw, ErrorInfo)
        return WireResponse(ItemColumns(input_ids, ids, errors), error)  # type: ignore[arg-type]

    return structure


_converter: Final = _make_converter(forbid_extra_keys=False)
_converter.register_structure_hook(WireResponse, _fast_response_hook(_converter))
_strict: Final = _make_converter(forbid_extra_keys=True)


def strict_converter() -> cattrs.Converter:
    """The converter that refuses unknown members: for tests that guard against schema drift."""
    return _strict


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
        return _write_xml(type(model), payload)
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
    data = _load(body, content_type, WireResponse, _RESPONSE_ROOTS)
    return _structure(structure or _converter.structure, data, WireResponse)


def decode_error_body(body: bytes, content_type: str | None = None) -> ErrorInfo | None:
    """Read the ``Error`` member of a whole-request error body, or ``None`` if there is none.

    Error bodies of 4xx/5xx responses may be empty, HTML from a proxy or truncated (spec
    section 5); none of that is an error here, the status alone then decides. In XML the error
    document's root may be a ``TrackActionResponse`` or an ``ErrorResponse``.
    """
    if not body.strip():
        return None
    try:
        data = _load(body, content_type, WireResponse, _ERROR_ROOTS)
        return _structure(_converter.structure, data, WireResponse).error
    except DecodeError:
        return None


def decode_request(body: bytes, content_type: str | None = None) -> list[str]:
    """Read the IDs of a TrackActionRequest in JSON or XML (for tools replaying traffic).

    The XML reader takes either item form of ``TrackIds`` (``d2p1:string`` or ``TrackId``).

    Raises:
        DecodeError: the body is not a TrackActionRequest.
    """
    data = _load(body, content_type, WireRequest, _REQUEST_ROOTS)
    return list(_structure(_converter.structure, data, WireRequest).track_ids)


def _structure(structure: Callable[[Any, type[T]], T], data: Any, cls: type[T]) -> T:
    try:
        return structure(data, cls)
    except Exception as exc:  # any failure to structure hostile data is a DecodeError
        name = _CONTRACTS[cls].name
        raise DecodeError(f"body does not match {name}: {exc!r:.200}") from exc


def _load(body: bytes, content_type: str | None, cls: type, roots: Mapping[str, type]) -> Any:
    """The body as the dict ``converter.structure`` takes for ``cls``, from JSON or XML."""
    if _is_xml(body, content_type):
        return _read_xml(body, roots)
    data = _load_json(body)
    if not isinstance(data, Mapping):
        raise DecodeError(f"body is JSON but not an object: {_excerpt(body)}")
    # cattrs would iterate a string given for a list (TrackIds: "abc" -> ["a", "b", "c"]).
    for member, shape in _SHAPES[cls].items():
        value = data.get(member)
        if value is not None and shape.kind in (_STRINGS, _OBJECTS) and type(value) is not list:
            raise DecodeError(f"{member} is not a list")
    return data


def _load_json(body: bytes) -> Any:
    # orjson: about 4x faster than json.loads here, which was the largest cost per ID left after
    # the hand-tuned hook (benchmarks/). It refuses a BOM, which spec section 1 says to tolerate.
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        return orjson.loads(body)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise DecodeError(f"body is not JSON: {_excerpt(body)}") from exc


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


def _excerpt(body: bytes, limit: int = 80) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > limit else "")


# -- XML schema, derived from the contracts and the attrs field types ------------------------------

_TEXT: Final = "text"
_OBJECT: Final = "object"
_STRINGS: Final = "strings"  # WCF List<string>: items are d2p1:string in the Arrays namespace
_OBJECTS: Final = "objects"  # a wrapper holding one element per item, named after the item type


@attrs.frozen(slots=True)
class _Member:
    """How one wire member looks in XML: its kind and, for objects, the attrs class held."""

    kind: str
    cls: type | None = None


def _member_shape(annotation: Any) -> _Member:
    if get_origin(annotation) in (Union, types.UnionType):  # X | None: absent members are omitted
        (annotation,) = (arg for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) in (list, Sequence):
        (item,) = get_args(annotation)
        if item is str:
            return _Member(_STRINGS)
        if item in _CONTRACTS:
            return _Member(_OBJECTS, item)
    elif annotation in _CONTRACTS:
        return _Member(_OBJECT, annotation)
    elif annotation is str:
        return _Member(_TEXT)
    raise TypeError(f"no XML rule for a member of type {annotation!r}")  # pragma: no cover


def _schema(cls: type) -> Mapping[str, _Member]:
    hints = get_type_hints(cls)
    return {wire: _member_shape(hints[name]) for name, wire in _CONTRACTS[cls].members.items()}


_SHAPES: Final[Mapping[type, Mapping[str, _Member]]] = {cls: _schema(cls) for cls in _CONTRACTS}

_RESPONSE_ROOTS: Final[Mapping[str, type]] = {_CONTRACTS[WireResponse].name: WireResponse}
_REQUEST_ROOTS: Final[Mapping[str, type]] = {_CONTRACTS[WireRequest].name: WireRequest}
# A whole-request error document: the response type holding only Error, or (other endpoints,
# filters in front of the service) an ErrorResponse with the same Error member.
_ERROR_ROOTS: Final[Mapping[str, type]] = {**_RESPONSE_ROOTS, "ErrorResponse": WireResponse}


# -- XML writer ------------------------------------------------------------------------------------

# Text content: the three markup characters, and CR, which a parser would turn into LF.
_XML_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot be carried by XML 1.0")
    return value.translate(_XML_ESCAPES)


def _write_xml(cls: type, data: Mapping[str, Any]) -> bytes:
    """Write an unstructured model as the service's DataContract XML (spec section 6).

    UTF-8, no XML declaration and no whitespace between elements, like the documented request.
    """
    name = _CONTRACTS[cls].name
    out = [f'<{name} xmlns:i="{_XSI_NAMESPACE}" xmlns="{_PLATFORM_NAMESPACE}">']
    _write_members(out, cls, data)
    out.append(f"</{name}>")
    return "".join(out).encode("utf-8")


def _write_members(out: list[str], cls: type, data: Mapping[str, Any]) -> None:
    schema = _SHAPES[cls]
    for key in sorted(data):  # DataContractSerializer order: alphabetical (spec section 6)
        value = data[key]
        member = schema[key]
        if member.kind == _STRINGS:
            out.append(f'<{key} xmlns:d2p1="{_ARRAYS_NAMESPACE}">')
            out.extend(f"<d2p1:string>{_xml_text(item)}</d2p1:string>" for item in value)
        elif member.kind == _OBJECTS:
            assert member.cls is not None
            item_name = _CONTRACTS[member.cls].name
            out.append(f"<{key}>")
            for item in value:
                out.append(f"<{item_name}>")
                _write_members(out, member.cls, item)
                out.append(f"</{item_name}>")
        elif member.kind == _OBJECT:
            assert member.cls is not None
            out.append(f"<{key}>")
            _write_members(out, member.cls, value)
        else:
            out.append(f"<{key}>{_xml_text(value)}")
        out.append(f"</{key}>")


# -- XML reader ------------------------------------------------------------------------------------

_NIL: Final = f"{_XSI_NAMESPACE} nil"
_SKIP: Final = "skip"  # an i:nil member (absent) or an element inside an unknown member
_UNKNOWN: Final = "unknown"  # a member the schema does not know: kept as text for the strict check


class _Frame:
    """One open element of the document being read."""

    __slots__ = ("cls", "key", "kind", "name", "value")

    def __init__(self, kind: str, name: str, key: str | None, cls: type | None, value: Any) -> None:
        self.kind = kind
        self.name = name
        self.key = key  # the member to set in the parent object; None for list items and the root
        self.cls = cls
        self.value = value  # dict (object), list (lists), list of text parts (text, unknown)


class _XmlReader:
    """Builds, from expat's events, the dict the JSON decoder would have produced.

    No recursion (a stack of frames), so depth is only limited by the explicit cap.
    """

    __slots__ = ("count", "result", "roots", "stack")

    def __init__(self, roots: Mapping[str, type]) -> None:
        self.roots = roots
        self.stack: list[_Frame] = []
        self.count = 0
        self.result: dict[str, Any] | None = None

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        namespace, _, name = tag.rpartition(" ")
        self.count += 1
        if self.count > _MAX_XML_ELEMENTS:
            _fail(f"more than {_MAX_XML_ELEMENTS} elements")
        stack = self.stack
        if len(stack) >= _MAX_XML_DEPTH:
            _fail(f"elements nested deeper than {_MAX_XML_DEPTH}")
        if not stack:
            stack.append(self._root(namespace, name))
            return
        parent = stack[-1]
        kind = parent.kind
        if kind in (_SKIP, _UNKNOWN):
            stack.append(_Frame(_SKIP, name, None, None, None))
        elif kind == _OBJECT:
            stack.append(_member_frame(parent, name, attributes))
        elif kind == _STRINGS:  # any item element: d2p1:string (WCF) or TrackId (SDK contracts)
            stack.append(_Frame(_TEXT, name, None, None, []))
        elif kind == _OBJECTS:  # items are the wrapper's children, whatever their names
            stack.append(_Frame(_OBJECT, name, None, parent.cls, {}))
        else:
            _fail(f"unexpected element <{name}> inside <{parent.name}>")

    def _root(self, namespace: str, name: str) -> _Frame:
        root = self.roots.get(name)
        if root is None or namespace not in _NAMESPACES:
            expected = " or ".join(f"<{n}>" for n in self.roots)
            _fail(
                f"expected {expected} in namespace {_PLATFORM_NAMESPACE} or {_SDK_NAMESPACE}, "
                f"got <{name}> in {'namespace ' + namespace if namespace else 'no namespace'}"
            )
        return _Frame(_OBJECT, name, None, root, {})

    def end(self, _tag: str) -> None:
        frame = self.stack.pop()
        kind = frame.kind
        if kind == _SKIP:
            return
        value = "".join(frame.value) if kind in (_TEXT, _UNKNOWN) else frame.value
        if not self.stack:
            self.result = frame.value  # the root is always an object frame
            return
        parent = self.stack[-1]
        if frame.key is None:
            parent.value.append(value)
        else:
            parent.value[frame.key] = value

    def text(self, data: str) -> None:
        if not self.stack:  # pragma: no cover  (expat reports no text outside the root)
            return
        frame = self.stack[-1]
        if frame.kind in (_TEXT, _UNKNOWN):
            frame.value.append(data)
        elif frame.kind != _SKIP and not data.isspace():
            _fail(f"unexpected text inside <{frame.name}>: {data[:40]!r}")


def _member_frame(parent: _Frame, name: str, attributes: dict[str, str]) -> _Frame:
    """The frame of element ``name`` inside the object ``parent``, by the member's shape."""
    assert parent.cls is not None
    if name in parent.value:
        _fail(f"<{name}> appears twice in <{parent.name}>")
    if attributes.get(_NIL) in ("true", "1"):
        return _Frame(_SKIP, name, None, None, None)
    member = _SHAPES[parent.cls].get(name)
    if member is None:
        return _Frame(_UNKNOWN, name, name, None, [])
    if member.kind == _OBJECT:
        return _Frame(_OBJECT, name, name, member.cls, {})
    if member.kind == _TEXT:
        return _Frame(_TEXT, name, name, None, [])
    return _Frame(member.kind, name, name, member.cls, [])


def _fail(reason: str) -> NoReturn:
    raise DecodeError(f"unreadable XML: {reason}")


def _refuse_dtd(*_: object) -> None:
    # No DTD means no entity can be declared: no expansion bombs, no external entities.
    _fail("a DTD (<!DOCTYPE>) is not accepted")


def _refuse_entity(*_: object) -> None:
    _fail("entity declarations are not accepted")  # pragma: no cover  (the DTD is refused first)


def _refuse_external(*_: object) -> int:
    _fail("external entities are not accepted")  # pragma: no cover  (the DTD is refused first)


def _read_xml(body: bytes, roots: Mapping[str, type]) -> dict[str, Any]:
    """Parse an XML body into the dict of one of ``roots``, with every hardening applied.

    Raises:
        DecodeError: too large, not well-formed, a DTD or entity, too deep, or the wrong root.
    """
    if len(body) > MAX_XML_BODY:
        _fail(f"a body of {len(body)} bytes is over the {MAX_XML_BODY}-byte limit")
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.buffer_text = True
    reader = _XmlReader(roots)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(body, True)
    except DecodeError:
        raise
    except (expat.ExpatError, ValueError, UnicodeError) as exc:
        raise DecodeError(f"body is not well-formed XML ({exc}): {_excerpt(body)}") from exc
    if reader.result is None:  # pragma: no cover  (expat reports "no element found" first)
        _fail("no root element")
    return reader.result
