"""Knowledge fixtures: the real model loaded once, the shipped library ingested once into a real Chroma folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, library_path
from knowledge.embedding import Embedder, shared_embedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return shared_embedder()


@pytest.fixture(scope="session")
def library_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """The plant library in its own data directory; tests that only read share it."""
    kb = KnowledgeBase(tmp_path_factory.mktemp("library-kb"), embedder=embedder)
    summary = kb.ingest([library_path()], progress=False)
    assert not summary.skipped, summary.skipped
    return kb


@pytest.fixture
def fresh_kb(tmp_path: Path, embedder: Embedder) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "data", embedder=embedder)
