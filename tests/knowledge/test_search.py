"""Hybrid search over the shipped plant library: exact codes first, filters, citations, records, fault coverage."""

from __future__ import annotations

import re

import pytest

from connectors.line import LineDefinition
from connectors.simulator.faults import FAULTS, FaultSpec
from knowledge import KnowledgeBase, library_path
from knowledge.retrieve import exact_terms


def alarm_codes(line: LineDefinition) -> list[str]:
    return [alarm.code for _, alarm in line.alarms()]


def test_every_alarm_code_ranks_a_passage_quoting_it_first(library_kb: KnowledgeBase, line: LineDefinition) -> None:
    misses = []
    for code in alarm_codes(line):
        top = library_kb.search(f"what does {code} mean", k=1)[0]
        if code not in top.text:
            misses.append((code, top.where()))
    assert misses == []


def hmi_strings() -> list[str]:
    """CamelCase fault strings and drive codes like E-204 that the library quotes from machine screens."""
    text = " ".join(
        p.read_text(errors="ignore") for p in library_path().glob("*") if p.suffix in (".md", ".rst", ".html", ".txt")
    )
    found = set(re.findall(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+Error\b|\bE-\d{3}\b", text))
    return sorted(found)


def test_exact_strings_from_a_screen_rank_first(library_kb: KnowledgeBase) -> None:
    strings = [*hmi_strings(), "OvertempError", "E-204"]
    for term in dict.fromkeys(strings):
        hits = library_kb.search(f"screen shows {term}", k=3)
        assert hits, term
        assert term.lower() in hits[0].text.lower(), (term, hits[0].where())


def test_exact_terms_are_recognised() -> None:
    assert exact_terms("CAP-301 after E-204 and OvertempError") == ["CAP-301", "E-204", "OvertempError"]
    assert exact_terms('the panel said "Bowl empty" twice') == ["Bowl empty"]
    assert exact_terms("why is the bowl level low") == []


def test_filters_by_equipment_and_type(library_kb: KnowledgeBase) -> None:
    chiller = library_kb.search("temperature too high", k=8, equipment="chiller")
    assert chiller
    assert {h.equipment for h in chiller} == {"chiller"}
    sops = library_kb.search("isolate energy before work", k=5, doc_type="sop")
    assert sops
    assert {h.doc_type for h in sops} == {"sop"}
    assert library_kb.search("anything", k=5, equipment="no-such-machine") == []


def test_citations_carry_pages_or_lines(library_kb: KnowledgeBase) -> None:
    pdf = library_kb.search("filler troubleshooting bowl level falls", k=5, equipment="filler")
    in_pdf = [h for h in pdf if h.source.endswith(".pdf")]
    assert in_pdf
    assert all(h.page and h.page >= 1 and h.lines is None for h in in_pdf)
    md = library_kb.search("clear a jam on the infeed conveyor", k=5, equipment="infeed")
    in_md = [h for h in md if h.source.endswith(".md")]
    assert in_md
    for hit in in_md:
        assert hit.lines is not None
        start, end = (int(x) for x in hit.lines.split("-"))
        assert 1 <= start <= end
    for hit in pdf + md:
        assert hit.title
        assert hit.section
        assert hit.text
        assert hit.score > 0
        assert hit.doc_type


def test_every_alarm_has_a_record_with_cause_and_remedy(library_kb: KnowledgeBase, line: LineDefinition) -> None:
    missing = [code for code in alarm_codes(line) if not library_kb.records(code=code)]
    assert missing == []
    for record in library_kb.records(code=alarm_codes(line)[0]):
        assert record.cause
        assert record.remedy


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_every_simulator_fault_has_cause_and_remedy_in_the_library(library_kb: KnowledgeBase, fault: FaultSpec) -> None:
    signature = {s.tag for s in fault.signature}
    matching = [r for r in library_kb.records() if r.kind == "symptom" and signature & set(r.related_tags)]
    assert matching, f"no troubleshooting row names any of {sorted(signature)}"
    assert all(r.cause and r.remedy for r in matching)


def test_a_code_written_in_a_table_cell_is_found_by_code(library_kb: KnowledgeBase) -> None:
    (row,) = library_kb.records(code="e-204")
    assert "E-204" in row.symptom
    assert row.code != "E-204", "it is the symptom that names it, not a code column"
    assert "Infeed Conveyor" in row.title
    assert library_kb.records(code="E-20") == [], "a code is a whole word, not a prefix"
    coded = library_kb.records(code="INF-101")
    assert coded
    assert coded[0].code == "INF-101", "a row whose code column holds it comes first"
