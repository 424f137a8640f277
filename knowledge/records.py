"""Troubleshooting tables and alarm code lists parsed into structured cause/remedy records."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.documents import Block, BlockKind, ParsedDocument

# Two letters a side (not "e.g"), and not a file name such as "wi-clear-infeed-jam.md".
TAG_NAME = re.compile(r"(?<![\w.-])[a-z][a-z0-9_]+\.(?!(?:md|pdf|docx|html?|rst|txt|ya?ml)\b)[a-z][a-z0-9_]+\b")

# Header words, lower case, that mark each column; the first match wins.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "alarm code", "fault code", "alarm", "error code"),
    "symptom": ("symptom", "problem", "fault", "observation", "what you see"),
    "message": ("message", "alarm text", "text", "description"),
    "cause": ("probable cause", "possible cause", "cause", "likely cause"),
    "remedy": ("remedy", "corrective action", "first action", "action", "solution", "what to do"),
    "tags": ("related tags", "tags", "related measurements"),
}


@dataclass(frozen=True, kw_only=True)
class TroubleshootingRecord:
    """One row of a troubleshooting table or alarm list: what is seen, why, and what to do."""

    kind: str  # "symptom" or "alarm"
    code: str
    symptom: str
    cause: str
    remedy: str
    related_tags: tuple[str, ...]
    section: str
    page: int | None


def _columns(header: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    normalised = [h.strip().lower() for h in header]
    for role, names in _COLUMNS.items():
        for name in names:
            if name in normalised and normalised.index(name) not in found.values():
                found[role] = normalised.index(name)
                break
    return found


def table_records(block: Block, section: str) -> list[TroubleshootingRecord]:
    """Records from one table, or none when it is not a troubleshooting or alarm table."""
    if block.kind is not BlockKind.TABLE or len(block.rows) < 2:
        return []
    cols = _columns(block.rows[0])
    if not {"cause", "remedy"} <= cols.keys() or not ({"symptom", "code"} & cols.keys()):
        return []
    records = []
    for row in block.rows[1:]:

        def cell(role: str, row: tuple[str, ...] = row) -> str:
            index = cols.get(role)
            return row[index].strip() if index is not None and index < len(row) else ""

        code = cell("code")
        symptom = cell("symptom") or cell("message")
        if not (code or symptom):
            continue
        named = TAG_NAME.findall(cell("tags")) + TAG_NAME.findall(" ".join(row))
        records.append(
            TroubleshootingRecord(
                kind="alarm" if code else "symptom",
                code=code,
                symptom=symptom,
                cause=cell("cause"),
                remedy=cell("remedy"),
                related_tags=tuple(dict.fromkeys(named)),
                section=section,
                page=block.page,
            )
        )
    return records


def document_records(document: ParsedDocument) -> list[TroubleshootingRecord]:
    records: list[TroubleshootingRecord] = []
    headings: list[tuple[int, str]] = []
    for position, block in enumerate(document.blocks):
        if block.kind is BlockKind.HEADING and position == 0 and block.level == 1:
            continue  # the title, as in chunking
        if block.kind is BlockKind.HEADING:
            headings[:] = [(lvl, t) for lvl, t in headings if lvl < block.level]
            headings.append((block.level, block.text))
        else:
            records.extend(table_records(block, " > ".join(t for _, t in headings)))
    return records
