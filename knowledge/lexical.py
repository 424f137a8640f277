"""The lexical index: BM25 (bm25s) over the same passages, with tokens that keep alarm codes and tag names whole."""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from knowledge.errors import IndexUnavailable

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

# "CAP-301", "E-204", "filler.bowl_level" and "OvertempError" each stay one token; their parts are indexed too.
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*")
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "did",
        "can",
        "should",
        "my",
        "me",
        "we",
        "our",
        "not",
        "no",
    )
)


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        word = match.group(0).lower()
        if word in _STOP:
            continue
        out.append(word)
        parts = re.split(r"[-_.]", word)
        if len(parts) > 1:
            out.extend(p for p in parts if p and p not in _STOP)
    return out


@dataclass(frozen=True, kw_only=True)
class LexicalEntry:
    id: str
    text: str
    equipment: str
    doc_type: str


class LexicalIndex:
    """BM25 over every passage of a collection; rebuilt after each ingest that changed something."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._model: bm25s.BM25 | None = None
        self._ids: list[str] = []
        self._equipment: np.ndarray | None = None
        self._doc_type: np.ndarray | None = None
        self._loaded_stamp: float | None = None
        self._masks: dict[tuple[str | None, str | None], np.ndarray] = {}

    def rebuild(self, entries: list[LexicalEntry]) -> None:
        staging = self.path.with_name(self.path.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir(parents=True)
            meta = {
                "ids": [e.id for e in entries],
                "equipment": [e.equipment for e in entries],
                "doc_type": [e.doc_type for e in entries],
            }
            if entries:
                model = bm25s.BM25()
                model.index([tokens(e.text) or ["_empty_"] for e in entries], show_progress=False)
                model.save(str(staging / "bm25"), show_progress=False)
            (staging / "entries.json").write_text(json.dumps(meta), encoding="utf-8")
            # Swap whole directories so a reader never sees half an index.
            old = self.path.with_name(self.path.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            staging.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as err:
            raise IndexUnavailable(f"cannot write the lexical index at {self.path}: {err.strerror or err}") from err
        self._loaded_stamp = None

    def _load(self) -> None:
        marker = self.path / "entries.json"
        try:
            stamp = marker.stat().st_mtime
        except FileNotFoundError:
            self._model, self._ids, self._loaded_stamp = None, [], None
            return
        if stamp == self._loaded_stamp:
            return
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            self._ids = list(meta["ids"])
            self._equipment = np.array(meta["equipment"], dtype=object)
            self._doc_type = np.array(meta["doc_type"], dtype=object)
            self._model = bm25s.BM25.load(str(self.path / "bm25")) if self._ids else None
            self._masks = {}
        except (OSError, ValueError, KeyError) as err:
            raise IndexUnavailable(
                f"the lexical index at {self.path} is damaged ({err}); run `copilot ingest` again to rebuild it"
            ) from err
        self._loaded_stamp = stamp

    def search(
        self, query: str, n: int, *, equipment: str | None = None, doc_type: str | None = None
    ) -> list[tuple[str, float]]:
        """Up to `n` (id, score) pairs with a positive score, best first."""
        self._load()
        if self._model is None or not self._ids:
            return []
        query_tokens = tokens(query)
        if not query_tokens:
            return []
        mask = None
        if equipment or doc_type:
            mask = self._mask(equipment, doc_type)
            if not mask.any():
                return []
        k = min(n, len(self._ids))
        docs, scores = self._model.retrieve([query_tokens], k=k, show_progress=False, weight_mask=mask, n_threads=0)
        return [(self._ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _mask(self, equipment: str | None, doc_type: str | None) -> np.ndarray:
        # Comparing 100k labels costs milliseconds; the same filter comes back query after query.
        key = (equipment, doc_type)
        cached = self._masks.get(key)
        if cached is None:
            cached = np.ones(len(self._ids), dtype=np.float32)
            if equipment and self._equipment is not None:
                cached *= self._equipment == equipment
            if doc_type and self._doc_type is not None:
                cached *= self._doc_type == doc_type
            self._masks[key] = cached
        return cached

    @property
    def size(self) -> int:
        self._load()
        return len(self._ids)
