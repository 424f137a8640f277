"""What every search result is: a citation a person can follow back to the page or lines of a document."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A passage with where it stands: document, section, page (PDF) or line range (text formats)."""

    source: str  # the path as it was ingested
    doc_id: str
    chunk_id: str
    title: str
    section: str
    page: int | None
    lines: str | None  # "12-30"
    score: float
    text: str
    doc_type: str
    equipment: str
    revision: str
    kind: str  # text, table, steps, code

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def where(self) -> str:
        """`Title, Section, p. 4` or `Title, Section, lines 12-30`, as printed beside an answer."""
        place = f"p. {self.page}" if self.page else f"lines {self.lines}" if self.lines else ""
        return ", ".join(part for part in (self.title, self.section, place) if part)


@dataclass(frozen=True, kw_only=True)
class RecordHit:
    """A troubleshooting or alarm record with the document it came from."""

    kind: str
    code: str
    symptom: str
    cause: str
    remedy: str
    related_tags: tuple[str, ...]
    source: str
    title: str
    section: str
    page: int | None
    equipment: str
    doc_type: str
    score: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
