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
