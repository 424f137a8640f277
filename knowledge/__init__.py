"""Plant manuals and work instructions: ingestion, hybrid retrieval with citations, troubleshooting records."""

from knowledge.base import DEFAULT_COLLECTION, KnowledgeBase, library_path
from knowledge.citations import Citation, RecordHit
from knowledge.errors import DocumentError, IndexUnavailable, KnowledgeError, ModelUnavailable
from knowledge.ingest import FileOutcome, IngestSummary

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
    "library_path",
]
