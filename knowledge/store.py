"""The vector store: a Chroma persistent directory with our own embedding function; chromadb stays in here."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from knowledge.embedding import Embedder, shared_embedder
from knowledge.errors import IndexUnavailable

Metadata = Mapping[str, str | int | float | bool]
_BATCH = 2000  # Chroma caps how many items one call may carry

logging.getLogger("chromadb").setLevel(logging.ERROR)


class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's hook to our embedder, so it never reaches for its default model download."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        embedder = self._embedder or shared_embedder()
        return [list(v) for v in embedder.encode(list(input))]  # type: ignore[misc]

    @staticmethod
    def name() -> str:
        return "line-copilot-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model": "all-MiniLM-L6-v2"}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()


@dataclass(frozen=True, kw_only=True)
class StoredItem:
    id: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None


class VectorStore:
    """Two collections per knowledge base: passages, and the troubleshooting records beside them."""

    def __init__(self, path: Path, collection: str, embedder: Embedder | None = None) -> None:
        self.path = path
        self.embedder = embedder
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )
            # chromadb's generic parameter is wider than the text-only function we give it.
            function: Any = MiniLMEmbeddingFunction(embedder)
            space = {"hnsw:space": "cosine"}
            self.chunks = self._client.get_or_create_collection(collection, embedding_function=function, metadata=space)
            self.records = self._client.get_or_create_collection(
                f"{collection}-records", embedding_function=function, metadata=space
            )
        except (ChromaError, OSError, ValueError, RuntimeError) as err:
            raise IndexUnavailable(
                f"cannot open the knowledge store at {path}: {err}; check the data directory's permissions and space"
            ) from err

    def upsert(
        self,
        target: str,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[Metadata],
    ) -> None:
        collection = self.chunks if target == "chunks" else self.records
        try:
            for start in range(0, len(ids), _BATCH):
                end = start + _BATCH
                collection.upsert(
                    ids=list(ids[start:end]),
                    documents=list(texts[start:end]),
                    embeddings=[list(e) for e in embeddings[start:end]],  # type: ignore[arg-type]
                    metadatas=[dict(m) for m in metadatas[start:end]],
                )
        except (ChromaError, ValueError, RuntimeError, OSError) as err:
            raise IndexUnavailable(f"cannot write to the knowledge store at {self.path}: {err}") from err

    def delete(self, target: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        collection = self.chunks if target == "chunks" else self.records
        try:
            for start in range(0, len(ids), _BATCH):
                collection.delete(ids=list(ids[start : start + _BATCH]))
        except (ChromaError, ValueError, RuntimeError, OSError) as err:
            raise IndexUnavailable(f"cannot delete from the knowledge store at {self.path}: {err}") from err

    def query(
        self,
        target: str,
        embedding: Sequence[float],
        n: int,
        where: dict[str, Any] | None = None,
        contains: str | None = None,
    ) -> list[StoredItem]:
        collection = self.chunks if target == "chunks" else self.records
        try:
            count = collection.count()
            if count == 0:
                return []
            result = collection.query(
                query_embeddings=[list(embedding)],  # type: ignore[arg-type]
                n_results=min(n, count),
                where=where or None,
                where_document={"$contains": contains} if contains else None,
                include=["documents", "metadatas", "distances"],
            )
        except (ChromaError, ValueError, RuntimeError, OSError) as err:
            raise IndexUnavailable(f"cannot search the knowledge store at {self.path}: {err}") from err
        ids = result["ids"][0]
        docs = (result.get("documents") or [[]])[0]
        metas = (result.get("metadatas") or [[]])[0]
        dists = (result.get("distances") or [[]])[0]
        return [
            StoredItem(id=i, text=d or "", metadata=dict(m or {}), distance=float(x))
            for i, d, m, x in zip(ids, docs, metas, dists, strict=False)
        ]

    def get(
        self, target: str, *, where: dict[str, Any] | None = None, ids: Sequence[str] | None = None
    ) -> list[StoredItem]:
        collection = self.chunks if target == "chunks" else self.records
        try:
            items: list[StoredItem] = []
            offset = 0
            while True:
                result = collection.get(
                    ids=list(ids) if ids is not None else None,
                    where=where or None,
                    limit=_BATCH,
                    offset=offset,
                    include=["documents", "metadatas"],
                )
                batch = result["ids"]
                docs = result.get("documents") or []
                metas = result.get("metadatas") or []
                items.extend(
                    StoredItem(id=i, text=d or "", metadata=dict(m or {}))
                    for i, d, m in zip(batch, docs, metas, strict=False)
                )
                if len(batch) < _BATCH or ids is not None:
                    return items
                offset += _BATCH
        except (ChromaError, ValueError, RuntimeError, OSError) as err:
            raise IndexUnavailable(f"cannot read the knowledge store at {self.path}: {err}") from err

    def count(self, target: str = "chunks") -> int:
        collection = self.chunks if target == "chunks" else self.records
        try:
            return int(collection.count())
        except (ChromaError, RuntimeError, OSError) as err:
            raise IndexUnavailable(f"cannot read the knowledge store at {self.path}: {err}") from err
