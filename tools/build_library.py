"""Build the PDF and DOCX documents of the plant library from their plain-text sources in tools/library_src/.

Each source is a small Markdown dialect with YAML front matter (output, title, doc_type, equipment, revision):
`#`, `##`, `###` headings, paragraphs, numbered steps (`1. `), bullets (`- `), pipe tables with a header row and
inline `code`. PDFs are written with reportlab, DOCX with python-docx; both are byte-for-byte reproducible.

Run: .venv/bin/python tools/build_library.py [SOURCE.md ...]
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tools" / "library_src"
LIBRARY = ROOT / "knowledge" / "library"

# A fixed instant for every timestamp that would otherwise make rebuilds differ.
FIXED_TIME = datetime(2024, 1, 1, 0, 0, 0)
AUTHOR = "Bottling Line 1 engineering"
DOC_TYPES = frozenset({"manual", "work_instruction", "sop", "alarm_list"})
EQUIPMENT = frozenset({"infeed", "filler", "capper", "labeler", "case_packer", "air", "chiller", "line"})

_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Steps:
    items: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | Steps | Bullets | Table


@dataclass(kw_only=True, slots=True)
class LibraryDocument:
    output: str
    title: str
    doc_type: str
    equipment: str
    revision: str
    blocks: list[Block] = field(default_factory=list)


class SourceError(Exception):
    """A library source that the generator cannot turn into a document."""


def _cells(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.strip().strip("|").split("|"))


def parse(path: Path) -> LibraryDocument:
    """Read one source file into its metadata and a flat list of blocks."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise SourceError(f"{path.name}: no front matter")
    _, front, body = text.split("---\n", 2)
    meta: dict[str, Any] = yaml.safe_load(front)
    doc = LibraryDocument(
        output=str(meta["output"]),
        title=str(meta["title"]),
        doc_type=str(meta["doc_type"]),
        equipment=str(meta["equipment"]),
        revision=str(meta["revision"]),
    )
    if doc.doc_type not in DOC_TYPES or doc.equipment not in EQUIPMENT:
        raise SourceError(f"{path.name}: bad doc_type or equipment")
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            i += 1
            continue
        if heading := _HEADING.match(line):
            doc.blocks.append(Heading(level=len(heading[1]), text=heading[2].strip()))
            i += 1
        elif line.startswith("|"):
            rows: list[tuple[str, ...]] = []
            while i < len(lines) and lines[i].startswith("|"):
                if not _TABLE_RULE.match(lines[i]):
                    rows.append(_cells(lines[i]))
                i += 1
            width = len(rows[0])
            if any(len(row) != width for row in rows):
                raise SourceError(f"{path.name}: table rows of unequal width near {line[:40]!r}")
            doc.blocks.append(Table(header=rows[0], rows=tuple(rows[1:])))
        elif _NUMBERED.match(line):
            items: list[str] = []
            while i < len(lines) and (step := _NUMBERED.match(lines[i])):
                if int(step[1]) != len(items) + 1:
                    raise SourceError(f"{path.name}: step {step[1]} out of order")
                items.append(step[2].strip())
                i += 1
            doc.blocks.append(Steps(items=tuple(items)))
        elif line.startswith("- "):
            bullets: list[str] = []
            while i < len(lines) and lines[i].startswith("- "):
                bullets.append(lines[i][2:].strip())
                i += 1
            doc.blocks.append(Bullets(items=tuple(bullets)))
        else:
            words: list[str] = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                words.append(lines[i].strip())
                i += 1
            doc.blocks.append(Paragraph(text=" ".join(words)))
    return doc


def _starts_block(line: str) -> bool:
    return bool(_HEADING.match(line) or _NUMBERED.match(line) or line.startswith(("|", "- ")))


def _spans(text: str) -> list[tuple[str, bool]]:
    """Split inline text into (text, is_code) pieces at backticks."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        raise SourceError(f"unbalanced backticks in {text[:60]!r}")
    return [(part, index % 2 == 1) for index, part in enumerate(parts) if part]


# ------------------------------------------------------------------------------------------------ PDF


def build_pdf(doc: LibraryDocument, target: Path) -> None:
    """Write `doc` as an A4 PDF with real text, bold headings of distinct sizes and gridded tables."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph as RlParagraph
    from reportlab.platypus import SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as RlTable

    styles = {
        1: ParagraphStyle("H1", fontName="Helvetica-Bold", fontSize=18, leading=22, spaceAfter=10),
        2: ParagraphStyle("H2", fontName="Helvetica-Bold", fontSize=14, leading=18, spaceBefore=10, spaceAfter=6),
        3: ParagraphStyle("H3", fontName="Helvetica-Bold", fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
    }
    body = ParagraphStyle("Body", fontName="Helvetica", fontSize=10, leading=13, spaceAfter=6)
    step = ParagraphStyle("Step", parent=body, leftIndent=16, firstLineIndent=-16, spaceAfter=3)
    cell = ParagraphStyle("Cell", fontName="Helvetica", fontSize=9, leading=11)
    head_cell = ParagraphStyle("HeadCell", parent=cell, fontName="Helvetica-Bold")

    def markup(text: str) -> str:
        _check_encoding(text)
        return "".join(
            f'<font name="Courier">{escape(part)}</font>' if code else escape(part) for part, code in _spans(text)
        )

    width = A4[0] - 36 * mm
    story: list[Any] = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            story.append(RlParagraph(markup(block.text), styles[block.level]))
        elif isinstance(block, Paragraph):
            story.append(RlParagraph(markup(block.text), body))
        elif isinstance(block, Steps):
            story.extend(RlParagraph(f"{n}. {markup(item)}", step) for n, item in enumerate(block.items, 1))
            story.append(Spacer(1, 4))
        elif isinstance(block, Bullets):
            story.extend(RlParagraph(f"\u2022 {markup(item)}", step) for item in block.items)
            story.append(Spacer(1, 4))
        else:
            data = [[RlParagraph(markup(text), head_cell) for text in block.header]]
            data += [[RlParagraph(markup(text), cell) for text in row] for row in block.rows]
            table = RlTable(data, colWidths=_column_widths(block, width, stringWidth), repeatRows=1)
            table.setStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
            story.append(table)
            story.append(Spacer(1, 8))

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Rev. {doc.revision} - page {canvas.getPageNumber()}")
        canvas.restoreState()

    pdf = SimpleDocTemplate(
        str(target),
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=doc.title,
        subject=doc.doc_type,
        keywords=f"equipment={doc.equipment}; revision={doc.revision}",
        author=AUTHOR,
        creator="tools/build_library.py",
        invariant=1,
    )
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)


