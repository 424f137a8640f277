"""Troubleshooting over the real plant library: filtered search with citations, records by code, an empty library."""

from __future__ import annotations

import pytest

from console import services, troubleshooting_page
from knowledge import KnowledgeBase
from knowledge.embedding import Embedder
from tests.console.conftest import Console, button, read, text_of


@pytest.fixture
def library(console_without_line: Console, library_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> Console:
    """The plant library, ingested once per run, behind the console's knowledge service."""
    monkeypatch.setattr(services, "knowledge", lambda: library_kb)
    return console_without_line


def test_an_empty_knowledge_base_is_a_clear_message(console_without_line: Console, embedder: Embedder) -> None:
    app = console_without_line.page("troubleshooting", "mia")
    assert read(app.error) == [troubleshooting_page.EMPTY_LIBRARY]
    assert "copilot ingest knowledge/library" in app.error[0].value
    assert not app.text_input, "no search form over an empty library"
    assert not app.exception


def test_a_search_shows_citations_with_the_full_passage_within_its_filters(library: Console) -> None:
    app = library.page("troubleshooting", "mia")
    assert "passages from the plant library" in text_of(app)
    button(app, "Search").click().run()
    assert "Type a symptom, an alarm code or a question first." in read(app.warning)

    app.text_input[0].input("caps loose and leaking")
    app.selectbox[0].select("Capper")
    button(app, "Search").click().run()
    headings = [m for m in read(app.markdown) if m.startswith("**1.** ")]
    assert headings, text_of(app)
    assert headings[0].startswith("**1.** Capper RC-24")
    assert "Full passage" in [x.label for x in app.expander]
    passages = [t.value for t in app.text]
    assert passages, "each result opens to its passage"
    assert all(p.strip() for p in passages)
    app.text_input(key="record-code").input("CAP-301").run()
    assert [m for m in read(app.markdown) if m.startswith("**1.** ")] == headings, "results stay while reading on"

    app.text_input[0].input("lock out the line before clearing")
    app.selectbox[0].select("any")
    app.selectbox[1].select("SOPs")
    button(app, "Search").click().run()
    kinds = [c.value.split(" · ")[0] for c in app.caption if " · revision " in c.value]
    assert kinds, text_of(app)
    assert set(kinds) == {"sop"}, "the document-type filter holds"
    assert not app.exception


def test_a_search_leads_with_the_matching_rows_and_their_steps(library: Console) -> None:
    app = library.page("troubleshooting", "mia")
    app.text_input[0].input("caps are loose and some bottles leak")
    button(app, "Search").click().run()
    shown = read(app.markdown)
    assert "**Matching troubleshooting rows**" in shown
    assert shown.index("**Matching troubleshooting rows**") < shown.index("**Passages**")
    first_row = shown[shown.index("**Matching troubleshooting rows**") + 1]
    assert first_row.startswith("**Row:** ")
    assert "Loose caps and leaking bottles" in first_row, "the row that matches, not the table's first row"
    steps = [t.value for t in app.text if t.value.startswith("1. ")]
    assert any("replace: Lock out and replace the worn clutches" in s and "only if" in s for s in steps), steps
    app.text_input[0].input("E-204")
    button(app, "Search").click().run()
    shown = read(app.markdown)
    rows = shown[shown.index("**Matching troubleshooting rows**") + 1 :]
    assert "E-204" in rows[0], "a code written in a table cell is found by code"
    assert not app.exception


def test_cause_and_remedy_records_by_alarm_code_or_symptom(library: Console) -> None:
    app = library.page("troubleshooting", "olga")
    app.selectbox(key="record-alarm").select("INF-101 · Bottle jam on the infeed conveyor").run()
    page = "\n".join(read(app.markdown))
    assert "INF-101 · " in page
    assert "**Cause:** " in page
    assert "**Remedy:** " in page

    app.text_input(key="record-code").input("ZZ-999").run()
    assert "No troubleshooting record for ZZ-999. Search the passages above instead." in read(app.info)

    app.text_input(key="record-code").input("caps loose, bottles leaking").run()
    causes = [m for m in read(app.markdown) if m.startswith("**Cause:** ")]
    assert causes, text_of(app)
    assert not app.exception
