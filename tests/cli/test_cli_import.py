"""``groove-async add`` / ``delete`` run for real in a subprocess against the emulator."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from groove_async.cli import main

from .conftest import TOKEN, UNKNOWN, ThreadedEmulator, catalog_ids, read_jsonl, run_cli, write_ids


def test_file_import_writes_one_line_per_input_in_order(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(250)
    lines = ["# exported from my player", "", *ids[:120], "   ", "music.has space", UNKNOWN]
    lines += ["  # an indented comment", "spotify:track:4uLU6hMCjMI75M1A2tKUQC", *ids[120:]]
    source = tmp_path / "ids.txt"
    source.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")  # CRLF line ends too
    output = tmp_path / "out.jsonl"

    done = run_cli("add", str(source), "--base-url", emulator.url, "--output", str(output))

    assert done.returncode == 1, done.stderr  # some were rejected
    expected_inputs = [
        *ids[:120],
        "music.has space",
        UNKNOWN,
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
    ]
    expected_inputs += ids[120:]
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == expected_inputs
    collection = emulator.collection()
    for result in results:
        assert set(result) == {"input_id", "id", "outcome", "error"}
        input_id = result["input_id"]
        if input_id in ("music.has space", "spotify:track:4uLU6hMCjMI75M1A2tKUQC"):
            assert result["outcome"] == "REJECTED"
            assert result["error"]["code"] == "INVALID_INPUT"
            assert result["error"]["message"].startswith("line ")
        elif input_id == UNKNOWN:
            assert result["outcome"] == "REJECTED"
            assert result["error"]["code"] == "COLLECTION_INVALID_ID"
        else:
            assert result == {
                "input_id": input_id,
                "id": collection[input_id],
                "outcome": "SUCCEEDED",
                "error": None,
            }
    # Line numbers point at the file's own lines (1-based, comments and blanks counted).
    bad = next(r for r in results if r["input_id"] == "music.has space")
    assert bad["error"]["message"] == f"line {lines.index('music.has space') + 1} of {source}"
    # Each valid ID went out exactly once; invalid lines never reached the service.
    assert sorted(emulator.sent_ids()) == sorted([*ids, UNKNOWN])
    # The summary table, on stdout.
    assert "SUCCEEDED" in done.stdout and "250" in done.stdout
    assert "INVALID_INPUT 2" in done.stdout and "COLLECTION_INVALID_ID 1" in done.stdout


def test_all_succeeded_exits_0_with_plain_progress_and_no_token(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(300))

    done = run_cli("add", str(source), "--base-url", emulator.url, "--batch-size", "40")

    assert done.returncode == 0, done.stderr
    assert [r.id_count for r in emulator.requests] == [40] * 7 + [20]
    # Not a terminal: plain progress lines, no carriage-return redraws.
    assert "add: 300/300 (100%) IDs" in done.stderr
    assert "\r" not in done.stderr
    summary = done.stdout.splitlines()
    assert summary[0].startswith("groove-async add: 300 IDs in ")
    assert any(line.split()[:2] == ["SUCCEEDED", "300"] for line in summary)
    assert TOKEN not in done.stdout + done.stderr


def test_stdin_import(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    ids = catalog_ids(230)
    output = tmp_path / "out.jsonl"

    done = run_cli(
        "add",
        "--base-url",
        emulator.url,
        "--output",
        str(output),
        "--concurrency",
        "3",
        stdin="\n".join(["# piped in", *ids, UNKNOWN]),  # no newline after the last line
    )

    assert done.returncode == 1, done.stderr
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == [*ids, UNKNOWN]
    assert [r["outcome"] for r in results] == ["SUCCEEDED"] * 230 + ["REJECTED"]
    assert set(emulator.collection()) == set(ids)


def test_csv_with_an_id_column(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    ids = catalog_ids(5)
    source = tmp_path / "library.csv"
    source.write_text(
        "\ufefftitle,ID,artist\n"  # a BOM, and the header's case does not matter
        f'"Song, with a comma",{ids[0]},Someone\n'
        f"Second,{ids[1]},\n"
        "\n"
        ",,\n"
        f'Third,"{ids[2]}",Band\n'
        "Short row\n"
        f"Fourth,{ids[3]},x\n"
        f"Fifth, {ids[4]} ,y\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"

    done = run_cli("add", str(source), "--base-url", emulator.url, "--output", str(output))

    assert done.returncode == 1, done.stderr
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == [*ids[:3], "", *ids[3:]]
    assert [r["outcome"] for r in results] == ["SUCCEEDED"] * 3 + ["REJECTED"] + ["SUCCEEDED"] * 2
    assert results[3]["error"]["code"] == "INVALID_INPUT"
    assert "no 'id' column" in results[3]["error"]["description"]
    assert sorted(emulator.sent_ids()) == sorted(ids)


def test_delete_what_was_added(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    ids = catalog_ids(150)
    added = tmp_path / "added.jsonl"
    assert (
        run_cli(
            "add",
            str(write_ids(tmp_path / "ids.txt", ids)),
            "--base-url",
            emulator.url,
            "--output",
            str(added),
            "--quiet",
        ).returncode
        == 0
    )
    collection_ids = [r["id"] for r in read_jsonl(added)]
    deleted = tmp_path / "deleted.jsonl"

    done = run_cli(
        "delete",
        str(write_ids(tmp_path / "collection.txt", collection_ids)),
        "--base-url",
        emulator.url,
        "--output",
        str(deleted),
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("groove-async delete: 150 IDs")
    results = read_jsonl(deleted)
    assert [r["input_id"] for r in results] == collection_ids
    assert {r["outcome"] for r in results} == {"SUCCEEDED"}
    assert emulator.collection() == {}
    assert [r.path.rsplit("/", 1)[1] for r in emulator.requests] == ["add"] * 2 + ["delete"] * 2


def test_output_to_stdout(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(120))

    done = run_cli("add", str(source), "--base-url", emulator.url, "--output", "-")

    assert done.returncode == 0
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["input_id"] for r in lines] == catalog_ids(120)
    assert "groove-async add: 120 IDs" in done.stderr  # the summary moved to stderr


def test_quiet_prints_nothing(
    emulator: ThreadedEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GROOVE_TOKEN", TOKEN)
    source = write_ids(tmp_path / "ids.txt", [*catalog_ids(120), "bad"])

    assert main(["add", str(source), "--base-url", emulator.url, "--quiet"]) == 1
    assert capsys.readouterr() == ("", "")


def test_missing_token_exits_2(
    emulator: ThreadedEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GROOVE_TOKEN", raising=False)
    source = write_ids(tmp_path / "ids.txt", catalog_ids(3))

    assert main(["add", str(source), "--base-url", emulator.url]) == 2
    missing = capsys.readouterr().err
    args = ["add", str(source), "--base-url", emulator.url, "--token-env", "MY_GROOVE"]
    assert main(args) == 2
    other_env = capsys.readouterr().err
    monkeypatch.setenv("MY_GROOVE", TOKEN)
    monkeypatch.setenv("GROOVE_TOKEN", "wrong-token")
    assert main([*args, "--quiet"]) == 0
    assert main(["add", str(source), "--base-url", emulator.url, "--token", TOKEN, "-q"]) == 0

    assert "no token" in missing and "GROOVE_TOKEN" in missing
    assert "MY_GROOVE" in other_env
    assert {r.token for r in emulator.requests} == {"token#1"}  # never the wrong one


def test_refused_token_exits_2_without_printing_it(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    source = write_ids(tmp_path / "ids.txt", catalog_ids(250))
    output = tmp_path / "out.jsonl"
    secret = "not-the-right-token-0123456789"

    done = run_cli(
        "add", str(source), "--base-url", emulator.url, "--output", str(output), token=secret
    )

    assert done.returncode == 2
    assert "authentication failed" in done.stderr
    assert secret not in done.stdout + done.stderr + output.read_text()
    results = read_jsonl(output)
    assert [r["input_id"] for r in results] == catalog_ids(250)  # every input is answered
    assert {r["outcome"] for r in results} == {"NOT_SENT"}
    assert {r.status for r in emulator.requests} == {401}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "{tmp}"], "is a directory"),
        (["add", "-", "--journal", "{tmp}/j.jsonl"], "--journal needs an input FILE"),
        (["add", "{tmp}/ids.txt", "--output", "{tmp}/ids.txt"], "are the same file"),
        (["add", "{tmp}/ids.txt", "--journal", "{tmp}/out", "--output", "{tmp}/out"], "same file"),
        (["add", "{tmp}/ids.txt", "--base-url", "http://example.com"], "refusing plain http"),
        (["add", "{tmp}/ids.txt", "--token", "two words"], "holds spaces"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("GROOVE_TOKEN", TOKEN)
    write_ids(tmp_path / "ids.txt", catalog_ids(1))

    status = main([a.replace("{tmp}", str(tmp_path)) for a in args])

    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "j.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "{tmp}/no-such-file.txt"], "cannot read {tmp}/no-such-file.txt: No such file"),
        (["add", "{tmp}/ids.txt", "--output", "{tmp}/no/such/dir/out"], "cannot write {tmp}/no"),
        (["add", "{tmp}/ids.txt", "--journal", "{tmp}/no/such/dir/j"], "cannot use the journal"),
        (["export", "--output", "{tmp}/no/such/dir/out"], "cannot write {tmp}/no/such/dir/out"),
        (["export", "--playlists", "{tmp}/ids.txt/lists"], "cannot make the directory"),
    ],
)
def test_a_file_that_cannot_be_read_or_written_exits_1_before_any_request(
    emulator: ThreadedEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    # The README's exit-status table: 1 when "the input, journal or output could not be read
    # or written"; 2 is for usage errors.
    monkeypatch.setenv("GROOVE_TOKEN", TOKEN)
    write_ids(tmp_path / "ids.txt", catalog_ids(1))

    status = main([*(a.replace("{tmp}", str(tmp_path)) for a in args), "--base-url", emulator.url])

    assert status == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    (line,) = errors
    assert line.startswith(f"groove-async {args[0]}: error: ")
    assert message.replace("{tmp}", str(tmp_path)) in line
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "--batch-size", "101"], "must be from 1 to 100"),
        (["add", "--concurrency", "many"], "not a whole number"),
        (["delete", "--format", "yaml"], "invalid choice"),
        (["demo", "--latency", "-1"], "must be a number of seconds from 0 to 3600"),
    ],
)
def test_argument_errors_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)

    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_documents_the_exit_status() -> None:
    done = run_cli("add", "--help")

    assert done.returncode == 0
    for phrase in ("--journal", "--token-env", "GROOVE_TOKEN", "Exit status", "130", "CSV"):
        assert phrase in done.stdout


def test_xml_format(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    ids = catalog_ids(120)
    output = tmp_path / "out.jsonl"

    done = run_cli(
        "add",
        str(write_ids(tmp_path / "ids.txt", ids)),
        "--base-url",
        emulator.url,
        "--format",
        "xml",
        "--output",
        str(output),
    )

    assert done.returncode == 0, done.stderr
    assert [r["input_id"] for r in read_jsonl(output)] == ids
    assert set(emulator.collection()) == set(ids)


def test_a_utf_16_file_as_powershell_writes_it_is_read(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    ids = catalog_ids(250)
    source = tmp_path / "ids.txt"  # what `Get-Content ids | Out-File ids.txt` writes
    source.write_bytes(codecs.BOM_UTF16_LE + "".join(f"{i}\r\n" for i in ids).encode("utf-16-le"))
    output = tmp_path / "out.jsonl"

    done = run_cli("add", str(source), "--base-url", emulator.url, "--output", str(output))

    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["input_id"] for r in read_jsonl(output)] == ids
    assert set(emulator.collection()) == set(ids)
