"""The public surface: what users import and how cheaply, and the documented stream shapes."""

from __future__ import annotations

import subprocess
import sys
from contextlib import aclosing

from groove_async import GrooveClient
from groove_async.testing import FakeGrooveServer
from tests.conftest import catalog_id
from tests.typing.public_usage import first_results


def test_loading_the_pytest_plugin_imports_neither_the_client_nor_its_dependencies() -> None:
    # pytest loads the plugin in every run of every project that installs groove-async.
    heavy = ["groove_async._client", "aiohttp", "tenacity", "cattrs", "orjson"]
    code = (
        "import sys, groove_async.testing.pytest_plugin; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(  # noqa: S603  (our own interpreter, a fixed script)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


async def test_a_stream_closed_early_with_aclosing() -> None:
    ids = [catalog_id(i) for i in range(250)]
    async with (
        FakeGrooveServer(tokens=["t"]) as server,
        GrooveClient("t", base_url=server.url, max_concurrency=2) as groove,
    ):
        taken = await first_results(groove, ids, 3)
        assert [r.input_id for r in taken] == ids[:3]
        async with aclosing(groove.stream_add_tracks(ids[:5])) as rest:
            assert [r.ok async for r in rest] == [True] * 5


def _public_lists() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """``groove_async/__init__.py``'s three lists of the public names, read from its source:
    the ``TYPE_CHECKING`` imports and ``_HOMES`` (name -> module), and ``__all__``."""
    import ast
    from pathlib import Path

    import groove_async

    tree = ast.parse(Path(groove_async.__file__).read_text(encoding="utf-8"))
    imported: dict[str, str] = {}
    homes: dict[str, str] = {}
    exported: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1
                for alias in statement.names:
                    assert alias.asname is None, "a public name is its home's own name"
                    imported[alias.name] = f".{statement.module}"
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "_HOMES":
            assert node.value is not None
            homes = ast.literal_eval(node.value)
        elif isinstance(target, ast.Name) and target.id == "__all__":
            assert node.value is not None
            exported = ast.literal_eval(node.value)
    return imported, homes, exported


def test_the_three_lists_of_public_names_agree() -> None:
    imported, homes, exported = _public_lists()

    assert imported, "no TYPE_CHECKING imports found"
    assert homes == imported  # the same names, each from the same module
    assert sorted(exported) == sorted([*homes, "__version__"])
    assert len(set(exported)) == len(exported)


def test_every_public_name_is_loaded_from_its_home() -> None:
    import importlib

    import groove_async

    _, homes, _ = _public_lists()
    for name, home in homes.items():
        assert getattr(groove_async, name) is getattr(
            importlib.import_module(home, "groove_async"), name
        ), name
