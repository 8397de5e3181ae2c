"""How ``add`` / ``delete`` read their input: lines, comments, CSV, encodings, ID checks."""

from __future__ import annotations

import codecs
import os
import threading

import pytest

from groove_async import IdValidator
from groove_async.cli.inputs import (
    _id_problem,
    _Input,
    _Inputs,
    _ListSource,
    _Parser,
    _Splitter,
    _StreamSource,
)


def parse(*lines: str) -> list[_Input]:
    parser = _Parser()
    return [item for line in lines if (item := parser.feed(line)) is not None]


def test_one_id_per_line_with_blanks_and_comments() -> None:
    assert parse("# header", "", "  music.a  ", "\t", "   # indented", "music.b\r", "music.#c") == [
        (0, "music.a", 3, None),
        (1, "music.b", 6, None),
        (2, "music.#c", 7, None),  # '#' inside an ID is part of it
    ]


def test_invalid_lines_keep_their_position() -> None:
    items = parse("music.a", "music.has space", "spotify:x", "music.", "music.b")

    assert [(i.position, i.track_id) for i in items] == [
        (0, "music.a"),
        (1, "music.has space"),
        (2, "spotify:x"),
        (3, "music."),
        (4, "music.b"),
    ]
    assert [i.problem is None for i in items] == [True, False, False, False, True]


def test_csv_header_with_an_id_column() -> None:
    assert parse("Title,Id", '"a, b",music.x', "no id here", ",", "t, music.y ") == [
        (0, "music.x", 2, None),
        (1, "", 3, "this CSV row has no 'id' column"),
        (2, "music.y", 5, None),
    ]
    assert parse("id", "music.x") == [(0, "music.x", 2, None)]  # a one-column CSV


def test_a_first_line_with_commas_but_no_id_column_is_data() -> None:
    items = parse("music.a,music.b", "music.c")

    assert [item[1] for item in items] == ["music.a,music.b", "music.c"]


def test_splitter_decodes_lines_across_chunks() -> None:
    splitter = _Splitter()
    assert splitter.feed("\ufeffmusic.a\nmus".encode()) == ["music.a"]
    assert splitter.feed(b"ic.b\n\xff\n") == ["music.b", "\ufffd"]
    assert splitter.feed(b"music.c") == []
    assert splitter.feed(b"") == ["music.c"]  # the end: the last line needs no newline


ASCII_ONLY = "an ID holds only printable ASCII, without spaces or control characters"


@pytest.mark.parametrize(
    ("candidate", "problem"),
    [
        ("", "empty ID"),
        ("spotify:1", "an ID must look like 'music.<id>'"),
        ("music.", "an ID must look like 'music.<id>'"),
        ("music." + "a" * 1019, "an ID is at most 1,024 characters, this one 1,025"),
        ("music.has space", ASCII_ONLY),
        ("music.a\x00", ASCII_ONLY),
        ("music.a\x7f", ASCII_ONLY),
        ("music.é", ASCII_ONLY),
        ("music.\u200b", ASCII_ONLY),
    ],
)
def test_the_clients_validator_refuses_and_the_cli_words_its_reason(
    candidate: str, problem: str
) -> None:
    with pytest.raises(ValueError, match="track ID at position 0 "):
        IdValidator("music").check(candidate, 0)
    assert _id_problem(candidate) == problem


@pytest.mark.parametrize("candidate", ["music.a", "music.#c", "music.~!", "music." + "a" * 1018])
def test_what_the_clients_validator_accepts_is_valid(candidate: str) -> None:
    assert IdValidator("music").check(candidate, 0) == candidate
    assert _id_problem(candidate) is None


def test_the_id_check_explains() -> None:
    assert _id_problem("music.a") is None
    assert _id_problem("") == "empty ID"
    assert "music.<id>" in (_id_problem("spotify:1") or "")
    assert "1,024" in (_id_problem("music." + "a" * 1019) or "")
    assert _id_problem("music." + "a" * 1018) is None
    assert "printable ASCII" in (_id_problem("music.é") or "")


async def test_inputs_from_memory() -> None:
    items = [item async for item in _Inputs(_ListSource(["music.a", "# c", "music.b"], chunk=1))]

    assert [item.track_id for item in items] == ["music.a", "music.b"]


async def test_inputs_from_a_pipe_read_by_a_thread() -> None:
    read_end, write_end = os.pipe()
    lines = [f"music.{n}" for n in range(20_000)]

    def produce() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write("\n".join(lines).encode())

    producer = threading.Thread(target=produce)
    producer.start()
    source = _StreamSource(read_end, os.fdopen(read_end, "rb"))
    try:
        items = [item.track_id async for item in _Inputs(source)]
    finally:
        source.close()
        producer.join()

    assert items == lines


# -- issue 19, smaller: what PowerShell's `>` writes -------------------------------------------

ENCODINGS = [
    ("utf-16-le", codecs.BOM_UTF16_LE),  # Windows PowerShell 5's `>` and Out-File
    ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-8", codecs.BOM_UTF8),  # PowerShell's -Encoding UTF8, Notepad's "UTF-8 with BOM"
    ("utf-32-le", codecs.BOM_UTF32_LE),
]


@pytest.mark.parametrize(("encoding", "bom"), ENCODINGS, ids=[e for e, _ in ENCODINGS])
@pytest.mark.parametrize("chunk", [1, 3, 1 << 16])
def test_an_input_with_a_byte_order_mark_is_read_in_its_encoding(
    encoding: str, bom: bytes, chunk: int
) -> None:
    text = "id,name\r\nmusic.00000001-0100-11DB-89CA-0019B92A3933,Caf\u00e9\r\n# x\r\nmusic.b\r\n"
    data = bom + text.encode(encoding)
    splitter, parser = _Splitter(), _Parser()

    lines = [
        line for i in range(0, len(data), chunk) for line in splitter.feed(data[i : i + chunk])
    ]
    lines += splitter.feed(b"")

    inputs = [item for item in map(parser.feed, lines) if item is not None]
    assert [(i.track_id, i.problem) for i in inputs] == [
        ("music.00000001-0100-11DB-89CA-0019B92A3933", None),
        ("music.b", None),
    ]


def test_utf_16_without_a_byte_order_mark_says_what_encoding_is_wanted() -> None:
    read_as_utf8 = "music.00000001-0100-11DB-89CA-0019B92A3933".encode("utf-16-le").decode()
    (item,) = parse(read_as_utf8)
    assert item.problem is not None and "UTF-16 without a byte-order mark" in item.problem
