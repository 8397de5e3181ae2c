"""The journal on its own: pure file handling, no network."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from groove_async.cli.journal import Journal, JournalError, JournalHeader, sha256_of

HEADER = JournalHeader("add", "http://127.0.0.1:8080", "ab" * 32, "ids.txt")


def result_object(track_id: str, outcome: str = "SUCCEEDED") -> dict[str, object]:
    error = None if outcome == "SUCCEEDED" else {"code": "X", "description": "d", "message": None}
    return {"input_id": track_id, "id": None, "outcome": outcome, "error": error}


def result(track_id: str, outcome: str = "SUCCEEDED") -> str:
    return json.dumps(result_object(track_id, outcome))


def test_a_new_journal_starts_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        assert journal.created and journal.finished == {}
        journal.append([(0, result("music.a")), (2, result("music.c", "REJECTED"))])
        journal.append([])  # nothing to write: no empty line either

    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {
        "journal": "groove-async",
        "version": 2,
        "action": "add",
        "base_url": "http://127.0.0.1:8080",
        "input_sha256": "ab" * 32,
        "input": "ids.txt",
    }
    assert [json.loads(line)["p"] for line in lines[1:]] == [0, 2]


def test_reopening_loads_the_finished_positions(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        journal.append([(0, result("music.a")), (1, result("music.b", "REJECTED"))])
        journal.append([(3, result("music.d", "FAILED")), (4, result("music.e", "NOT_SENT"))])

    with Journal.open(path, HEADER) as again:
        assert not again.created and not again.repaired
        assert sorted(again.finished) == [0, 1]  # FAILED and NOT_SENT are sent again
        record = again.finished[1]
        assert (record.input_id, record.outcome, record.code) == ("music.b", "REJECTED", "X")
        assert json.loads(record.result) == result_object("music.b", "REJECTED")


def test_the_latest_line_of_a_position_wins(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        journal.append([(0, result("music.a", "FAILED")), (1, result("music.b"))])
        journal.append([(0, result("music.a")), (1, result("music.b", "FAILED"))])

    with Journal.open(path, HEADER) as again:
        assert sorted(again.finished) == [0]


@pytest.mark.parametrize(
    "torn",
    [b'{"p": 7, "input_id": "mu', b'{"p": 7, "input_id": "music.h", "id": null}', b"\x00" * 40],
)
def test_a_torn_last_line_is_cut_off(tmp_path: Path, torn: bytes) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        journal.append([(0, result("music.a")), (1, result("music.b"))])
    whole = path.read_bytes()
    path.write_bytes(whole + torn)

    with Journal.open(path, HEADER) as again:
        assert again.repaired
        assert sorted(again.finished) == [0, 1]
        again.append([(7, result("music.h"))])

    assert path.read_bytes().startswith(whole)
    with Journal.open(path, HEADER) as third:
        assert sorted(third.finished) == [0, 1, 7] and not third.repaired


def test_a_complete_last_line_without_its_newline_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        journal.append([(0, result("music.a")), (1, result("music.b"))])
    path.write_bytes(path.read_bytes().removesuffix(b"\n"))  # the crash hit before "\n"

    with Journal.open(path, HEADER) as again:
        assert again.repaired and sorted(again.finished) == [0]


def test_a_torn_header_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(HEADER.to_line()[:30])

    with Journal.open(path, HEADER) as journal:
        assert journal.created and journal.repaired

    assert path.read_bytes() == HEADER.to_line()


def test_an_empty_file_becomes_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.touch()

    with Journal.open(path, HEADER) as journal:
        assert journal.created and not journal.repaired

    assert path.read_bytes() == HEADER.to_line()


def test_damage_before_the_last_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        journal.append([(0, result("music.a"))])
    damaged = (
        path.read_bytes()
        + b"garbage\n"
        + b'{"p": 1, "input_id": "music.b", "outcome": "SUCCEEDED"}\n'
    )
    path.write_bytes(damaged)

    with pytest.raises(JournalError, match="damaged at line 3"):
        Journal.open(path, HEADER)
    assert path.read_bytes() == damaged


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (JournalHeader("add", HEADER.base_url, "cd" * 32, "other.txt"), "different input"),
        (JournalHeader("delete", HEADER.base_url, HEADER.input_sha256), "the action 'add'"),
        (JournalHeader("add", "https://music.xboxlive.com", HEADER.input_sha256), "results from"),
    ],
)
def test_a_header_for_something_else_is_refused(
    tmp_path: Path, other: JournalHeader, message: str
) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        journal.append([(0, result("music.a"))])
    before = path.read_bytes()

    with pytest.raises(JournalError, match=message):
        Journal.open(path, other)
    assert path.read_bytes() == before


def test_the_input_name_is_not_part_of_the_identity(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal.open(path, HEADER).close()
    renamed = JournalHeader(HEADER.action, HEADER.base_url, HEADER.input_sha256, "moved.txt")

    with Journal.open(path, renamed) as journal:
        assert journal.header.input == "ids.txt"


@pytest.mark.parametrize(
    "content",
    [b"music.00000001-0100-11DB-89CA-0019B92A3933\n", b"just some text", b'{"a": 1}\n'],
)
def test_a_file_that_is_not_a_journal_is_never_modified(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(content)

    with pytest.raises(JournalError, match="not a groove-async journal"):
        Journal.open(path, HEADER)
    assert path.read_bytes() == content


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(HEADER.to_line().replace(b'"version": 2', b'"version": 4'))

    with pytest.raises(JournalError, match=r"version 4 is not supported .*versions 1 to 3"):
        Journal.open(path, HEADER)


PLAYLIST = attrs.evolve(HEADER, action="playlist create", playlist="Road trip")


def test_a_playlist_journal_is_version_3_and_keeps_its_playlist(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, PLAYLIST, token="t") as journal:
        assert journal.playlist_id is None
        journal.append([(0, result("music.a"))])
        journal.append_playlist("music.playlist.00000000-0000-00fe-0000-000000000001")
        journal.append([(1, result("music.b"))])
        journal.append_playlist("music.playlist.00000000-0000-00fe-0000-000000000002")
        assert journal.playlist_id.endswith("2")

    header, *lines = (json.loads(line) for line in path.read_text().splitlines())
    assert header["version"] == 3 and header["playlist_name"] == "Road trip"
    assert lines[1] == {
        "kind": "playlist",
        "id": "music.playlist.00000000-0000-00fe-0000-000000000001",
    }
    with Journal.open(path, PLAYLIST, token="t") as again:  # the latest playlist line counts
        assert again.playlist_id == "music.playlist.00000000-0000-00fe-0000-000000000002"
        assert sorted(again.finished) == [0, 1] and again.token_matches
    # An add journal is still version 2, as releases before playlists write and read it.
    with Journal.open(tmp_path / "add.jsonl", HEADER):
        pass
    assert json.loads((tmp_path / "add.jsonl").read_text().splitlines()[0])["version"] == 2


def test_a_playlist_journal_serves_only_its_playlist_name(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal.open(path, PLAYLIST).close()

    with pytest.raises(JournalError, match="fills the playlist 'Road trip', not 'Other'"):
        Journal.open(path, attrs.evolve(PLAYLIST, playlist="Other"))
    with pytest.raises(JournalError, match="the action 'playlist create', not 'add'"):
        Journal.open(path, HEADER)


def test_a_line_of_an_unknown_kind_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, PLAYLIST) as journal:
        journal.append([(0, result("music.a"))])
    with path.open("ab") as file:
        file.write(b'{"kind": "mystery", "id": "x"}\n')
        file.write(
            b'{"p": 1, "input_id": "music.b", "id": null, "outcome": "SUCCEEDED", "error": null}\n'
        )

    with pytest.raises(JournalError, match="damaged at line 3"):
        Journal.open(path, PLAYLIST)


def test_one_command_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER), pytest.raises(JournalError, match="in use"):
        Journal.open(path, HEADER)
    Journal.open(path, HEADER).close()  # free again once closed


def test_append_after_close_raises(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.jsonl", HEADER)
    journal.close()
    journal.close()

    with pytest.raises(RuntimeError, match="closed"):
        journal.append([(0, result("music.a"))])


def test_sha256_of(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(b"test")

    assert sha256_of(path) == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_append_checks_its_results(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, HEADER) as journal:
        for bad in ("[1]", '{"a":\n1}', "music.a"):
            with pytest.raises(ValueError, match="one JSON object"):
                journal.append([(0, bad)])
        journal.append([(5, '{"input_id":"music.e","outcome":"SUCCEEDED"}')])

    with Journal.open(path, HEADER) as again:
        assert list(again.finished) == [5]
    assert path.read_text().splitlines()[1] == (
        '{"p": 5, "input_id":"music.e","outcome":"SUCCEEDED"}'
    )


def test_a_new_journal_stores_a_salted_fingerprint_of_its_token(tmp_path: Path) -> None:
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    Journal.open(first, HEADER, token="secret-token-1").close()
    Journal.open(second, HEADER, token="secret-token-1").close()

    fingerprints = [json.loads(p.read_text().splitlines()[0])["token"] for p in (first, second)]
    assert fingerprints[0]["salt"] != fingerprints[1]["salt"]  # salted: no two alike
    assert fingerprints[0]["hash"] != fingerprints[1]["hash"]
    assert "secret-token-1" not in first.read_text()
    for token, matches in [("secret-token-1", True), ("secret-token-2", False), (None, None)]:
        with Journal.open(first, HEADER, token=token) as journal:
            assert not journal.created and journal.token_matches is matches


def test_a_version_1_journal_is_read_with_an_unknown_token(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    header = json.loads(HEADER.to_line()) | {"version": 1}
    line = {"p": 0, "input_id": "music.a", "id": None, "outcome": "SUCCEEDED", "error": None}
    path.write_text(json.dumps(header) + "\n" + json.dumps(line) + "\n")

    with Journal.open(path, HEADER, token="t") as journal:
        assert journal.token_matches is None and journal.header.token is None
        assert sorted(journal.finished) == [0]
        journal.append([(1, result("music.b"))])

    assert json.loads(path.read_text().splitlines()[0]) == header  # still version 1
    with Journal.open(path, HEADER, token="t") as again:
        assert sorted(again.finished) == [0, 1]


def test_a_header_torn_in_its_fingerprint_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal.open(path, HEADER, token="t").close()
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.index(b'"salt"') + 12])  # the crash hit in the salt

    with Journal.open(path, HEADER, token="t") as journal:
        assert journal.created and journal.repaired and journal.token_matches

    assert path.read_bytes() != whole  # a new salt
    with Journal.open(path, HEADER, token="t") as again:
        assert again.token_matches is True


@pytest.mark.parametrize(
    "fingerprint",
    [
        "not an object",
        {"kdf": "sha256", "iterations": 1, "salt": "00" * 16, "hash": "00" * 32},
        {"kdf": "pbkdf2-sha256", "iterations": 10**9, "salt": "00" * 16, "hash": "00" * 32},
        {"kdf": "pbkdf2-sha256", "iterations": 1000, "salt": "zz" * 16, "hash": "00" * 32},
        {"kdf": "pbkdf2-sha256", "iterations": 1000, "salt": "00" * 16},
    ],
)
def test_an_unreadable_fingerprint_is_refused(tmp_path: Path, fingerprint: object) -> None:
    path = tmp_path / "j.jsonl"
    header = json.loads(HEADER.to_line()) | {"token": fingerprint}
    path.write_text(json.dumps(header) + "\n")

    with pytest.raises(JournalError, match="token fingerprint is unreadable"):
        Journal.open(path, HEADER, token="t")
