"""Troubleshooting search for maintenance: passages by symptom with filters, and cause/remedy records by code."""

from __future__ import annotations

import streamlit as st

from console import services

DOC_TYPES = {
    "any": None,
    "manuals": "manual",
    "work instructions": "work_instruction",
    "SOPs": "sop",
    "alarm lists": "alarm_list",
}


def render() -> None:
    st.title("Troubleshooting")
    ctx = services.context()
    library = services.run_safely("opening the knowledge base", services.knowledge)
    if library is None:
        return
    if library.chunk_count() == 0:
        st.warning("The knowledge base is empty. Ingest the plant library with `copilot ingest PATH` and reload.")
        return
    equipment_names = {"any": None} | {e.name: e.id for e in ctx.line.equipment}
    with st.form("search"):
        query = st.text_input("Symptom, alarm code or question", placeholder="e.g. caps loose and leaking, CAP-301")
        left, right = st.columns(2)
        equipment = left.selectbox("Equipment", list(equipment_names))
        doc_type = right.selectbox("Document type", list(DOC_TYPES))
        searched = st.form_submit_button("Search", type="primary")
    if searched and query.strip():
        found = services.run_safely(
            "searching",
            library.search,
            query,
            k=8,
            equipment=equipment_names[equipment],
            doc_type=DOC_TYPES[doc_type],
        )
        if found is not None and not found:
            st.info("Nothing matched. Try other words, or remove a filter.")
        for i, citation in enumerate(found or [], start=1):
            with st.container(border=True):
                st.markdown(f"**{i}. {citation.where()}**")
                st.caption(f"{citation.title} · revision {citation.revision or '-'} · score {citation.score:.3f}")
                first = citation.text.strip().splitlines()[0] if citation.text.strip() else ""
                st.write(first[:240])
                with st.expander("Full passage"):
                    st.text(citation.text)
    st.subheader("Cause and remedy by alarm code")
    code = st.text_input("Alarm code", placeholder="e.g. INF-101", key="record-code")
    if code.strip():
        records = services.run_safely("looking up records", library.records, code=code.strip()) or []
        if not records:
            st.info(f"No troubleshooting record for {code.strip().upper()}.")
        for record in records:
            with st.container(border=True):
                st.markdown(
                    f"**{record.code}** · {record.title}, {record.section}"
                    + (f", p. {record.page}" if record.page else "")
                )
                if record.symptom:
                    st.write(f"Seen: {record.symptom}")
                st.write(f"Cause: {record.cause}")
                st.write(f"Remedy: {record.remedy}")
                if record.related_tags:
                    st.caption("Related tags: " + ", ".join(record.related_tags))
