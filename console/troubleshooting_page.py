"""Troubleshooting: passages of the plant library by symptom or code with filters, and cause/remedy records."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import streamlit as st

from console import services, session
from console.messages import run_safely
from console.session import Search
from console.widgets import document_line, literal, show_text
from copilot.untrusted import one_line, plain
from knowledge import Citation, RecordHit, parse_steps

if TYPE_CHECKING:
    from knowledge import (
        KnowledgeBase,  # the store and the model load only when the page is opened
        Step,
    )

DOC_TYPES = {
    "any": None,
    "manuals": "manual",
    "work instructions": "work_instruction",
    "SOPs": "sop",
    "alarm lists": "alarm_list",
}
ANY = "any"
RESULTS = 8
ROWS = 3
PREVIEW = 280  # characters of a passage shown before it is opened
# An alarm code as printed on a panel (CAP-301, E-204); anything else is looked up as a symptom.
CODE = re.compile(r"^[A-Za-z]{1,5}-?\d{1,5}$")
EMPTY_LIBRARY = (
    "The knowledge base is empty: no manuals or work instructions are loaded, so there is nothing to search. "
    "Ingest the plant library with `copilot ingest knowledge/library` (or your own documents), then reload this page."
)


def render() -> None:
    st.title("Troubleshooting")
    with st.spinner("Opening the plant library (the first time loads the search model)…"):
        library = run_safely("opening the knowledge base", services.knowledge)
    if library is None:
        return
    count = run_safely("reading the knowledge base", library.chunk_count)
    if count is None:
        return
    if count == 0:
        st.error(EMPTY_LIBRARY, icon=":material/menu_book:")
        return
    st.caption(f"{count} passages from the plant library")
    _search(library)
    _records(library)


def _equipment() -> dict[str, str | None]:
    return {ANY: None} | {e.name: e.id for e in services.context().line.equipment}


def _search(library: KnowledgeBase) -> None:
    equipment = _equipment()
    with st.form("search"):
        query = st.text_input("Symptom, alarm code or question", placeholder="e.g. caps loose and leaking, CAP-301")
        left, right = st.columns(2)
        where = left.selectbox("Equipment", list(equipment), format_func=plain)
        kind = right.selectbox("Document type", list(DOC_TYPES))
        searched = st.form_submit_button("Search", type="primary")
    if searched:
        if not query.strip():
            st.warning("Type a symptom, an alarm code or a question first.")
            return
        session.remember_search(Search(query=query.strip(), equipment=equipment[where], doc_type=DOC_TYPES[kind]))
    wanted = session.last_search()
    if wanted is None:
        return
    found = run_safely(
        "searching the plant library",
        library.search,
        wanted.query,
        k=RESULTS,
        equipment=wanted.equipment,
        doc_type=wanted.doc_type,
    )
    if found is None:
        return
    rows = run_safely("finding troubleshooting rows", _matching_rows, library, wanted) or []
    if not found and not rows:
        st.info("Nothing matched. Try other words, or set a filter back to “any”.")
    if rows:
        st.markdown("**Matching troubleshooting rows**")
        for row in rows:
            _row(row)
        if found:
            st.markdown("**Passages**")
    for rank, citation in enumerate(found, start=1):
        _result(rank, citation)


def _matching_rows(library: KnowledgeBase, wanted: Search) -> list[RecordHit]:
    """The rows themselves, not the table they sit in: by code when the search is one, else the closest rows."""
    if CODE.match(wanted.query):
        rows = library.records(code=wanted.query, equipment=wanted.equipment)
    else:
        rows = library.records(wanted.query, equipment=wanted.equipment, k=ROWS)
    return [r for r in rows if wanted.doc_type in (None, r.doc_type)][:ROWS]


def _row(row: RecordHit) -> None:
    with st.container(border=True):
        code = f"{row.code} · " if row.code else ""
        # The row's words as written, outside our own bold: a document must not speak in the console's voice.
        st.markdown(f"**Row:** {literal(code + (row.symptom or row.cause))}")
        st.caption(literal(f"{row.title}, {row.section}" + (f", p. {row.page}" if row.page else "")))
        show_text(f"Cause: {row.cause}")
        steps = parse_steps(row.remedy)
        show_text("\n".join(_step_text(step) for step in steps) or f"Remedy: {row.remedy}")


def _step_text(step: Step) -> str:
    when = f" (only {step.condition.text})" if step.condition is not None else ""
    urgent = " [urgent]" if step.urgent else ""
    return f"{step.order}. {step.kind.value}: {step.text}{urgent}{when}"


def _result(rank: int, citation: Citation) -> None:
    with st.container(border=True):
        # Titles, sections and passages are the documents' own words: shown as written, never as Markdown, and
        # never inside our own bold, which would lend them the console's voice.
        st.markdown(f"**{rank}.** {literal(citation.where())}")
        st.caption(document_line(citation))
        show_text(one_line(citation.text, PREVIEW))
        with st.expander("Full passage"):
            show_text(citation.text)


def _records(library: KnowledgeBase) -> None:
    st.subheader("Cause and remedy")
    line = services.context().line
    codes = {f"{alarm.code} · {alarm.message}": alarm.code for _, alarm in line.alarms()}
    left, right = st.columns(2)
    picked = left.selectbox(
        "Alarm code of this line",
        list(codes),
        index=None,
        placeholder="choose an alarm",
        format_func=plain,
        key="record-alarm",
    )
    typed = right.text_input(
        "Or another code or a symptom", placeholder="e.g. E-204, labels creased", key="record-code"
    ).strip()
    wanted = typed or (codes[picked] if picked else "")
    if not wanted:
        st.caption("Pick an alarm or type a code or symptom to see its probable causes and remedies.")
        return
    if CODE.match(wanted):
        records = run_safely("looking up records", library.records, None, code=wanted.upper())
    else:
        records = run_safely("looking up records", library.records, wanted)
    if records is None:
        return
    if not records:
        st.info(f"No troubleshooting record for {literal(wanted)}. Search the passages above instead.")
    for record in records:
        _record(record)


def _record(record: RecordHit) -> None:
    with st.container(border=True):
        where = ", ".join(
            part for part in (record.title, record.section, f"p. {record.page}" if record.page else "") if part
        )
        st.markdown(f"{literal(record.code or record.symptom)} · {literal(where)}")
        if record.symptom and record.code:
            st.markdown(f"**Seen:** {literal(record.symptom)}")
        st.markdown(f"**Cause:** {literal(record.cause)}")
        st.markdown(f"**Remedy:** {literal(record.remedy)}")
        if record.related_tags:
            st.caption("Related tags: " + literal(", ".join(record.related_tags)))
