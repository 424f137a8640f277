"""Ingestion on real files: idempotence, replacement, removal, bad input that harms nothing already stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from knowledge.embedding import Embedder
from tests.knowledge.samples import MARKDOWN, write_all


def status_of(summary: object, name: str) -> str:
    outcomes = summary.outcomes  # type: ignore[attr-defined]
    return next(o.status for o in outcomes if Path(o.source).name == name)


def test_every_format_is_ingested_with_records(fresh_kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_all(folder)
    summary = fresh_kb.ingest([folder], progress=False)
    assert summary.count("added") == 6
    assert not summary.skipped
    assert summary.total_chunks == fresh_kb.chunk_count() > 6
    codes = {r.code for r in fresh_kb.records()}
    assert "QQ-777" in codes
    symptoms = {r.symptom for r in fresh_kb.records()}
    assert {"Bowl level falls slowly", "Caps loose", "Supply water warm"} <= symptoms


def test_reingest_is_idempotent_then_replaces_and_removes(fresh_kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    files = write_all(folder)
    fresh_kb.ingest([folder], progress=False)
    chunks = fresh_kb.chunk_count()
    ids_before = {item.id for item in fresh_kb.store.get("chunks")}

    again = fresh_kb.ingest([folder], progress=False)
    assert again.count("unchanged") == 6
    assert again.chunks == 0
    assert {item.id for item in fresh_kb.store.get("chunks")} == ids_before

    files["md"].write_text(
        MARKDOWN.replace("Leaking filling valve seal", "Cracked bowl gasket GK-42"), encoding="utf-8"
    )
    changed = fresh_kb.ingest([folder], progress=False)
    assert status_of(changed, "filler.md") == "replaced"
    assert changed.count("unchanged") == 5
    top = fresh_kb.search("GK-42", k=1)[0]
    assert "Cracked bowl gasket GK-42" in top.text
    assert not [r for r in fresh_kb.records() if r.cause == "Leaking filling valve seal"]
    assert fresh_kb.chunk_count() == chunks

    removed_chunks = len([i for i in fresh_kb.store.get("chunks") if i.metadata["source"].endswith("air.rst")])
    files["rst"].unlink()
    gone = fresh_kb.ingest([folder], progress=False)
    assert status_of(gone, "air.rst") == "removed"
    assert fresh_kb.chunk_count() == chunks - removed_chunks
    assert not fresh_kb.records(code="QQ-777")
    assert not [h for h in fresh_kb.search("receiver drain compressor", k=10) if h.source.endswith("air.rst")]


def test_ingesting_one_file_leaves_other_folders_alone(fresh_kb: KnowledgeBase, tmp_path: Path) -> None:
    files = write_all(tmp_path / "docs")
    fresh_kb.ingest([tmp_path / "docs"], progress=False)
    before = fresh_kb.chunk_count()
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(files["txt"], other / "copy.txt")
    fresh_kb.ingest([other / "copy.txt"], progress=False)
    assert fresh_kb.chunk_count() > before  # added beside, nothing removed


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref", "PDF"),
        ("fake.pdf", b"This is only text pretending to be a PDF.", "not a PDF"),
        ("empty.md", b"", "empty"),
        ("blob.txt", bytes(range(256)) * 40, "binary"),
        ("latin1.txt", "Température du bol trop élevée, vérifier la vanne.".encode("latin-1"), "not UTF-8"),
        ("program.exe", b"MZ\x90\x00", "not a format we read"),
        ("fake.docx", b"plain text, no zip", "not a DOCX"),
    ],
)
def test_bad_file_is_skipped_with_a_reason_and_the_index_is_intact(
    fresh_kb: KnowledgeBase, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    folder = tmp_path / "docs"
    write_all(folder)
    fresh_kb.ingest([folder], progress=False)
    before = {item.id: item.text for item in fresh_kb.store.get("chunks")}
    (folder / name).write_bytes(content)
    summary = fresh_kb.ingest([folder], progress=False)
    [skipped] = summary.skipped
    assert skipped.source.endswith(name)
    assert reason in skipped.reason, skipped.reason
    assert summary.count("unchanged") == 6
    assert {item.id: item.text for item in fresh_kb.store.get("chunks")} == before


def test_enormous_file_is_refused_by_size(tmp_path: Path, embedder: Embedder) -> None:
    kb = KnowledgeBase(tmp_path / "data", embedder=embedder, max_document_mb=0.001)
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + "word " * 2000, encoding="utf-8")
    summary = kb.ingest([big], progress=False)
    assert "over the" in summary.skipped[0].reason
    assert kb.chunk_count() == 0


def test_a_corrupt_replacement_keeps_the_old_version(fresh_kb: KnowledgeBase, tmp_path: Path) -> None:
    files = write_all(tmp_path / "docs")
    fresh_kb.ingest([tmp_path / "docs"], progress=False)
    before = fresh_kb.search("Sample Chiller Manual strainer", k=1)[0]
    files["pdf"].write_bytes(files["pdf"].read_bytes()[:300])  # a copy that broke off half-way
    summary = fresh_kb.ingest([tmp_path / "docs"], progress=False)
    assert summary.skipped[0].source.endswith("chiller.pdf")
    assert fresh_kb.search("Sample Chiller Manual strainer", k=1)[0].chunk_id == before.chunk_id


def test_missing_path_is_reported(fresh_kb: KnowledgeBase, tmp_path: Path) -> None:
    summary = fresh_kb.ingest([tmp_path / "nope"], progress=False)
    assert summary.skipped[0].reason == "no such file or folder"


def _links(tmp_path: Path) -> Path:
    """A folder with a good document, a good link, two dangling links, a loop and a hidden dangling link."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "filler.md").write_text(MARKDOWN, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pump.md").write_text("# Pump\n\nPrime the pump before the first start.\n", encoding="utf-8")
    (folder / "pump.md").symlink_to(elsewhere / "pump.md")
    (folder / "gone.md").symlink_to(tmp_path / "deleted.md")
    (folder / "sub").mkdir()
    (folder / "sub" / "old.md").symlink_to("../archive/old.md")  # relative, as `ln -s` usually makes them
    (folder / "loop-a.md").symlink_to(folder / "loop-b.md")
    (folder / "loop-b.md").symlink_to(folder / "loop-a.md")
    (folder / ".draft.md").symlink_to(tmp_path / "nowhere.md")  # hidden: ignored like any hidden file
    return folder


