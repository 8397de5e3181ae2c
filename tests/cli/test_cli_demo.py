"""``groove-async demo``: the embedded emulator, a generated library, the summary."""

from __future__ import annotations

import re
import time

import pytest

from groove_async.cli import main
from groove_async.cli.demo import _demo_library

from .conftest import run_cli


def test_demo_runs_and_explains_itself() -> None:
    started = time.monotonic()
    done = run_cli("demo", "--size", "5000", "--seed", "3")
    elapsed = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    assert elapsed < 30
    out = done.stdout
    assert "Importing 5,000 track IDs (" in out
    found = re.search(r"\(([\d,]+) unknown to the catalog", out)
    assert found is not None
    planted = int(found[1].replace(",", ""))
    assert 50 <= planted <= 150
    # One reason: its count is the row's, not repeated.
    assert re.search(rf"REJECTED\s+{planted}\s+COLLECTION_INVALID_ID\n", out)
    assert re.search(rf"SUCCEEDED\s+{5000 - planted:,}", out)
    assert re.search(r"the emulator saw 50 POSTs \(0 answered with an injected fault\)", out)
    assert "Demo OK" in out
    assert "add: 5,000/5,000 (100%) IDs" in done.stderr  # plain progress: not a terminal


def test_demo_with_faults_still_answers_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--size", "4000", "--faults", "--latency", "0", "--seed", "11"]) == 0

    out = capsys.readouterr().out
    assert "Demo OK" in out
    injected = re.search(r"saw ([\d,]+) POSTs \(([\d,]+) answered with an injected fault", out)
    assert injected is not None and int(injected[2]) > 0
    assert int(injected[1]) == 40 + int(injected[2])  # every fault was retried once more


def test_demo_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--size", "300", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_demo_library_is_realistic_and_reproducible() -> None:
    ids, unknown = _demo_library(20_000, seed=7)

    assert ids == _demo_library(20_000, seed=7)[0]
    assert len(ids) == 20_000
    assert 300 <= sum(track_id in unknown for track_id in ids) <= 420  # about 2%
    assert 800 <= len(ids) - len(set(ids)) <= 1_100  # about 5% repeats
    assert all(
        re.fullmatch(
            r"music\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u
        )
        for u in unknown
    )
