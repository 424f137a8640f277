"""reStructuredText through docutils, with file inclusion and raw output disabled: a document is data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from docutils.utils import SystemMessage

from knowledge.documents import Block, BlockKind, DocumentMeta, ParsedDocument, table_text
from knowledge.errors import CorruptDocument
from knowledge.loaders.text_common import clean, decode

# A manual must never pull other files or raw HTML into the index, nor stop on a markup warning.
_SETTINGS: dict[str, Any] = {
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "report_level": 5,
    "halt_level": 5,
    "doctitle_xform": False,
    "warning_stream": False,
}
_META_FIELDS = {"doc_type", "equipment", "revision", "title"}


def _table_rows(table: nodes.table) -> tuple[tuple[str, ...], ...]:
    rows = []
    for row in table.findall(nodes.row):
        rows.append(tuple(clean(entry.astext()) for entry in row.findall(nodes.entry)))
    return tuple(rows)


def _walk(node: nodes.Element, depth: int, blocks: list[Block], meta: dict[str, str]) -> None:
    for child in node.children:
        line = child.line if isinstance(child, nodes.Element) else None
        if isinstance(child, nodes.section):
            title = child.next_node(nodes.title)
            text = clean(title.astext()) if title is not None else ""
            blocks.append(Block(kind=BlockKind.HEADING, text=text, level=depth + 1, line_start=line, line_end=line))
            _walk(child, depth + 1, blocks, meta)
        elif isinstance(child, nodes.title):
            continue  # taken with its section
        elif isinstance(child, nodes.field_list) and not [b for b in blocks if b.kind is not BlockKind.HEADING]:
            for field in child.findall(nodes.field):
                name = clean(field[0].astext()).lower()
                if name in _META_FIELDS:
                    meta[name] = clean(field[1].astext())
        elif isinstance(child, nodes.paragraph):
            blocks.append(Block(kind=BlockKind.PARAGRAPH, text=clean(child.astext()), line_start=line, line_end=line))
        elif isinstance(child, nodes.literal_block):
            blocks.append(Block(kind=BlockKind.CODE, text=child.astext(), line_start=line, line_end=line))
        elif isinstance(child, nodes.table):
            rows = _table_rows(child)
            blocks.append(Block(kind=BlockKind.TABLE, text=table_text(rows), rows=rows, line_start=line, line_end=line))
        elif isinstance(child, nodes.enumerated_list):
            start = int(child.get("start", 1))
            items = [clean(item.astext()) for item in child.children if isinstance(item, nodes.list_item)]
            text = "\n".join(f"{start + k}. {item}" for k, item in enumerate(items))
            blocks.append(Block(kind=BlockKind.STEPS, text=text, line_start=line, line_end=line))
        elif isinstance(child, nodes.bullet_list):
            items = [clean(item.astext()) for item in child.children if isinstance(item, nodes.list_item)]
            blocks.append(
                Block(kind=BlockKind.LIST, text="\n".join(f"- {i}" for i in items), line_start=line, line_end=line)
            )
        elif isinstance(child, nodes.Admonition | nodes.block_quote | nodes.container | nodes.topic):
            label = child.tagname.capitalize() if isinstance(child, nodes.Admonition) else ""
            text = clean(child.astext())
            blocks.append(
                Block(
                    kind=BlockKind.PARAGRAPH, text=f"{label}: {text}" if label else text, line_start=line, line_end=line
                )
            )
        elif isinstance(child, nodes.Element):
            _walk(child, depth, blocks, meta)


def load(path: Path, data: bytes) -> ParsedDocument:
    text = decode(data)
    try:
        tree = publish_doctree(text, source_path=str(path), settings_overrides=_SETTINGS)
    except (SystemMessage, ValueError, IndexError, AttributeError) as err:
        raise CorruptDocument(f"cannot parse the reStructuredText: {err}") from err
    blocks: list[Block] = []
    meta: dict[str, str] = {}
    _walk(tree, 0, blocks, meta)
    title = meta.get("title") or next((b.text for b in blocks if b.kind is BlockKind.HEADING), path.stem)
    return ParsedDocument(
        meta=DocumentMeta(
            title=title,
            doc_type=meta.get("doc_type", ""),
            equipment=meta.get("equipment", ""),
            revision=meta.get("revision", ""),
        ),
        blocks=[b for b in blocks if b.text],
    )
