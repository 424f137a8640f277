"""The co-pilot chat: questions in a thread, answers streamed with causes, citations, readings and proposals."""

from __future__ import annotations

import time
from collections.abc import Iterator

import streamlit as st

from console import proposal_card, services, session
from copilot.answer import Answer
from copilot.users import User


def _words(text: str) -> Iterator[str]:
    # The answer is complete when it arrives; streaming it word by word lets a person start reading at once.
    for word in text.split(" "):
        yield word + " "
        time.sleep(0.01)


def render_answer(answer: Answer, who: User, *, key: str, stream: bool = False) -> None:
    if answer.provider == "offline":
        st.caption("Offline diagnosis engine · no language model · built from the live values and the plant library")
    else:
        st.caption(f"{answer.provider} · {answer.model}")
    if stream:
        st.write_stream(_words(answer.text))
    else:
        st.markdown(answer.text)
    if answer.causes:
        st.markdown("**Ranked causes**")
        for rank, cause in enumerate(answer.causes, start=1):
            st.progress(cause.confidence, text=f"{rank}. {cause.cause} · confidence {cause.confidence:.2f}")
            with st.expander(f"Evidence and sources for cause {rank}"):
                if cause.evidence_for:
                    st.markdown("For: " + "; ".join(cause.evidence_for))
                if cause.evidence_against:
                    st.markdown("Against: " + "; ".join(cause.evidence_against))
                st.markdown(f"What to do: {cause.remedy}")
    if answer.citations:
        st.markdown("**Sources**")
        for i, citation in enumerate(answer.citations, start=1):
            with st.expander(f"[{i}] {citation.where()}"):
                st.caption(f"{citation.title} · revision {citation.revision or '-'} · {citation.source}")
                st.text(citation.text)
    if answer.readings:
        with st.expander(f"Live values used ({len(answer.readings)})"):
            st.dataframe(
                [
                    {
                        "tag": r.tag,
                        "value": str(r.value),
                        "unit": r.unit,
                        "source time": r.source_time or "",
                        "quality": r.quality,
                        "normal": r.normal or "",
                        "deviation": r.deviation or "",
                    }
                    for r in answer.readings
                ],
                hide_index=True,
            )
    for note in answer.notes:
        st.caption(f"Note: {note}")
    for i, drafted in enumerate(answer.proposals):
        proposal_card.render(drafted.action_id, who, key=f"{key}-{i}")
    st.caption(f"Answered in {answer.latency_s:.2f} s")


def render() -> None:
    who = session.user()
    assert who is not None
    st.title("Co-pilot")
    top = st.columns([4, 1])
    top[0].caption(f"Conversation {session.thread_id()}")
    if top[1].button("New conversation"):
        session.start_new_thread()
        st.rerun()
    thread = session.thread_id()
    history = services.run_safely("reading the conversation", services.thread_answers, thread, who) or []
    for index, (question, answer) in enumerate(history):
        with st.chat_message("user"):
            st.markdown(question)
        if answer is not None:
            with st.chat_message("assistant"):
                render_answer(answer, who, key=f"{thread}-{index}")
    question = st.chat_input("Ask about the line, e.g. why did the filler stop?")
    if question:
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            with st.spinner("Looking at the line and the manuals..."):
                answer = services.run_safely("answering", services.ask, question, thread_id=thread, user=who)
            if answer is not None:
                render_answer(answer, who, key=f"{thread}-{len(history)}", stream=True)
