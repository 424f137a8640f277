"""Retrieval evaluation: recall@1, recall@5 and MRR of BM25, vectors and hybrid on the plant library question set."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors import yaml_source
from knowledge import KnowledgeError

if TYPE_CHECKING:
    from knowledge import KnowledgeBase

RETRIEVERS = ("bm25", "vectors", "hybrid")
MRR_DEPTH = 10


class EvalError(KnowledgeError):
    """The question set cannot be used."""


@dataclass(frozen=True, kw_only=True)
class Question:
    id: str
    question: str
    document: str
    section: str

    @property
    def category(self) -> str:
        return self.id.split("-", 1)[0]


@dataclass(kw_only=True)
class Scores:
    recall_at_1: float = 0.0
    recall_at_5: float = 0.0
    mrr: float = 0.0


@dataclass(kw_only=True)
class RetrievalReport:
    questions: int
    chunks: int
    scores: dict[str, Scores]
    by_category: dict[str, dict[str, Scores]]
    misses: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def goals(self) -> dict[str, bool]:
        hybrid = self.scores["hybrid"]
        best = {
            metric: max(getattr(self.scores["bm25"], metric), getattr(self.scores["vectors"], metric))
            for metric in ("recall_at_1", "recall_at_5", "mrr")
        }
        return {
            "hybrid_at_least_best_single": all(getattr(hybrid, m) >= v - 1e-9 for m, v in best.items()),
            "hybrid_recall_at_5_at_least_0.95": hybrid.recall_at_5 >= 0.95,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "chunks": self.chunks,
            "scores": {k: asdict(v) for k, v in self.scores.items()},
            "by_category": {c: {k: asdict(v) for k, v in s.items()} for c, s in self.by_category.items()},
            "goals": self.goals,
            "misses": self.misses,
            "seconds": round(self.seconds, 1),
        }


def load_questions(path: Path) -> list[Question]:
    document = yaml_source.load(path, EvalError)
    if not isinstance(document.data, list) or not document.data:
        raise EvalError(f"{path}: expected a YAML list of questions")
    questions = []
    for i, item in enumerate(document.data):
        try:
            expect = item["expect"]
            questions.append(
                Question(
                    id=str(item["id"]),
                    question=str(item["question"]),
                    document=str(expect["document"]),
                    section=str(expect["section"]),
                )
            )
        except (KeyError, TypeError) as err:
            raise EvalError(f"{path}:{document.line_of((i,))}: each question needs id, question, expect") from err
    return questions


def _score(ranks: list[int | None]) -> Scores:
    n = len(ranks) or 1
    return Scores(
        recall_at_1=round(sum(1 for r in ranks if r == 1) / n, 4),
        recall_at_5=round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
        mrr=round(sum(1.0 / r for r in ranks if r is not None and r <= MRR_DEPTH) / n, 4),
    )


def run_retrieval(kb: KnowledgeBase, questions_path: Path) -> RetrievalReport:
    """Score each retriever alone and fused; ingests the shipped library first when the collection is empty."""
    started = time.perf_counter()
    questions = load_questions(questions_path)
    if kb.chunk_count() == 0:
        from knowledge import library_path

        kb.ingest([library_path()], progress=False)
    places = {
        item.id: (Path(str(item.metadata.get("source", ""))).name, str(item.metadata.get("section", "")))
        for item in kb.store.get("chunks")
    }

    def first_correct(ids: list[str], question: Question) -> int | None:
        for rank, chunk_id in enumerate(ids, 1):
            name, section = places.get(chunk_id, ("", ""))
            if name == question.document and question.section in section.split(" > "):
                return rank
        return None

    ranks: dict[str, list[int | None]] = {r: [] for r in RETRIEVERS}
    per_category: dict[str, dict[str, list[int | None]]] = {}
    misses: list[dict[str, Any]] = []
    for question in questions:
        ranking = kb.rank(question.question, k=MRR_DEPTH)
        found = {
            "bm25": first_correct(ranking.lexical, question),
            "vectors": first_correct(ranking.vector, question),
            "hybrid": first_correct(ranking.fused, question),
        }
        for retriever, rank in found.items():
            ranks[retriever].append(rank)
            per_category.setdefault(question.category, {r: [] for r in RETRIEVERS})[retriever].append(rank)
        if found["hybrid"] is None or found["hybrid"] > 5:
            top = places.get(ranking.fused[0], ("", "")) if ranking.fused else ("", "")
            misses.append(
                {
                    "id": question.id,
                    "question": question.question,
                    "hybrid_rank": found["hybrid"],
                    "expected": f"{question.document} / {question.section}",
                    "got": " / ".join(top),
                }
            )
    return RetrievalReport(
        questions=len(questions),
        chunks=len(places),
        scores={r: _score(v) for r, v in ranks.items()},
        by_category={c: {r: _score(v) for r, v in s.items()} for c, s in sorted(per_category.items())},
        misses=misses,
        seconds=time.perf_counter() - started,
    )


def default_questions() -> Path:
    """The question set beside the evaluation code of a checkout."""
    return Path(__file__).resolve().parent / "data" / "retrieval_questions.yaml"
