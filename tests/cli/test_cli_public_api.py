"""The command line uses the public API only (issue 20): no private module of the client."""

from __future__ import annotations

import ast
import tomllib

from .conftest import ROOT


def test_the_contract_forbids_every_private_module_of_the_client() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = (c for c in contracts if c["name"].startswith("The command line uses the public"))
    private = {
        f"groove_async.{path.stem}"
        for path in (ROOT / "groove_async").glob("_*.py")
        if path.stem not in {"__init__", "__main__"}
    }

    assert set(contract["forbidden_modules"]) == private


def test_no_module_of_the_command_line_imports_a_private_one() -> None:
    # What lint-imports checks, also here so that a plain pytest run sees it.
    for path in sorted((ROOT / "groove_async" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.ImportFrom):  # relative: within cli/, or above it
                assert node.level == 1, f"{path.name}: from {'.' * node.level}{node.module}"
                continue
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                private = parts[0] == "groove_async" and any(
                    p.startswith("_") and not p.startswith("__") for p in parts[1:]
                )
                assert not private, f"{path.name} imports {name}"
