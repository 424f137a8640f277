"""The knowledge base as the rest of the product sees it: ingest folders, search passages, look up records."""

from __future__ import annotations

from pathlib import Path

from knowledge.citations import Citation, RecordHit
from knowledge.embedding import Embedder, shared_embedder
from knowledge.errors import KnowledgeError
from knowledge.ingest import Ingestor, IngestSummary
from knowledge.lexical import LexicalIndex
from knowledge.retrieve import Ranking, Retriever
from knowledge.state import IngestState
from knowledge.store import VectorStore

DEFAULT_COLLECTION = "plant"


def library_path() -> Path:
    """The plant library shipped with the project."""
    return Path(__file__).parent / "library"


class KnowledgeBase:
    """One collection under `data_dir/knowledge/`: Chroma vectors, a BM25 index and an ingest manifest."""

    def __init__(
        self,
        data_dir: Path,
        collection: str = DEFAULT_COLLECTION,
        *,
        embedder: Embedder | None = None,
        max_document_mb: float = 50.0,
    ) -> None:
        if not collection.replace("-", "").replace("_", "").isalnum() or not 3 <= len(collection) <= 60:
            raise KnowledgeError(f"collection name {collection!r}: use 3 to 60 letters, digits, - or _")
        root = data_dir / "knowledge"
        self.collection = collection
        self.embedder = embedder or shared_embedder()
        self.store = VectorStore(root / "chroma", collection, self.embedder)
        self.lexical = LexicalIndex(root / "bm25" / collection)
        self.state = IngestState(root / "manifests" / f"{collection}.json")
        self._ingestor = Ingestor(
            self.store, self.lexical, self.state, self.embedder, max_bytes=int(max_document_mb * 1_000_000)
        )
        self._retriever = Retriever(self.store, self.lexical, self.embedder)

    def ingest(self, paths: list[Path], *, progress: bool = True) -> IngestSummary:
        return self._ingestor.run(paths, progress=progress)

    def search(
        self, query: str, *, k: int = 5, equipment: str | None = None, doc_type: str | None = None
    ) -> list[Citation]:
        if not query.strip():
            raise KnowledgeError("the search query is empty")
        if not 1 <= k <= 100:
            raise KnowledgeError("k must be between 1 and 100")
        return self._retriever.search(query, k=k, equipment=equipment, doc_type=doc_type)

    def rank(self, query: str, *, k: int = 10) -> Ranking:
        """Vector, lexical and fused rankings of chunk ids (for the retrieval evaluation)."""
        return self._retriever.rank(query, k=k)[0]

    def records(
        self, query: str | None = None, *, code: str | None = None, equipment: str | None = None, k: int = 10
    ) -> list[RecordHit]:
        return self._retriever.records(query, code=code, equipment=equipment, k=k)

    def rebuild_lexical(self) -> None:
        """Rebuild the BM25 index from what the vector store holds (after writing to the store directly)."""
        self._ingestor.rebuild_lexical()

    def chunk_count(self) -> int:
        return self.store.count("chunks")

    def record_count(self) -> int:
        return self.store.count("records")
