"""Structure-aware chunking: sections from the heading path, tables and procedures whole, sizes for MiniLM."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.documents import Block, BlockKind, ParsedDocument
from knowledge.loaders.text_common import STEP_RE

# all-MiniLM-L6-v2 reads 256 word pieces; about 180 English words fit with the title and section prepended.
MAX_WORDS = 180
TABLE_MAX_WORDS = 320  # a table is worth a longer chunk than prose before it is split by rows
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A passage that is indexed and cited as one unit."""

    index: int
    text: str
    section: str
    kind: str  # text, table, steps or code
    page: int | None
    line_start: int | None
    line_end: int | None


def _words(text: str) -> int:
    return len(text.split())


def _span(blocks: list[Block]) -> tuple[int | None, int | None, int | None]:
    pages = [b.page for b in blocks if b.page is not None]
    starts = [b.line_start for b in blocks if b.line_start is not None]
    ends = [b.line_end for b in blocks if b.line_end is not None]
    return (min(pages) if pages else None, min(starts) if starts else None, max(ends) if ends else None)


def _split_sentences(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if current and _words(" ".join([*current, sentence])) > limit:
            pieces.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    # A single sentence longer than the limit is cut by words: rare, but a run-on cell must not vanish.
    out: list[str] = []
    for piece in pieces:
        words = piece.split()
        out.extend(" ".join(words[i : i + limit]) for i in range(0, len(words), limit))
    return out


def _table_pieces(block: Block) -> list[str]:
    if _words(block.text) <= TABLE_MAX_WORDS or len(block.rows) < 3:
        return [block.text]
    header, *rows = block.text.split("\n")
    pieces: list[str] = []
    current: list[str] = []
    for row in rows:
        if current and _words("\n".join([header, *current, row])) > TABLE_MAX_WORDS:
            pieces.append("\n".join([header, *current]))
            current = []
        current.append(row)
    if current:
        pieces.append("\n".join([header, *current]))
    return pieces  # each piece repeats the header so its rows still read as the table they belong to


def _group_steps(blocks: list[Block]) -> list[Block]:
    """Numbered steps that a format gave as separate paragraphs (PDF, plain text) become one procedure block."""
    grouped: list[Block] = []
    run: list[Block] = []

    def close() -> None:
        if len(run) >= 2:
            page, first, last = _span(run)
            grouped.append(
                Block(
                    kind=BlockKind.STEPS,
                    text="\n".join(b.text for b in run),
                    page=page,
                    line_start=first,
                    line_end=last,
                )
            )
        else:
            grouped.extend(run)
        run.clear()

    for block in blocks:
        is_step = block.kind is BlockKind.STEPS or (block.kind is BlockKind.PARAGRAPH and STEP_RE.match(block.text))
        if is_step:
            run.append(block)
        else:
            close()
            grouped.append(block)
    close()
    return grouped


def chunk_document(document: ParsedDocument, *, max_words: int = MAX_WORDS) -> list[Chunk]:
    """Cut a parsed document into passages that each stay inside one section."""
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    pending: list[Block] = []

    def section() -> str:
        return " > ".join(text for _, text in headings)

    def emit(text: str, kind: str, blocks: list[Block]) -> None:
        page, first, last = _span(blocks)
        chunks.append(
            Chunk(
                index=len(chunks), text=text, section=section(), kind=kind, page=page, line_start=first, line_end=last
            )
        )

    def flush() -> None:
        if not pending:
            return
        text = "\n".join(b.text for b in pending)
        if _words(text) <= max_words:
            emit(text, "text", list(pending))
        else:
            for piece in _split_sentences(text, max_words):
                emit(piece, "text", list(pending))
        pending.clear()

    blocks = _group_steps(document.blocks)
    for position, block in enumerate(blocks):
        if block.kind is BlockKind.HEADING:
            flush()
            if position == 0 and block.level == 1:
                continue  # the document's title: it is cited as the title, not repeated in every section
            headings[:] = [(lvl, text) for lvl, text in headings if lvl < block.level]
            headings.append((block.level, block.text))
        elif block.kind is BlockKind.TABLE:
            flush()
            for piece in _table_pieces(block):
                emit(piece, "table", [block])
        elif block.kind is BlockKind.STEPS:
            flush()
            # A procedure stays whole unless it is far beyond the model's window; then it splits between steps.
            steps = block.text.split("\n")
            current: list[str] = []
            for step in steps:
                if current and _words("\n".join([*current, step])) > max_words * 2:
                    emit("\n".join(current), "steps", [block])
                    current = []
                current.append(step)
            if current:
                emit("\n".join(current), "steps", [block])
        elif block.kind is BlockKind.CODE:
            flush()
            emit(block.text, "code", [block])
        else:
            if pending and _words("\n".join(b.text for b in [*pending, block])) > max_words:
                flush()
            pending.append(block)
    flush()
    return chunks
