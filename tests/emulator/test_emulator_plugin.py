"""The public surface of groove_async.testing and its pytest plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import groove_async.testing
from groove_async.testing import FakeGrooveServer
from tests.emulator.conftest import ADD

PLUGIN_FAILURE = "the groove_server fixture needs pytest-asyncio"


def test_all_is_sorted_and_complete() -> None:
    names = groove_async.testing.__all__
    assert names == sorted(names)
    assert set(names) == {
        "FakeGrooveServer",
        "FaultPlan",
        "MemoryTransport",
        "RequestRecord",
        "ScriptedResponse",
        "StoredPlaylist",
        "TokenQuota",
        "Violation",
        "catalog_track_id",
    }
    for name in names:
        assert getattr(groove_async.testing, name).__doc__
    assert set(names) <= set(dir(groove_async.testing))


def run_python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- our own interpreter, fixed arguments
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_the_plugin_does_not_load_the_server() -> None:
    done = run_python(
        """
        import sys
        import groove_async.testing.pytest_plugin
        assert "groove_async.testing._server" not in sys.modules, "server imported"
        from groove_async.testing import FakeGrooveServer
        assert "groove_async.testing._server" in sys.modules
        """
    )
    assert done.returncode == 0, done.stderr


async def test_groove_server_fixture(groove_server: FakeGrooveServer) -> None:
    import aiohttp

    assert groove_server.url.startswith("http://127.0.0.1:")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            groove_server.url + ADD,
            json={"TrackIds": ["music.A83EB907-0100-11DB-89CA-0019B92A3933"]},
            headers={"Authorization": "Bearer demo-token"},
        ) as response,
    ):
        assert response.status == 200
    assert list(groove_server.collection("demo-token")) == [
        "music.A83EB907-0100-11DB-89CA-0019B92A3933"
    ]


def write_user_tests(directory: Path) -> None:
    (directory / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.asyncio
            async def test_uses_the_fixture(groove_server):
                assert groove_server.url.startswith("http://")
                assert groove_server.collection("demo-token") == {}
            """
        )
    )


def test_the_fixture_in_strict_mode(tmp_path: Path) -> None:
    """A user's project in pytest-asyncio's strict mode gets the fixture from the entry point."""
    write_user_tests(tmp_path)
    done = run_python(
        """
        import sys, pytest
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-W", "error",
                              "-o", "asyncio_mode=strict",
                              "-o", "asyncio_default_fixture_loop_scope=function",
                              "test_user.py"]))
        """,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_without_pytest_asyncio_the_fixture_says_what_to_install(tmp_path: Path) -> None:
    # A module that shadows pytest-asyncio and refuses to import, as if it were not installed.
    # (A meta-path hook would not do: pytest's assertion rewriter imports plugins before it.)
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pytest_asyncio.py").write_text("raise ImportError('not installed')\n")
    (tmp_path / "test_user.py").write_text("def test_needs_it(groove_server):\n    pass\n")
    done = run_python(
        """
        import sys
        sys.path.insert(0, "shadow")
        import pytest
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:asyncio",
                              "test_user.py"]))
        """,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert PLUGIN_FAILURE in done.stdout
    assert "1 error" in done.stdout
