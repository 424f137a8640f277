"""PDF through pdfplumber: text lines grouped into headings (by font size) and paragraphs, tables by their grid."""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pdfplumber
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psparser import PSException
from pdfplumber.utils.exceptions import PdfminerException

from knowledge.documents import Block, BlockKind, DocumentMeta, ParsedDocument, parse_keywords, table_text
from knowledge.errors import CorruptDocument, EmptyDocument, UnsupportedFormat
from knowledge.loaders.text_common import STEP_RE, clean

_BOLD = re.compile(r"bold|black|heavy", re.IGNORECASE)
_CID = re.compile(r"\(cid:\d+\)")  # glyphs without a Unicode mapping: in manuals, nearly always bullets
_DIGITS = re.compile(r"\d+")


@dataclass
class _Line:
    top: float
    bottom: float
    text: str
    size: float
    bold: bool


def _lines(page: Any, tables: list[Any]) -> list[_Line]:
    boxes = [t.bbox for t in tables]

    def outside(word: dict[str, Any]) -> bool:
        return not any(
            x0 - 1 <= word["x0"] and word["x1"] <= x1 + 1 and top - 1 <= word["top"] and word["bottom"] <= bottom + 1
            for x0, top, x1, bottom in boxes
        )

    words = [
        {**w, "text": _CID.sub("-", w["text"])}
        for w in page.extract_words(extra_attrs=["size", "fontname"], keep_blank_chars=False)
        if outside(w)
    ]
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1].top - word["top"]) < 2.0:
            last = lines[-1]
            last.text += " " + word["text"]
            last.bottom = max(last.bottom, word["bottom"])
            last.size = max(last.size, word["size"])
            last.bold = last.bold and bool(_BOLD.search(word["fontname"]))
        else:
            lines.append(
                _Line(word["top"], word["bottom"], word["text"], word["size"], bool(_BOLD.search(word["fontname"])))
            )
    return lines


def _page_furniture(pages: list[list[_Line]]) -> set[str]:
    """Running headers and footers ("Rev. D - page 3"): first or last lines repeated on most pages."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        edges = {_DIGITS.sub("#", line.text) for line in (lines[:1] + lines[-1:])}
        seen.update(edges)
    return {text for text, count in seen.items() if count >= max(2, len(pages) // 2)}


def _page_blocks(number: int, lines: list[_Line], tables: list[Any], heading_sizes: list[float]) -> list[Block]:
    """One page's blocks in reading order: headings, paragraphs and tables sorted by their top edge."""
    items: list[tuple[float, Block]] = []
    para: list[_Line] = []

    def flush() -> None:
        if para:
            text = clean(" ".join(line.text for line in para))
            items.append((para[0].top, Block(kind=BlockKind.PARAGRAPH, text=text, page=number)))
            para.clear()

    for line in lines:
        size = round(line.size, 1)
        if size in heading_sizes and line.bold:
            flush()
            level = heading_sizes.index(size) + 1
            items.append((line.top, Block(kind=BlockKind.HEADING, text=clean(line.text), level=level, page=number)))
            continue
        gap = line.top - para[-1].bottom if para else 0.0
        # A new paragraph starts after a vertical gap, or at a numbered step.
        if para and (gap > line.size * 0.9 or STEP_RE.match(line.text)):
            flush()
        para.append(line)
    flush()
    for table in tables:
        rows = tuple(tuple(clean(cell or "") for cell in row) for row in table.extract())
        rows = tuple(r for r in rows if any(r))
        if rows:
            items.append((table.bbox[1], Block(kind=BlockKind.TABLE, text=table_text(rows), rows=rows, page=number)))
    return [block for _, block in sorted(items, key=lambda item: item[0])]


def load(path: Path, data: bytes) -> ParsedDocument:
    if not data.lstrip()[:5] == b"%PDF-":
        raise UnsupportedFormat("not a PDF file (no %PDF header; is the extension wrong?)")
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except (PdfminerException, PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as err:
        raise CorruptDocument(f"cannot open the PDF: {err}") from err
    with pdf:
        try:
            pages = [(number, page, page.find_tables()) for number, page in enumerate(pdf.pages, 1)]
            page_lines = [(number, _lines(page, tables), tables) for number, page, tables in pages]
            info = pdf.metadata or {}
        except (PdfminerException, PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AttributeError) as err:
            raise CorruptDocument(f"the PDF is damaged: {err}") from err
        sizes = Counter(round(line.size, 1) for _, lines, _ in page_lines for line in lines for _ in line.text.split())
        if not sizes:
            raise EmptyDocument("the PDF has no text layer (a scan?); run OCR on it first")
        body = sizes.most_common(1)[0][0]
        # Larger-than-body sizes, biggest first, become heading levels 1, 2, 3...
        heading_sizes = sorted({s for s in sizes if s >= body + 1.0}, reverse=True)
        furniture = _page_furniture([lines for _, lines, _ in page_lines])
        blocks: list[Block] = []
        for number, lines, tables in page_lines:
            lines = [line for line in lines if _DIGITS.sub("#", line.text) not in furniture]
            blocks.extend(_page_blocks(number, lines, tables, heading_sizes))
    keywords = parse_keywords(str(info.get("Keywords", "")))
    title = str(info.get("Title") or "") or next((b.text for b in blocks if b.kind is BlockKind.HEADING), path.stem)
    meta = DocumentMeta(
        title=title,
        doc_type=str(info.get("Subject") or ""),
        equipment=keywords.get("equipment", ""),
        revision=keywords.get("revision", ""),
    )
    return ParsedDocument(meta=meta, blocks=[b for b in blocks if b.text])
