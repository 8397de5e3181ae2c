"""The README's command-line section documents what the parser offers."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from groove_async.cli.parser import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SUCCEEDED,
    EXIT_OK,
    EXIT_USAGE,
    _build_parser,
)

ROOT = Path(__file__).resolve().parents[2]


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Command line\n")
    end = readme.index("\n## Development\n")
    assert start < end
    return readme[start:end]


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = _build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen: argparse.ArgumentParser = action.choices[name]
    return chosen


@pytest.mark.parametrize("name", ["add", "delete", "demo"])
def test_every_option_is_documented(name: str) -> None:
    text = section()
    for action in subcommand(name)._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in text or f"[{flag}" in text, f"{name} {flag}"


def test_exit_statuses_are_documented() -> None:
    text = section()
    for status in (EXIT_OK, EXIT_NOT_ALL_SUCCEEDED, EXIT_USAGE, EXIT_INTERRUPTED):
        assert f"| {status} |" in text
    assert "groove-async demo" in text and "groove-async serve" in text
