"""The emulator's XML (spec section 6): a writer for its response dicts, readers for requests
(TrackActionRequest, spec section 4, and PlaylistAction, spec section 9.1).

Written apart from the client's codec on purpose (nothing here comes from ``groove_async._wire``),
so that one misreading of the spec cannot hide in both sides. The reader is hardened as a public
server's must be: no DTD (hence no entity expansion and no external entities), a depth cap, and
the service's cap on request bodies (1 MiB, :data:`._http.MAX_BODY_BYTES`) bounding the size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn
from xml.parsers import expat

__all__ = [
    "XML_CONTENT_TYPE",
    "XmlRequestError",
    "encode_xml",
    "read_playlist_action",
    "read_track_ids",
]

XML_CONTENT_TYPE: Final = "application/xml; charset=utf-8"

# Spec section 6: the platform's default namespace (written), and the later SDK's (also read).
_PLATFORM: Final = "http://schemas.microsoft.com/xboxmusic/2013/10/platform"
_SDK: Final = "http://schemas.microsoft.com/groovemusic/2016/09/api"
_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
_ARRAYS: Final = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
_ROOT_NAMESPACES: Final = frozenset({_PLATFORM, _SDK})

#: A list of objects is a wrapper holding one element per item, named after the item's type
#: (spec section 6), found by the list's name or by ``parent/name``. Every other list the
#: emulator sends is a WCF ``List<string>``.
_ITEM_ELEMENTS: Final[Mapping[str, str]] = {
    "TrackActionResults": "TrackActionResult",
    "Tracks/Items": "Track",
    "Playlists/Items": "Playlist",
}

# The members of a PlaylistAction read as text (spec section 9.1), and of each TrackAction.
_ACTION_TEXT: Final = frozenset({"Id", "CollectionStateToken", "Name", "IsPublished"})
_TRACK_ACTION_TEXT: Final = frozenset({"Id", "Action"})
_XML_BOOLEANS: Final[Mapping[str, bool]] = {"true": True, "1": True, "false": False, "0": False}
_NIL: Final = f"{_XSI} nil"

_MAX_DEPTH: Final = 16

# Text content: the markup characters, and CR, which a parser would read back as LF.
_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class XmlRequestError(ValueError):
    """A request body is not a readable XML TrackActionRequest."""


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    text = value if type(value) is str else str(value)
    # XML 1.0 cannot carry most control characters or lone surrogates (an ID sent in JSON as
    # "\ud800" could hold one): they go out as U+FFFD rather than as a document nobody can read.
    if _NOT_XML_CHAR.search(text) is not None:
        text = _NOT_XML_CHAR.sub("\ufffd", text)
    return text.translate(_ESCAPES)


def encode_xml(type_name: str, payload: Mapping[str, Any]) -> bytes:
    """Write a response dict as the service's DataContract XML (spec section 6).

    The root element is ``type_name`` in the platform namespace; members are written in
    alphabetical order (DataContractSerializer's), ``None`` members are left out; booleans are
    ``true``/``false``. UTF-8, no XML declaration, no whitespace between elements.

    Raises:
        ValueError: a list of objects whose item element is not known.
    """
    out = [f'<{type_name} xmlns:i="{_XSI}" xmlns="{_PLATFORM}">']
    _write_members(out, payload)
    out.append(f"</{type_name}>")
    return "".join(out).encode("utf-8")


def _write_members(out: list[str], payload: Mapping[str, Any], parent: str = "") -> None:
    for name in sorted(payload):
        value = payload[name]
        if value is None:
            continue
        if isinstance(value, Mapping):
            out.append(f"<{name}>")
            _write_members(out, value, name)
        elif isinstance(value, list):
            _write_list(out, name, value, parent)
        else:
            out.append(f"<{name}>{_text(value)}")
        out.append(f"</{name}>")


def _write_list(out: list[str], name: str, value: list[Any], parent: str) -> None:
    item = _ITEM_ELEMENTS.get(name) or _ITEM_ELEMENTS.get(f"{parent}/{name}")
    if item is not None:
        out.append(f"<{name}>")
        for element in value:
            out.append(f"<{item}>")
            _write_members(out, element, item)
            out.append(f"</{item}>")
    elif all(type(element) is str for element in value):
        out.append(f'<{name} xmlns:d2p1="{_ARRAYS}">')
        out.extend(f"<d2p1:string>{_text(element)}</d2p1:string>" for element in value)
    else:
        raise ValueError(f"no XML item element is known for the list {name!r}")


def _refuse(*_: object) -> NoReturn:
    raise XmlRequestError("DTDs and entities are not accepted")


class _RequestReader:
    """Collects ``TrackIds`` from expat's events: ``ids`` stays ``None`` when it is absent."""

    __slots__ = ("depth", "ids", "in_item", "in_track_ids", "item")

    def __init__(self) -> None:
        self.depth = 0
        self.ids: list[str] | None = None
        self.in_track_ids = False
        self.in_item = False
        self.item: list[str] = []

    def start(self, tag: str, _attributes: dict[str, str]) -> None:
        namespace, _, name = tag.rpartition(" ")
        self.depth += 1
        depth = self.depth
        if depth > _MAX_DEPTH:
            raise XmlRequestError("elements nested too deep")
        if depth == 1:
            if name != "TrackActionRequest" or namespace not in _ROOT_NAMESPACES:
                raise XmlRequestError(_wrong_root("TrackActionRequest", name, namespace))
        elif depth == 2:
            if name == "TrackIds":
                if self.ids is not None:
                    raise XmlRequestError("TrackIds appears twice")
                self.ids = []
                self.in_track_ids = True
        elif depth == 3 and self.in_track_ids:
            # Either item form: <d2p1:string> (WCF, the documented one) or <TrackId> (the SDKs).
            self.in_item = True
            self.item = []
        elif self.in_item:
            raise XmlRequestError("an element inside a track ID")

    def end(self, _tag: str) -> None:
        depth = self.depth
        self.depth -= 1
        if depth == 3 and self.in_item:
            assert self.ids is not None
            self.ids.append("".join(self.item))
            self.in_item = False
        elif depth == 2:
            self.in_track_ids = False

    def text(self, data: str) -> None:
        if self.in_item:
            self.item.append(data)


def _wrong_root(expected: str, name: str, namespace: str) -> str:
    """What is wrong with a root element, in the contract's words (spec section 6)."""
    where = f"the namespace {namespace}" if namespace else "no namespace"
    return (
        f"the root element must be <{expected}> in the namespace {_PLATFORM} (or {_SDK}), "
        f"not <{name}> in {where}"
    )


def read_track_ids(body: bytes) -> list[str] | None:
    """Read the IDs of an XML TrackActionRequest, in either item form and either namespace.

    Returns:
        The IDs (possibly empty), or ``None`` when the request has no ``TrackIds`` member.

    Raises:
        XmlRequestError: not well-formed, a DTD or entity, the wrong root, or items that are not
            plain text.
    """
    reader = _RequestReader()
    _parse(body, reader.start, reader.end, reader.text)
    return reader.ids


class _ActionReader:
    """Collects a PlaylistAction's members from expat's events, as its JSON form holds them.

    ``path`` is the names of the open elements; ``text`` collects a text member's content
    (``None`` outside one); ``nil`` says the member being read has ``i:nil="true"``.
    """

    __slots__ = ("data", "nil", "path", "text")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.path: list[str] = []
        self.text: list[str] | None = None
        self.nil = False

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        namespace, _, name = tag.rpartition(" ")
        self.path.append(name)
        depth = len(self.path)
        if depth > _MAX_DEPTH:
            raise XmlRequestError("elements nested too deep")
        if self.text is not None:
            raise XmlRequestError(f"an element inside <{self.path[-2]}>")
        if depth == 1:
            if name != "PlaylistAction" or namespace not in _ROOT_NAMESPACES:
                raise XmlRequestError(_wrong_root("PlaylistAction", name, namespace))
        elif self._is_text_member():
            self.text = []
            self.nil = attributes.get(_NIL) == "true"
        elif depth == 2 and name == "TrackActions":
            if "TrackActions" in self.data:
                raise XmlRequestError("TrackActions appears twice")
            self.data["TrackActions"] = []
        elif depth == 3 and self.path[1] == "TrackActions":
            self.data["TrackActions"].append({})

    def _is_text_member(self) -> bool:
        depth, name = len(self.path), self.path[-1]
        if depth == 2:
            return name in _ACTION_TEXT
        return depth == 4 and self.path[1] == "TrackActions" and name in _TRACK_ACTION_TEXT

    def end(self, _tag: str) -> None:
        depth = len(self.path)
        name = self.path.pop()
        if self.text is None:
            return
        value = "".join(self.text)
        self.text = None
        target = self.data if depth == 2 else self.data["TrackActions"][-1]
        if self.nil:
            target.pop(name, None)
        elif name == "IsPublished":
            target[name] = _XML_BOOLEANS.get(value.strip(), value)
        else:
            target[name] = value

    def characters(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def read_playlist_action(body: bytes) -> dict[str, Any]:
    """Read an XML PlaylistAction (spec sections 6 and 9.1) into the members its JSON form has.

    ``Id``, ``CollectionStateToken`` and ``Name`` are strings; ``IsPublished`` a bool when it
    reads as an ``xs:boolean`` (else the text, which the service refuses);
    ``TrackActions`` a list of ``{"Id", "Action"}`` objects, one per ``<TrackAction>``. Members
    with ``i:nil="true"`` and unknown members are left out. The root is ``PlaylistAction`` in
    the platform namespace or the later SDK's.

    Raises:
        XmlRequestError: not well-formed, a DTD or entity, the wrong root, or markup inside a
            text member.
    """
    reader = _ActionReader()
    _parse(body, reader.start, reader.end, reader.characters)
    return reader.data


def _parse(
    body: bytes,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    text: Callable[[str], None],
) -> None:
    """Run a hardened expat parser over ``body`` (no DTD, no entities)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, UnicodeError) as exc:
        raise XmlRequestError(str(exc)) from exc
