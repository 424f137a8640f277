"""The work behind the knowledge commands, shared by the CLI and the console."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from copilot.settings import Settings
from knowledge import Citation, RecordHit

if TYPE_CHECKING:
    from knowledge import IngestSummary, KnowledgeBase


def open_kb(settings: Settings) -> KnowledgeBase:
    from knowledge import KnowledgeBase  # loads the store and loaders only for commands that use them

    return KnowledgeBase(settings.ensure_data_dir(), settings.collection, max_document_mb=settings.max_document_mb)


def ingest(settings: Settings, paths: list[Path], *, progress: bool) -> IngestSummary:
    return open_kb(settings).ingest(paths, progress=progress)


def search(settings: Settings, query: str, *, k: int, equipment: str | None, doc_type: str | None) -> list[Citation]:
    return open_kb(settings).search(query, k=k, equipment=equipment, doc_type=doc_type)


def records(
    settings: Settings, query: str | None, *, code: str | None, equipment: str | None, k: int
) -> list[RecordHit]:
    return open_kb(settings).records(query, code=code, equipment=equipment, k=k)
