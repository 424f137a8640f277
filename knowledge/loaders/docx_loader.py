"""DOCX through python-docx: paragraphs and tables in document order, headings and numbered lists by style."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from knowledge.documents import Block, BlockKind, DocumentMeta, ParsedDocument, parse_keywords, table_text
from knowledge.errors import CorruptDocument, UnsupportedFormat
from knowledge.loaders.text_common import clean


def _in_order(document: DocxDocument) -> list[Paragraph | Table]:
    items: list[Paragraph | Table] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            items.append(Paragraph(child, document))
        elif tag == "tbl":
            items.append(Table(child, document))
    return items


def load(path: Path, data: bytes) -> ParsedDocument:
    if not data.startswith(b"PK"):
        raise UnsupportedFormat("not a DOCX file (no ZIP container; is the extension wrong?)")
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise CorruptDocument(f"cannot open the DOCX: {err}") from err
    blocks: list[Block] = []
    steps: list[str] = []
    bullets: list[str] = []

    def flush() -> None:
        if steps:
            blocks.append(Block(kind=BlockKind.STEPS, text="\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))))
            steps.clear()
        if bullets:
            blocks.append(Block(kind=BlockKind.LIST, text="\n".join(f"- {b}" for b in bullets)))
            bullets.clear()

    for item in _in_order(document):
        if isinstance(item, Table):
            flush()
            rows = tuple(tuple(clean(cell.text) for cell in row.cells) for row in item.rows)
            blocks.append(Block(kind=BlockKind.TABLE, text=table_text(rows), rows=rows))
            continue
        text = clean(item.text)
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            flush()
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            blocks.append(Block(kind=BlockKind.HEADING, text=text, level=level))
        elif style.startswith("List Number"):
            steps.append(text)
        elif style.startswith("List"):
            bullets.append(text)
        else:
            flush()
            blocks.append(Block(kind=BlockKind.PARAGRAPH, text=text))
    flush()
    props = document.core_properties
    keywords = parse_keywords(props.keywords or "")
    title = props.title or next((b.text for b in blocks if b.kind is BlockKind.HEADING), path.stem)
    meta = DocumentMeta(
        title=title,
        doc_type=props.subject or "",
        equipment=keywords.get("equipment", ""),
        revision=keywords.get("revision", ""),  # core "revision" is a save counter, not the document revision
    )
    return ParsedDocument(meta=meta, blocks=blocks)
