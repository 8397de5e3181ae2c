"""The XML encoding of the wire types (spec section 6): a generic DataContract writer and a
hardened reader, both driven by the schema of :mod:`groove_async._contracts`.

A ``list[str]`` member is written as WCF writes a ``List<string>``; a list of objects holds one
element per item named after the item's type. The reader builds the same dict the JSON decoder
produces, for the converter to structure.

The reader is hardened (spec section 6 says nothing about it; the service is gone, so anything
that answers may be hostile): no DTD, hence no entity expansion ("billion laughs") and no
external entities; a size cap; a depth and an element cap. Every failure is a
:class:`DecodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, NoReturn
from xml.parsers import expat

from ._contracts import CONTRACTS, OBJECT, OBJECTS, SHAPES, STRINGS, TEXT
from ._errors import DecodeError

__all__ = ["MAX_XML_BODY", "excerpt", "read_xml", "write_xml"]

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


def excerpt(body: bytes, limit: int = 80) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > limit else "")


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


def write_xml(cls: type, data: Mapping[str, Any]) -> bytes:
    """Write an unstructured model as the service's DataContract XML (spec section 6).

    UTF-8, no XML declaration and no whitespace between elements, like the documented request.
    """
    name = CONTRACTS[cls].name
    out = [f'<{name} xmlns:i="{_XSI_NAMESPACE}" xmlns="{_PLATFORM_NAMESPACE}">']
    _write_members(out, cls, data)
    out.append(f"</{name}>")
    return "".join(out).encode("utf-8")


def _write_members(out: list[str], cls: type, data: Mapping[str, Any]) -> None:
    schema = SHAPES[cls]
    for key in sorted(data):  # DataContractSerializer order: alphabetical (spec section 6)
        value = data[key]
        member = schema[key]
        if member.kind == STRINGS:
            out.append(f'<{key} xmlns:d2p1="{_ARRAYS_NAMESPACE}">')
            out.extend(f"<d2p1:string>{_xml_text(item)}</d2p1:string>" for item in value)
        elif member.kind == OBJECTS:
            assert member.cls is not None
            item_name = CONTRACTS[member.cls].name
            out.append(f"<{key}>")
            for item in value:
                out.append(f"<{item_name}>")
                _write_members(out, member.cls, item)
                out.append(f"</{item_name}>")
        elif member.kind == OBJECT:
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
        elif kind == OBJECT:
            stack.append(_member_frame(parent, name, attributes))
        elif kind == STRINGS:  # any item element: d2p1:string (WCF) or TrackId (SDK contracts)
            stack.append(_Frame(TEXT, name, None, None, []))
        elif kind == OBJECTS:  # items are the wrapper's children, whatever their names
            stack.append(_Frame(OBJECT, name, None, parent.cls, {}))
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
        return _Frame(OBJECT, name, None, root, {})

    def end(self, _tag: str) -> None:
        frame = self.stack.pop()
        kind = frame.kind
        if kind == _SKIP:
            return
        value = "".join(frame.value) if kind in (TEXT, _UNKNOWN) else frame.value
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
        if frame.kind in (TEXT, _UNKNOWN):
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
    member = SHAPES[parent.cls].get(name)
    if member is None:
        return _Frame(_UNKNOWN, name, name, None, [])
    if member.kind == OBJECT:
        return _Frame(OBJECT, name, name, member.cls, {})
    if member.kind == TEXT:
        return _Frame(TEXT, name, name, None, [])
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


def read_xml(body: bytes, roots: Mapping[str, type]) -> dict[str, Any]:
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
        raise DecodeError(f"body is not well-formed XML ({exc}): {excerpt(body)}") from exc
    if reader.result is None:  # pragma: no cover  (expat reports "no element found" first)
        _fail("no root element")
    return reader.result
