"""Hybrid retrieval: vectors and BM25 fused by reciprocal rank, exact codes first, every hit a citation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from knowledge.citations import Citation, RecordHit
from knowledge.embedding import Embedder
from knowledge.lexical import LexicalIndex
from knowledge.store import StoredItem, VectorStore

RRF_K = 60  # the usual constant: ranks beyond a few dozen contribute almost nothing
_CANDIDATES = 50
# Strings a person copies from a screen: alarm codes (CAP-301, E-204), CamelCase faults (OvertempError), quotes.
_CODE = re.compile(r"\b[A-Za-z]{1,6}-?\d{2,5}[A-Za-z]?\b|\b[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+\b")
_QUOTED = re.compile(r"\"([^\"]{3,80})\"|'([^']{3,80})'")


def exact_terms(query: str) -> list[str]:
    """Terms that must appear verbatim in the passage ranked first."""
    found = [
        m.group(0)
        for m in _CODE.finditer(query)
        if any(c.isdigit() for c in m.group(0)) or m.group(0)[1:] != m.group(0)[1:].lower()
    ]
    found += [a or b for a, b in _QUOTED.findall(query)]
    return list(dict.fromkeys(found))


def _where(equipment: str | None, doc_type: str | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if equipment:
        clauses.append({"equipment": equipment})
    if doc_type:
        clauses.append({"doc_type": doc_type})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _citation(item: StoredItem, score: float) -> Citation:
    m = item.metadata
    start, end = int(m.get("line_start", 0) or 0), int(m.get("line_end", 0) or 0)
    return Citation(
        source=str(m.get("source", "")),
        doc_id=str(m.get("doc_id", "")),
        chunk_id=item.id,
        title=str(m.get("title", "")),
        section=str(m.get("section", "")),
        page=int(m.get("page", 0) or 0) or None,
        lines=f"{start}-{end}" if start else None,
        score=round(score, 6),
        text=item.text,
        doc_type=str(m.get("doc_type", "")),
        equipment=str(m.get("equipment", "")),
        revision=str(m.get("revision", "")),
        kind=str(m.get("kind", "text")),
    )


@dataclass(frozen=True, kw_only=True)
class Ranking:
    """One retriever's ranked ids, kept so the evaluation can score each retriever alone."""

    vector: list[str]
    lexical: list[str]
    fused: list[str]


