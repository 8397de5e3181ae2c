"""The README's Python examples run, as written, against the emulator (see readme_examples.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from groove_async import GrooveClient
from groove_async.testing import FakeGrooveServer, catalog_track_id
from tests.readme_examples import README, Example, examples

ROOT = README.parent
EXAMPLES = examples()
TOKEN = "user-token"


def by_kind(kind: str) -> list[Example]:
    return [e for e in EXAMPLES if e.kind == kind]


def load(example: Example) -> types.ModuleType:
    module = types.ModuleType(example.name)
    exec(compile(example.module(), f"README.md:{example.line}", "exec"), module.__dict__)  # noqa: S102
    return module


def test_every_python_block_is_marked_and_some_run() -> None:
    assert {e.kind for e in EXAMPLES} >= {"module", "fragment", "pytest"}


@pytest.mark.parametrize("example", by_kind("module") + by_kind("fragment"), ids=lambda e: e.name)
async def test_the_readme_example_runs_against_the_emulator(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    track_ids = [catalog_track_id(n) for n in range(150)] + ["music.not-in-catalog"]
    async with FakeGrooveServer(tokens=[TOKEN]) as server:
        defaults = dict(GrooveClient.__init__.__kwdefaults__ or {})
        monkeypatch.setattr(
            GrooveClient.__init__, "__kwdefaults__", {**defaults, "base_url": server.url}
        )
        module = load(example)
        if example.kind == "fragment":
            module.TRACK_IDS[:] = track_ids
            async with GrooveClient(TOKEN) as groove:
                await module.example(groove, TOKEN, track_ids)
        elif hasattr(module, "main"):
            retry = await module.main(track_ids)
            assert retry == []
        collection = server.collection(TOKEN)
    if collection:  # an example may bring its own server, or add to a playlist only
        # Every example that adds tracks added the known ones, through the emulator (the
        # README's code keeps its default base URL: the emulator's is patched in as the default).
        assert set(collection) == {t.upper().replace("MUSIC.", "music.") for t in track_ids[:150]}


def test_the_readme_pytest_example_passes_in_a_project_with_default_settings(
    tmp_path: Path,
) -> None:
    (example,) = by_kind("pytest")
    emulator_example = (ROOT / "examples" / "emulator_example.py").read_text()
    importer = re.search(r"(async def import_tracks.*?)\n\n\n", emulator_example, re.DOTALL)
    assert importer is not None
    (tmp_path / "my_importer.py").write_text(
        "import asyncio\n\nimport aiohttp\n\n\n" + importer.group(1) + "\n"
    )
    (tmp_path / "test_readme.py").write_text(example.code + "\n")
    config = re.search(
        r"<!-- example: pytest-config -->\n```toml\n(.*?)```", README.read_text(), re.DOTALL
    )
    assert config is not None
    (tmp_path / "pyproject.toml").write_text(config.group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
