"""Plant manuals and work instructions: ingestion, hybrid retrieval with citations, troubleshooting records."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from knowledge.citations import Citation, RecordHit
from knowledge.errors import DocumentError, IndexUnavailable, KnowledgeError, ModelUnavailable

if TYPE_CHECKING:
    from knowledge.base import DEFAULT_COLLECTION, KnowledgeBase, library_path
    from knowledge.ingest import FileOutcome, IngestSummary
    from knowledge.steps import Step, parse_steps

# The store, loaders and model cost seconds to import; commands that only need the errors should not pay.
_LAZY = {
    "DEFAULT_COLLECTION": "knowledge.base",
    "KnowledgeBase": "knowledge.base",
    "library_path": "knowledge.base",
    "parse_steps": "knowledge.steps",
    "Step": "knowledge.steps",
    "FileOutcome": "knowledge.ingest",
    "IngestSummary": "knowledge.ingest",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "DEFAULT_COLLECTION",
    "Citation",
    "DocumentError",
    "FileOutcome",
    "IndexUnavailable",
    "IngestSummary",
    "KnowledgeBase",
    "KnowledgeError",
    "ModelUnavailable",
    "RecordHit",
    "Step",
    "library_path",
    "parse_steps",
]
