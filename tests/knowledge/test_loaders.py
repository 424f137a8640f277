"""Every loader reads real files of its format into headings, paragraphs, tables, steps and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.chunking import chunk_document
from knowledge.documents import BlockKind, ParsedDocument
from knowledge.loaders import loader_for
from knowledge.records import document_records
from tests.knowledge.samples import write_all


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("samples"))


def parse(path: Path) -> ParsedDocument:
    return loader_for(path).load(path, path.read_bytes())


def kinds(doc: ParsedDocument) -> set[BlockKind]:
    return {b.kind for b in doc.blocks}


def test_markdown_structure_lines_and_front_matter(samples: dict[str, Path]) -> None:
    doc = parse(samples["md"])
    assert doc.meta.title == "Sample Filler Manual"
    assert (doc.meta.doc_type, doc.meta.equipment, doc.meta.revision) == ("manual", "filler", "B")
    assert {BlockKind.HEADING, BlockKind.PARAGRAPH, BlockKind.STEPS, BlockKind.TABLE, BlockKind.CODE} <= kinds(doc)
    table = next(b for b in doc.blocks if b.kind is BlockKind.TABLE)
    assert table.rows[0] == ("Symptom", "Probable cause", "Remedy", "Related tags")
    # Lines count from the top of the file, front matter included.
    assert table.line_start == 19
    steps = next(b for b in doc.blocks if b.kind is BlockKind.STEPS)
    assert steps.text.splitlines()[0] == "1. Close the guard doors."
    code = next(b for b in doc.blocks if b.kind is BlockKind.CODE)
    assert code.text.count("\n") == 1


def test_rst_ignores_file_inclusion_and_reads_list_tables(samples: dict[str, Path]) -> None:
    doc = parse(samples["rst"])
    assert (doc.meta.title, doc.meta.doc_type, doc.meta.equipment) == ("Sample Air Manual", "manual", "air")
    text = " ".join(b.text for b in doc.blocks)
    assert "root:" not in text  # `.. include:: /etc/passwd` is data, never followed
    table = next(b for b in doc.blocks if b.kind is BlockKind.TABLE)
    assert table.rows[1][0] == "QQ-777"
    assert any(b.kind is BlockKind.STEPS and b.text.startswith("1. Open") for b in doc.blocks)


def test_html_skips_scripts_and_keeps_steps(samples: dict[str, Path]) -> None:
    doc = parse(samples["html"])
    assert doc.meta.title == "Sample Packer Manual"
    assert doc.meta.equipment == "case_packer"
    assert "alert" not in " ".join(b.text for b in doc.blocks)
    assert any(b.kind is BlockKind.STEPS and "2. Purge the nozzles." in b.text for b in doc.blocks)
    assert all(b.line_start for b in doc.blocks)


def test_text_headings_and_steps(samples: dict[str, Path]) -> None:
    doc = parse(samples["txt"])
    assert (doc.meta.title, doc.meta.doc_type) == ("Sample Lockout SOP", "sop")
    headings = [b.text for b in doc.blocks if b.kind is BlockKind.HEADING]
    assert headings == ["PURPOSE", "STEPS"]  # as written: people search for what they see
    steps = next(b for b in doc.blocks if b.kind is BlockKind.STEPS)
    assert steps.line_start == 11
    assert steps.line_end == 13


def test_docx_styles_become_structure(samples: dict[str, Path]) -> None:
    doc = parse(samples["docx"])
    assert (doc.meta.title, doc.meta.doc_type, doc.meta.equipment, doc.meta.revision) == (
        "Sample Clutch WI",
        "work_instruction",
        "capper",
        "D",
    )
    assert any(b.kind is BlockKind.STEPS and b.text.count("\n") == 2 for b in doc.blocks)
    [record] = document_records(doc)
    assert record.cause == "Clutch worn"
    assert record.related_tags == ("capper.torque",)


def test_pdf_pages_headings_and_grid_tables(samples: dict[str, Path]) -> None:
    doc = parse(samples["pdf"])
    headings = [(b.text, b.level, b.page) for b in doc.blocks if b.kind is BlockKind.HEADING]
    assert headings == [("Sample Chiller Manual", 1, 1), ("Overview", 2, 1), ("Troubleshooting", 2, 2)]
    [record] = document_records(doc)
    assert record.page == 2
    assert record.section == "Troubleshooting"
    assert record.related_tags == ("chiller.filter_dp",)


def test_chunks_keep_tables_steps_and_code_whole(samples: dict[str, Path]) -> None:
    chunks = chunk_document(parse(samples["md"]))
    by_kind = {c.kind: c for c in chunks}
    assert by_kind["table"].text.count("\n") == 2  # header and both rows together
    assert by_kind["steps"].text.count("\n") == 2
    assert "line two of the dump" in by_kind["code"].text
    assert by_kind["table"].section == "Troubleshooting"
    assert by_kind["steps"].section == "Operation"


def test_long_prose_is_split_into_model_sized_chunks() -> None:
    from knowledge.documents import Block, DocumentMeta

    sentence = "The conveyor chain needs a film of lubricant along its whole length every shift. "
    doc = ParsedDocument(
        meta=DocumentMeta(title="t"),
        blocks=[
            Block(kind=BlockKind.HEADING, text="Care", level=2),
            Block(kind=BlockKind.PARAGRAPH, text=sentence * 60),
        ],
    )
    chunks = chunk_document(doc)
    assert len(chunks) >= 4
    assert all(len(c.text.split()) <= 180 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == (sentence * 60).split()  # nothing lost or repeated
