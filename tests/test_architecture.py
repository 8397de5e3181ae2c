"""docs/architecture.md stays true: every module is on the map, in a layer, and its size right.

``python -m tests.test_architecture`` rewrites the size table from the tree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "groove_async"
DOC = ROOT / "docs" / "architecture.md"
#: How far a size in the table may drift from the file before the table must be rewritten.
SLACK_LINES = 25


def modules() -> dict[str, int]:
    """Each module of the package (path relative to it) and its length in lines."""
    return {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def documented_sizes() -> dict[str, int]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- sizes:start -->")[1].split("<!-- sizes:end -->")[0]
    return {name: int(size) for name, size in re.findall(r"`([\w/]+\.py)` \| (\d+)", table)}


def size_table() -> str:
    rows = sorted(modules().items())
    per_column = -(-len(rows) // 3)
    columns = [rows[i * per_column : (i + 1) * per_column] for i in range(3)]
    lines = [
        "| module | lines | module | lines | module | lines |",
        "|---|---:|---|---:|---|---:|",
    ]
    for i in range(per_column):
        cells = []
        for column in columns:
            cells += [f"`{column[i][0]}`", str(column[i][1])] if i < len(column) else ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_every_module_is_in_the_size_table_and_its_size_is_right() -> None:
    actual, documented = modules(), documented_sizes()
    assert sorted(set(actual) - set(documented)) == [], "modules missing from the table"
    assert sorted(set(documented) - set(actual)) == [], "the table lists modules that are gone"
    drifted = {
        name: (documented[name], lines)
        for name, lines in actual.items()
        if abs(documented[name] - lines) > SLACK_LINES
    }
    assert drifted == {}, "sizes drifted: run `python -m tests.test_architecture`"


def test_no_module_is_over_500_lines() -> None:
    assert {name: n for name, n in modules().items() if n > 500} == {}


def test_every_client_module_is_in_a_layer_and_on_the_map() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    doc = DOC.read_text(encoding="utf-8")
    for name in modules():
        top = name.split("/")[0].removesuffix(".py")
        if top in {"__init__", "__main__", "testing"}:
            continue
        assert f"groove_async.{top}" in layered, f"{top} is in no import-linter layer"
        assert f"`{top}`" in doc or f"`{top}/`" in doc, f"{top} is not on docs/architecture.md"


def _write() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split("<!-- sizes:start -->")
    _, tail = rest.split("<!-- sizes:end -->")
    DOC.write_text(
        f"{head}<!-- sizes:start -->\n{size_table()}\n<!-- sizes:end -->{tail}", encoding="utf-8"
    )


if __name__ == "__main__":
    _write()
    sys.exit(0)
