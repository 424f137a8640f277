"""HTML through BeautifulSoup (the standard library's parser): headings, paragraphs, tables, lists, <pre>."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, Tag

from knowledge.documents import Block, BlockKind, DocumentMeta, ParsedDocument, table_text
from knowledge.loaders.text_common import clean, decode

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIP = {"script", "style", "noscript", "template", "nav", "iframe", "object", "svg", "head"}


def _text(tag: Tag) -> str:
    return clean(tag.get_text(" ", strip=True))


def _walk(node: Tag, blocks: list[Block]) -> None:
    for child in node.children:
        if not isinstance(child, Tag) or child.name in _SKIP:
            continue
        line = child.sourceline
        name = child.name
        if name in _HEADINGS:
            blocks.append(
                Block(kind=BlockKind.HEADING, text=_text(child), level=_HEADINGS[name], line_start=line, line_end=line)
            )
        elif name == "p":
            blocks.append(Block(kind=BlockKind.PARAGRAPH, text=_text(child), line_start=line, line_end=line))
        elif name == "pre":
            blocks.append(
                Block(kind=BlockKind.CODE, text=child.get_text().rstrip("\n"), line_start=line, line_end=line)
            )
        elif name == "table":
            rows = tuple(tuple(_text(cell) for cell in tr.find_all(["th", "td"])) for tr in child.find_all("tr"))
            rows = tuple(r for r in rows if any(r))
            blocks.append(Block(kind=BlockKind.TABLE, text=table_text(rows), rows=rows, line_start=line, line_end=line))
        elif name in ("ol", "ul"):
            items = [_text(li) for li in child.find_all("li", recursive=False)]
            if name == "ol":
                start = int(str(child.get("start") or 1)) if str(child.get("start") or "1").isdigit() else 1
                text = "\n".join(f"{start + k}. {item}" for k, item in enumerate(items))
                blocks.append(Block(kind=BlockKind.STEPS, text=text, line_start=line, line_end=line))
            else:
                blocks.append(
                    Block(kind=BlockKind.LIST, text="\n".join(f"- {i}" for i in items), line_start=line, line_end=line)
                )
        else:
            _walk(child, blocks)  # containers: body, div, section, article, main


def load(path: Path, data: bytes) -> ParsedDocument:
    soup = BeautifulSoup(decode(data), "html.parser")
    metas = {
        str(m.get("name", "")).lower(): str(m.get("content", ""))
        for m in soup.find_all("meta")
        if isinstance(m, Tag) and m.get("name")
    }
    blocks: list[Block] = []
    _walk(soup.body if isinstance(soup.body, Tag) else soup, blocks)
    title_tag = soup.title.get_text(strip=True) if soup.title else ""
    title = title_tag or next((b.text for b in blocks if b.kind is BlockKind.HEADING), path.stem)
    meta = DocumentMeta(
        title=title,
        doc_type=metas.get("doc_type", ""),
        equipment=metas.get("equipment", ""),
        revision=metas.get("revision", ""),
    )
    return ParsedDocument(meta=meta, blocks=[b for b in blocks if b.text])
