"""Plain text: paragraphs by blank lines, headings by capitals or underlines, numbered steps kept together."""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.documents import Block, BlockKind, DocumentMeta, ParsedDocument
from knowledge.loaders.text_common import STEP_RE, clean, decode

_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
_HEADER_FIELDS = {"title": "title", "type": "doc_type", "equipment": "equipment", "revision": "revision"}


def _is_caps_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 3 and line.upper() == line and len(line) <= 80 and not line.rstrip().endswith(".")


def load(path: Path, data: bytes) -> ParsedDocument:
    lines = decode(data).splitlines()
    meta: dict[str, str] = {}
    start = 0
    for i, line in enumerate(lines[:8]):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in _HEADER_FIELDS:
            meta[_HEADER_FIELDS[key.strip().lower()]] = value.strip()
            start = i + 1
        elif line.strip() and meta:
            break
    blocks: list[Block] = []
    para: list[tuple[int, str]] = []

    def flush() -> None:
        if not para:
            return
        first, last = para[0][0], para[-1][0]
        texts = [t for _, t in para]
        numbered = [t for t in texts if STEP_RE.match(t)]
        kind = BlockKind.STEPS if STEP_RE.match(texts[0]) and len(numbered) >= 2 else BlockKind.PARAGRAPH
        joiner = "\n" if kind is BlockKind.STEPS else " "
        blocks.append(Block(kind=kind, text=joiner.join(clean(t) for t in texts), line_start=first, line_end=last))
        para.clear()

    i = start
    while i < len(lines):
        line = lines[i].rstrip()
        number = i + 1
        nxt = lines[i + 1].rstrip() if i + 1 < len(lines) else ""
        if line and _UNDERLINE.match(nxt) and len(nxt) >= len(line.strip()) * 0.6:
            flush()
            level = 1 if nxt.startswith("=") else 2
            blocks.append(
                Block(kind=BlockKind.HEADING, text=clean(line), level=level, line_start=number, line_end=number + 1)
            )
            i += 2
            continue
        if line and _is_caps_heading(line.strip()) and not para:
            blocks.append(Block(kind=BlockKind.HEADING, text=clean(line), level=2, line_start=number, line_end=number))
            i += 1
            continue
        if not line.strip():
            flush()
        else:
            para.append((number, line))
        i += 1
    flush()
    title = meta.get("title") or next((b.text for b in blocks if b.kind is BlockKind.HEADING), path.stem)
    return ParsedDocument(
        meta=DocumentMeta(title=title, **{k: v for k, v in meta.items() if k != "title"}), blocks=blocks
    )
