"""One co-pilot answer on screen: the text, ranked causes, sources, live values used, notes and proposal cards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pandas as pd
import streamlit as st

from connectors import clock_and_age, rounded
from console import proposal_card
from console.widgets import document_line, label, literal, show_text
from copilot.agent import Answer, DraftedProposal, RankedCause, ReadingUsed
from copilot.pipeline import User
from copilot.untrusted import plain
from knowledge import Citation

OFFLINE_LABEL = "Offline diagnosis engine · no language model · built from the live values and the plant library"
SOURCES_SHOWN = 5
STREAM_BUDGET_S = 1.5  # long answers stream faster: nobody should wait for the typing effect


def words(text: str) -> Iterator[str]:
    """The answer word by word; it is complete already, but people start reading at once."""
    parts = text.split(" ")
    pause = min(0.02, STREAM_BUDGET_S / max(len(parts), 1))
    for part in parts:
        yield part + " "
        time.sleep(pause)


def provider_label(answer: Answer) -> str:
    if answer.provider == "offline":
        return OFFLINE_LABEL
    return f"Language model {answer.model} ({answer.provider}) · causes ranked from the live values and the library"


def _stream(text: str) -> None:
    # Into a plain-text element, not st.write_stream: that renders Markdown, and the answer quotes documents,
    # tag names and the question (or is a language model's text) and must never fetch or link anything.
    box = st.empty()
    shown = ""
    for word in words(plain(text)):
        shown += word
        box.text(shown)


def render(answer: Answer, who: User, *, key: str, stream: bool = False) -> None:
    st.caption(literal(provider_label(answer)))
    if stream:
        _stream(answer.text)
    else:
        show_text(answer.text)
    for sentence in answer.unverified:
        st.warning(literal(f"Unverified: {sentence}"), icon=":material/help:")
    if answer.abstained:
        st.info("The evidence did not point to a cause, so the co-pilot says what it saw instead of guessing.")
    if answer.causes:
        _causes(answer.causes)
    if answer.citations:
        st.markdown("**Sources**")
        first, rest = sources(answer.citations)
        for i, passages in first:
            _source(i, passages)
        if rest:
            with st.expander(f"More sources ({len(rest)})"):
                for i, passages in rest:
                    st.markdown(literal(f"[{i}] {passages[0].where()}"))
                    for citation in passages:
                        show_text(citation.text)
    if answer.readings:
        with st.expander(f"Live values used ({len(answer.readings)})"):
            st.dataframe(readings_table(answer.readings), hide_index=True, width="stretch")
    for note in answer.notes:
        st.caption(f"Note: {literal(note)}")
    for i, drafted in enumerate(answer.proposals):
        _proposal(drafted, who, key=f"{key}-{i}")
    st.caption(f"Answered in {answer.latency_s:.2f} s")


Source = tuple[int, list[Citation]]


def sources(citations: tuple[Citation, ...]) -> tuple[list[Source], list[Source]]:
    """One source per document and section with all its passages, numbered by the first: the first five, the rest.

    Fifteen sources with four alike labels are more than a person at a tablet reads; passages under one label are
    the same place of the same manual, so they open together.
    """
    groups: dict[tuple[str, str], Source] = {}
    for i, citation in enumerate(citations, start=1):
        groups.setdefault((citation.doc_id, citation.section), (i, []))[1].append(citation)
    kept = list(groups.values())
    return kept[:SOURCES_SHOWN], kept[SOURCES_SHOWN:]


def _source(i: int, passages: list[Citation]) -> None:
    with st.expander(label(f"[{i}] {passages[0].where()}")):
        for citation in passages:
            st.caption(document_line(citation))
            show_text(citation.text)


def _causes(causes: tuple[RankedCause, ...]) -> None:
    st.markdown("**Ranked causes**")
    for rank, cause in enumerate(causes, start=1):
        code = f" [{cause.code}]" if cause.code else ""
        st.progress(
            min(max(cause.confidence, 0.0), 1.0),
            text=literal(f"{rank}. {cause.cause}{code} · confidence {cause.confidence:.2f}"),
        )
        with st.expander(f"Evidence, remedy and sources for cause {rank}"):
            lines = [f"- for: {literal(e)}" for e in cause.evidence_for]
            lines += [f"- against: {literal(e)}" for e in cause.evidence_against]
            if lines:
                st.markdown("\n".join(lines))
            st.markdown(f"**What to do:** {literal(cause.remedy)}")
            for citation in cause.citations:
                st.caption(f"Source: {literal(citation.where())}")


def readings_table(readings: tuple[ReadingUsed, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "tag": plain(r.tag),
                "value": plain(rounded(r.value, r.unit)),
                "quality": r.quality,
                "source time": clock_and_age(datetime.fromisoformat(r.source_time))
                if r.source_time
                else "no timestamp",
                "normal": plain(r.normal or ""),  # the band's unit is the line definition's, maybe a server's text
                "deviation": plain(r.deviation or ""),
            }
            for r in readings
        ]
    )


def _proposal(drafted: DraftedProposal, who: User, *, key: str) -> None:
    if not drafted.action_id:
        # Not recorded in the pipeline, so there is nothing to approve; say what was meant and why not.
        why = "; ".join(drafted.reasons) or "no reason"
        st.warning(literal(f"Proposed change to {drafted.tag} not recorded: {why}"))
        return
    proposal_card.render(drafted.action_id, who, key=key)