def _column_widths(table: Table, total: float, string_width: Any) -> list[float]:
    """Every column wide enough for its longest word; the rest shared by how much text each column holds."""
    columns = list(zip(table.header, *table.rows, strict=True))
    padding = 8.0
    words = [
        max(string_width(word, "Helvetica", 9) for text in column for word in text.replace("`", "").split() or [""])
        + padding
        for column in columns
    ]
    # Prefer header labels on one line; give that up only when the table would not fit.
    headers = [max(w, string_width(h, "Helvetica-Bold", 9) + padding) for w, h in zip(words, table.header, strict=True)]
    minimum = headers if sum(headers) <= total * 0.95 else words
    weight = [sum(len(text) for text in column) / len(column) + 4 for column in columns]
    spare = total - sum(minimum)
    if spare < 0:
        raise SourceError(f"table {table.header} cannot fit its longest words")
    return [low + spare * w / sum(weight) for low, w in zip(minimum, weight, strict=True)]


def _check_encoding(text: str) -> None:
    # The standard PDF fonts cover Windows-1252 only; anything else would print as a black box.
    try:
        text.encode("cp1252")
    except UnicodeEncodeError as err:
        raise SourceError(f"character outside the PDF fonts in {text[:60]!r}") from err


# ------------------------------------------------------------------------------------------------ DOCX


def build_docx(doc: LibraryDocument, target: Path) -> None:
    """Write `doc` as DOCX with Heading 1-3, Table Grid tables with a header row and List Number steps."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    word = docx.Document()
    props = word.core_properties
    props.title = doc.title
    props.subject = doc.doc_type
    props.keywords = f"equipment={doc.equipment}; revision={doc.revision}"
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.revision = 1

    def add_runs(paragraph: Any, text: str, *, bold: bool = False) -> None:
        for part, code in _spans(text):
            run = paragraph.add_run(part)
            run.bold = bold or None
            if code:
                run.font.name = "Consolas"

    numbering = word.part.numbering_part.numbering_definitions._numbering
    list_style = word.styles["List Number"]
    abstract_id = numbering.num_having_numId(list_style._element.pPr.numPr.numId.val).abstractNumId.val

    for block in doc.blocks:
        if isinstance(block, Heading):
            add_runs(word.add_paragraph(style=f"Heading {block.level}"), block.text)
        elif isinstance(block, Paragraph):
            add_runs(word.add_paragraph(), block.text)
        elif isinstance(block, Steps):
            # A fresh numbering instance per list, so every procedure starts again at 1.
            num = numbering.add_num(abstract_id)
            num.add_lvlOverride(ilvl=0).add_startOverride(1)
            for item in block.items:
                paragraph = word.add_paragraph(style="List Number")
                num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
                num_pr.get_or_add_ilvl().val = 0
                num_pr.get_or_add_numId().val = num.numId
                add_runs(paragraph, item)
        elif isinstance(block, Bullets):
            for item in block.items:
                add_runs(word.add_paragraph(style="List Bullet"), item)
        else:
            table = word.add_table(rows=1 + len(block.rows), cols=len(block.header))
            table.style = "Table Grid"
            for r, row in enumerate((block.header, *block.rows)):
                for c, text in enumerate(row):
                    cell_paragraph = table.cell(r, c).paragraphs[0]
                    add_runs(cell_paragraph, text, bold=r == 0)
                    for run in cell_paragraph.runs:
                        run.font.size = Pt(9)
            # Mark the first row as the header row, repeated on every page.
            tr_pr = table.rows[0]._tr.get_or_add_trPr()
            tbl_header = OxmlElement("w:tblHeader")
            tbl_header.set(qn("w:val"), "true")
            tr_pr.append(tbl_header)
            word.add_paragraph()

    buffer = io.BytesIO()
    word.save(buffer)
    target.write_bytes(_stable_zip(buffer.getvalue()))


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps so identical content gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dest.writestr(fixed, source.read(info.filename))
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ main


def build(source: Path) -> Path:
    """Build one source into knowledge/library and return the path written."""
    doc = parse(source)
    target = LIBRARY / doc.output
    if target.suffix == ".pdf":
        build_pdf(doc, target)
    elif target.suffix == ".docx":
        build_docx(doc, target)
    else:
        raise SourceError(f"{source.name}: cannot build {doc.output}")
    return target


def main(argv: list[str]) -> int:
    LIBRARY.mkdir(parents=True, exist_ok=True)
    sources = [Path(arg) for arg in argv] or sorted(SOURCES.glob("*.md"))
    for source in sources:
        try:
            target = build(source)
        except SourceError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
