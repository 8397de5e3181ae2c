"""Shared test helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).parent / "fixtures" / "docs"


def doc_bytes(name: str) -> bytes:
    """A documentation example body, byte for byte (tests/fixtures/docs, copied from shared/)."""
    return (DOCS / name).read_bytes()


def doc_json(name: str) -> Any:
    return json.loads(doc_bytes(name))


def posts(server: Any) -> list[Any]:
    """The POSTs an emulator received (its request log without the profile GETs)."""
    return [r for r in server.requests if r.method == "POST"]


def catalog_id(n: int) -> str:
    """A catalog track ID of the documented shape (spec section 7)."""
    return f"music.{n:08X}-0100-11DB-89CA-0019B92A3933"


@pytest.fixture
def docs() -> Path:
    return DOCS
