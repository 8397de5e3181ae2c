"""The README's Python examples, as code: found by their markers, rendered as modules.

Each Python block of README.md follows a marker line saying how it is checked:

* ``<!-- example: module -->``: a whole module, type-checked as it stands and imported by the
  tests (its ``main``, if any, is run against the emulator);
* ``<!-- example: fragment -->``: statements as they would sit inside a user's async function,
  with a client ``groove``, a ``token``, ``track_ids`` and a few stand-ins (``bar``, ``record``,
  ``read_ids_from_somewhere``) in scope: rendered inside such a function for both checks;
* ``<!-- example: pytest ... -->``: a test module, run by pytest in a project of its own;
* ``<!-- example: skip (why) -->``: checked elsewhere, as the reason says.

``python -m tests.readme_examples DIR`` writes every module and fragment to DIR for
``mypy --strict`` (CI does it); ``tests/test_readme_examples.py`` runs them.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

README = Path(__file__).resolve().parent.parent / "README.md"

_BLOCK = re.compile(r"<!-- example: (\w+)[^>]*-->\n```python\n(.*?)\n```", re.DOTALL)
_ANY_PYTHON = re.compile(r"^```python$", re.MULTILINE)

#: What a fragment has in scope: a user's async function with a client and some input.
FRAGMENT_HEAD = """\
from __future__ import annotations

import asyncio
from collections.abc import Iterator

from groove_async import GrooveClient, TrackResult


class ProgressBar:
    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int) -> None:
        self.n += n


def read_ids_from_somewhere() -> Iterator[str]:
    yield from TRACK_IDS


RECORDED: list[TrackResult] = []
TRACK_IDS: list[str] = []


def record(item: TrackResult) -> None:
    RECORDED.append(item)


bar = ProgressBar()


async def example(groove: GrooveClient, token: str, track_ids: list[str]) -> None:
"""


class Example(NamedTuple):
    """One Python block of the README."""

    kind: str  # module, fragment, pytest or skip
    line: int
    code: str

    @property
    def name(self) -> str:
        return f"readme_line_{self.line}"

    def module(self) -> str:
        """The block as a module (a fragment inside the function of :data:`FRAGMENT_HEAD`)."""
        if self.kind == "fragment":
            return FRAGMENT_HEAD + textwrap.indent(self.code, "    ") + "\n"
        return self.code + "\n"


def examples() -> list[Example]:
    """Every marked Python block of the README, in order.

    Raises:
        ValueError: a Python block without a marker (every example is checked, or says why not).
    """
    text = README.read_text(encoding="utf-8")
    found = [
        Example(m.group(1), text.count("\n", 0, m.start(2)) + 1, m.group(2))
        for m in _BLOCK.finditer(text)
    ]
    if len(found) != len(_ANY_PYTHON.findall(text)):
        raise ValueError("every ```python block of README.md needs an <!-- example: ... --> marker")
    return found


def write(directory: Path) -> list[Path]:
    """Write the modules and fragments to ``directory`` (for mypy); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for example in examples():
        if example.kind in ("module", "fragment"):
            path = directory / f"{example.name}.py"
            path.write_text(example.module(), encoding="utf-8")
            paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write(Path(sys.argv[1])):
        print(written)
