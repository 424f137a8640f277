"""A parsed document as every loader returns it: metadata plus a flat list of structural blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    TABLE = "table"
    STEPS = "steps"  # a numbered procedure: kept whole when chunking
    LIST = "list"
    CODE = "code"  # preformatted text: never split mid-way


@dataclass(frozen=True, kw_only=True)
class Block:
    """One structural element, with where it came from in the file."""

    kind: BlockKind
    text: str
    level: int = 0  # heading level, 1 = title
    rows: tuple[tuple[str, ...], ...] = ()  # tables: header row first
    page: int | None = None  # PDF pages, 1-based
    line_start: int | None = None  # text formats, 1-based inclusive
    line_end: int | None = None


@dataclass(frozen=True, kw_only=True)
class DocumentMeta:
    """What a document is; loaders fill what the format carries, the library manifest may override it."""

    title: str = ""
    doc_type: str = ""
    equipment: str = ""
    revision: str = ""


@dataclass(frozen=True, kw_only=True)
class ParsedDocument:
    meta: DocumentMeta
    blocks: list[Block] = field(default_factory=list)


def table_text(rows: tuple[tuple[str, ...], ...]) -> str:
    """A table as text that reads well and keeps each row's cells together for search."""
    if not rows:
        return ""
    header, *body = rows
    lines = [" | ".join(header)]
    for row in body:
        cells = [f"{h}: {c}" if h else c for h, c in zip(header, row, strict=False) if c]
        lines.append("; ".join(cells))
    return "\n".join(lines)


def parse_keywords(text: str) -> dict[str, str]:
    """`equipment=filler; revision=C` as stored in PDF and DOCX keywords."""
    found: dict[str, str] = {}
    for part in text.replace(",", ";").split(";"):
        key, sep, value = part.partition("=")
        if sep:
            found[key.strip().lower()] = value.strip()
    return found
