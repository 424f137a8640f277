"""Loaders by file extension: each turns one format into a ParsedDocument with its own well-kept library."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowledge.documents import ParsedDocument
from knowledge.errors import UnsupportedFormat
from knowledge.loaders import docx_loader, html_loader, markdown_loader, pdf_loader, rst_loader, text_loader


@dataclass(frozen=True, kw_only=True)
class LoaderSpec:
    """How one format is recognised and read."""

    name: str
    extensions: tuple[str, ...]
    load: Callable[[Path, bytes], ParsedDocument]


LOADERS: tuple[LoaderSpec, ...] = (
    LoaderSpec(name="PDF", extensions=(".pdf",), load=pdf_loader.load),
    LoaderSpec(name="Markdown", extensions=(".md", ".markdown"), load=markdown_loader.load),
    LoaderSpec(name="reStructuredText", extensions=(".rst", ".rest"), load=rst_loader.load),
    LoaderSpec(name="HTML", extensions=(".html", ".htm"), load=html_loader.load),
    LoaderSpec(name="DOCX", extensions=(".docx",), load=docx_loader.load),
    LoaderSpec(name="text", extensions=(".txt", ".text", ".log"), load=text_loader.load),
)

SUPPORTED = tuple(ext for spec in LOADERS for ext in spec.extensions)


def loader_for(path: Path) -> LoaderSpec:
    suffix = path.suffix.lower()
    for spec in LOADERS:
        if suffix in spec.extensions:
            return spec
    raise UnsupportedFormat(f"{suffix or 'no extension'} is not a format we read (we read {', '.join(SUPPORTED)})")
