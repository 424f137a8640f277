"""Markdown through markdown-it-py: headings, paragraphs, tables, numbered steps and code fences with line ranges."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from knowledge.documents import Block, BlockKind, DocumentMeta, ParsedDocument, table_text
from knowledge.errors import CorruptDocument
from knowledge.loaders.text_common import clean, decode, front_matter

_PARSER = MarkdownIt("commonmark", {"html": False}).enable("table")


def _inline_text(token: Token) -> str:
    # Inline children carry the words without markup; code spans keep their content.
    if not token.children:
        return token.content
    return "".join(
        child.content
        if child.type in ("text", "code_inline")
        else " "
        if child.type in ("softbreak", "hardbreak")
        else ""
        for child in token.children
    )


def _close_index(tokens: list[Token], start: int) -> int:
    """Index of the token that closes the block opened at `start`."""
    depth = 0
    for i in range(start, len(tokens)):
        depth += tokens[i].nesting
        if depth == 0:
            return i
    return len(tokens) - 1


def _lines(token: Token) -> tuple[int | None, int | None]:
    if token.map is None:
        return None, None
    return token.map[0] + 1, token.map[1]


def load(path: Path, data: bytes) -> ParsedDocument:
    fields, text, _ = front_matter(decode(data))
    try:
        tokens = _PARSER.parse(text)
    except Exception as err:  # markdown-it raises plain exceptions on pathological input
        raise CorruptDocument(f"cannot parse the Markdown: {err}") from err
    blocks: list[Block] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        first, last = _lines(tok)
        if tok.type == "heading_open":
            blocks.append(
                Block(
                    kind=BlockKind.HEADING,
                    text=clean(_inline_text(tokens[i + 1])),
                    level=int(tok.tag[1]),
                    line_start=first,
                    line_end=last,
                )
            )
            i = _close_index(tokens, i) + 1
        elif tok.type == "paragraph_open":
            blocks.append(
                Block(
                    kind=BlockKind.PARAGRAPH, text=clean(_inline_text(tokens[i + 1])), line_start=first, line_end=last
                )
            )
            i = _close_index(tokens, i) + 1
        elif tok.type in ("fence", "code_block"):
            blocks.append(Block(kind=BlockKind.CODE, text=tok.content.rstrip("\n"), line_start=first, line_end=last))
            i += 1
        elif tok.type == "table_open":
            end = _close_index(tokens, i)
            rows: list[tuple[str, ...]] = []
            row: list[str] = []
            for t in tokens[i:end]:
                if t.type == "tr_open":
                    row = []
                elif t.type == "inline":
                    row.append(clean(_inline_text(t)))
                elif t.type == "tr_close":
                    rows.append(tuple(row))
            blocks.append(
                Block(
                    kind=BlockKind.TABLE,
                    text=table_text(tuple(rows)),
                    rows=tuple(rows),
                    line_start=first,
                    line_end=last,
                )
            )
            i = end + 1
        elif tok.type in ("ordered_list_open", "bullet_list_open"):
            end = _close_index(tokens, i)
            items: list[str] = []
            number = int(tok.attrGet("start") or 1) if tok.type == "ordered_list_open" else 0
            depth = 0
            current: list[str] = []
            for t in tokens[i + 1 : end]:
                if t.type == "list_item_open":
                    depth += 1
                    if depth == 1:
                        current = []
                elif t.type == "list_item_close":
                    depth -= 1
                    if depth == 0:
                        items.append(" ".join(current))
                elif t.type == "inline":
                    current.append(clean(_inline_text(t)))
            if tok.type == "ordered_list_open":
                text_ = "\n".join(f"{number + k}. {item}" for k, item in enumerate(items))
                blocks.append(Block(kind=BlockKind.STEPS, text=text_, line_start=first, line_end=last))
            else:
                blocks.append(
                    Block(
                        kind=BlockKind.LIST,
                        text="\n".join(f"- {item}" for item in items),
                        line_start=first,
                        line_end=last,
                    )
                )
            i = end + 1
        elif tok.type == "blockquote_open":
            end = _close_index(tokens, i)
            quoted = " ".join(clean(_inline_text(t)) for t in tokens[i:end] if t.type == "inline")
            blocks.append(Block(kind=BlockKind.PARAGRAPH, text=quoted, line_start=first, line_end=last))
            i = end + 1
        else:
            i += 1
    title = fields.get("title") or next((b.text for b in blocks if b.kind is BlockKind.HEADING), path.stem)
    meta = DocumentMeta(
        title=title,
        doc_type=fields.get("doc_type", ""),
        equipment=fields.get("equipment", ""),
        revision=fields.get("revision", ""),
    )
    return ParsedDocument(meta=meta, blocks=[b for b in blocks if b.text])