def test_broken_and_looping_links_are_skipped_with_a_reason(fresh_kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = _links(tmp_path)
    summary = fresh_kb.ingest([folder], progress=False)
    assert {Path(o.source).name: o.reason for o in summary.skipped} == {
        "gone.md": f"broken symbolic link: target {tmp_path / 'deleted.md'} does not exist",
        "old.md": f"broken symbolic link: target {folder / 'sub' / '..' / 'archive' / 'old.md'} does not exist",
        "loop-a.md": "symbolic link loop",
        "loop-b.md": "symbolic link loop",
    }
    assert sorted(Path(o.source).name for o in summary.outcomes if o.status == "added") == ["filler.md", "pump.md"]

    # A link given by name is judged the same way, not reported as a path that does not exist.
    direct = fresh_kb.ingest([folder / "gone.md", folder / "loop-a.md"], progress=False)
    assert [o.reason for o in direct.skipped] == [
        f"broken symbolic link: target {tmp_path / 'deleted.md'} does not exist",
        "symbolic link loop",
    ]


def test_a_broken_link_makes_ingest_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from copilot.cli import app  # in this process: it shares the loaded model instead of loading its own

    folder = _links(tmp_path)
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 3, result.output
    assert f"skipped {folder / 'loop-a.md'}: symbolic link loop" in result.output
    assert f"skipped {folder / 'gone.md'}: broken symbolic link: target" in result.output