class Retriever:
    def __init__(self, store: VectorStore, lexical: LexicalIndex, embedder: Embedder) -> None:
        self.store = store
        self.lexical = lexical
        self.embedder = embedder

    def rank(
        self, query: str, *, k: int, equipment: str | None = None, doc_type: str | None = None
    ) -> tuple[Ranking, dict[str, StoredItem], dict[str, float]]:
        where = _where(equipment, doc_type)
        n = max(_CANDIDATES, k * 4)
        embedding = self.embedder.encode_query(query)  # once per query: it is the largest part of the latency
        vector_hits = self.store.query("chunks", embedding, n, where)
        items = {hit.id: hit for hit in vector_hits}
        lexical_hits = self.lexical.search(query, n, equipment=equipment, doc_type=doc_type)
        scores: dict[str, float] = {}
        for rank, hit in enumerate(vector_hits):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, (chunk_id, _) in enumerate(lexical_hits):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        missing = [cid for cid, _ in lexical_hits if cid not in items]
        if missing:
            items.update({item.id: item for item in self.store.get("chunks", ids=missing)})
        terms = exact_terms(query)
        if terms:
            self._promote_exact(terms, embedding, n, where, items, scores)
        fused = sorted((cid for cid in scores if cid in items), key=lambda cid: scores[cid], reverse=True)
        ranking = Ranking(vector=[h.id for h in vector_hits], lexical=[cid for cid, _ in lexical_hits], fused=fused)
        return ranking, items, scores

    def _promote_exact(
        self,
        terms: list[str],
        embedding: list[float],
        n: int,
        where: dict[str, Any] | None,
        items: dict[str, StoredItem],
        scores: dict[str, float],
    ) -> None:
        # A passage that quotes the code from the screen outranks any paraphrase: add 1.0 to its fused score.
        for term in terms:
            lowered = term.lower()
            holders = [cid for cid, item in items.items() if lowered in item.text.lower()]
            if not holders:
                for variant in dict.fromkeys([term, term.upper()]):
                    for hit in self.store.query("chunks", embedding, n, where, contains=variant):
                        items[hit.id] = hit
                        holders.append(hit.id)
            for cid in holders:
                scores[cid] = scores.get(cid, 0.0) + 1.0

    def search(
        self, query: str, *, k: int = 5, equipment: str | None = None, doc_type: str | None = None
    ) -> list[Citation]:
        ranking, items, scores = self.rank(query, k=k, equipment=equipment, doc_type=doc_type)
        return [_citation(items[cid], scores[cid]) for cid in ranking.fused[:k]]

    def records(
        self,
        query: str | None = None,
        *,
        code: str | None = None,
        equipment: str | None = None,
        k: int = 10,
    ) -> list[RecordHit]:
        """Troubleshooting records by code, by description (semantic), or all of them.

        A code finds the rows whose code column holds it first, then the rows that name it in another cell: a
        drive's fault code ("the inverter display shows E-204") is written in the symptom, not in a code column.
        """
        if code:
            wanted = code.strip().upper()
            rows = [
                _record(h, 1.0)
                for h in self.store.get("records", where={"equipment": equipment} if equipment else None)
            ]
            exact = [r for r in rows if r.code.upper() == wanted]
            named = [r for r in rows if r.code.upper() != wanted and names_code(r, wanted)]
            return (exact + named)[:k] if query else exact + named
        where = {"equipment": equipment} if equipment else None
        if query:
            # The embedding finds rows about the same equipment; the row's own words decide between them ("caps
            # loose and bottles leaking" is the clutch row, not the air row that also speaks of caps).
            hits = self.store.query("records", self.embedder.encode_query(query), k * 3, where)
            scored = [_record(h, 1.0 - (h.distance or 0.0)) for h in hits]
            asked = _stems(query)
            ranked = sorted(
                scored,
                key=lambda r: -(r.score + _overlap(asked, _stems(f"{r.code} {r.symptom} {r.cause}"))),
            )
            return ranked[:k]
        return [_record(h, 1.0) for h in self.store.get("records", where=where)]


_STOP = {"the", "and", "some", "with", "what", "why", "are", "was", "for", "from", "this", "that", "there", "its"}


def _stems(text: str) -> set[str]:
    # Four letters stand for a word's family: "leak", "leaking" and "leaks" are one.
    return {w[:4] for w in re.findall(r"[a-z0-9]+(?:-[0-9]+)?", text.lower()) if len(w) > 2 and w not in _STOP}


def _overlap(asked: set[str], row: set[str]) -> float:
    return len(asked & row) / len(asked) if asked else 0.0


def names_code(record: RecordHit, code: str) -> bool:
    """Whether any cell of the row names `code` as a whole word (E-204, not E-2041)."""
    cells = f"{record.symptom} {record.cause} {record.remedy}"
    return re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", cells, re.IGNORECASE) is not None


def _record(item: StoredItem, score: float) -> RecordHit:
    m = item.metadata
    tags = str(m.get("related_tags", ""))
    return RecordHit(
        kind=str(m.get("kind", "")),
        code=str(m.get("code", "")),
        symptom=str(m.get("symptom", "")),
        cause=str(m.get("cause", "")),
        remedy=str(m.get("remedy", "")),
        related_tags=tuple(t for t in tags.split(",") if t),
        source=str(m.get("source", "")),
        title=str(m.get("title", "")),
        section=str(m.get("section", "")),
        page=int(m.get("page", 0) or 0) or None,
        equipment=str(m.get("equipment", "")),
        doc_type=str(m.get("doc_type", "")),
        score=round(score, 6),
    )
