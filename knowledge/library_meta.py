"""A folder's optional `library.yaml`: title, document type, equipment and revision per file name."""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge.documents import DocumentMeta

MANIFEST_NAME = "library.yaml"


def folder_metadata(folder: Path) -> dict[str, DocumentMeta]:
    """Metadata by file name; a missing or unreadable manifest just means the documents' own metadata is used."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict):
        return {}
    found: dict[str, DocumentMeta] = {}
    for name, fields in data.items():
        if isinstance(fields, dict):
            found[str(name)] = DocumentMeta(
                title=str(fields.get("title", "") or ""),
                doc_type=str(fields.get("doc_type", "") or ""),
                equipment=str(fields.get("equipment", "") or ""),
                revision=str(fields.get("revision", "") or ""),
            )
    return found


def merge(own: DocumentMeta, manifest: DocumentMeta | None) -> DocumentMeta:
    """The manifest wins field by field where it says something."""
    if manifest is None:
        return own
    return DocumentMeta(
        title=manifest.title or own.title,
        doc_type=manifest.doc_type or own.doc_type,
        equipment=manifest.equipment or own.equipment,
        revision=manifest.revision or own.revision,
    )
