"""Knowledge fixtures: an empty knowledge base per test (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from knowledge.embedding import Embedder


@pytest.fixture
def fresh_kb(tmp_path: Path, embedder: Embedder) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "data", embedder=embedder)
