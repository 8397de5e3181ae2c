"""One table of wire names (issue 20): outside :mod:`groove_async._contracts` (and the
emulator, which has its own codec on purpose), no code of the package spells a wire member's
name; section 9 has no XML form."""

from __future__ import annotations

import ast
from pathlib import Path

from groove_async._contracts import CONTRACTS, SHAPES, XML_TYPES

PACKAGE = Path(__file__).resolve().parents[2] / "groove_async"
WIRE_NAMES = frozenset(
    name for contract in CONTRACTS.values() for name in (*contract.members.values(),)
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _all_entries(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            found.update(id(n) for n in ast.walk(node.value))
    return found


def _spelled(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _docstrings(tree) | _all_entries(tree)
    return [
        f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and (node.value in WIRE_NAMES or any(f'"{n}"' in node.value for n in WIRE_NAMES))
    ]


def test_only_the_contracts_table_spells_wire_names() -> None:
    modules = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "testing" not in path.relative_to(PACKAGE).parts and path.name != "_contracts.py"
    ]
    assert len(modules) > 20
    spelled = [where for path in modules for where in _spelled(path)]
    assert spelled == []


def test_the_table_covers_section_9_and_keeps_it_json_only() -> None:
    for name in (
        "TrackActionResults",
        "InputId",
        "PlaylistActionResult",
        "CollectionStateToken",
        "TrackActions",
        "TrackCount",
        "Playlists",
        "Items",
        "ContinuationToken",
        "TotalItemCount",
        "Collection",
        "Link",
    ):
        assert name in WIRE_NAMES
    assert set(SHAPES) == set(XML_TYPES)
