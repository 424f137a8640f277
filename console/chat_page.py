"""The co-pilot chat: questions in a conversation, answers streamed, with their causes, sources and proposals."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st
import streamlit.components.v1 as components

from console import answer_view, services, session, widgets
from console.messages import run_safely
from console.warmup import Phase, Readiness

NEW_ANSWER = "new-answer"
# Streamlit keeps a chat pinned to its bottom while it renders; the scroll is repeated until the page has settled.
_SCROLL = """<script>
let tries = 0;
const go = () => {{
  const mark = window.parent.document.getElementById("{anchor}");
  if (mark) mark.scrollIntoView({{block: "start"}});
  if (++tries < 6) setTimeout(go, 250);
}};
go();
</script><!-- answer {count} -->"""


def scroll_to(anchor: str, count: int) -> None:
    """Bring the anchor to the top of the view once the answer is drawn (the count makes each answer's script new)."""
    components.html(_SCROLL.format(anchor=anchor, count=count), height=0)


def render() -> None:
    who = session.signed_in()
    st.title("Co-pilot")
    readiness = services.copilot_readiness()
    if readiness.phase is Phase.WARMING:
        waiting_room()
        return
    if readiness.phase is Phase.FAILED:
        failed(readiness)
        return
    # Cards of earlier answers must not offer a decision on a proposal whose time is up.
    run_safely("expiring old proposals", services.context().service.expire_due)
    thread = session.thread_id()
    named = session.thread_names()
    names = list(named)
    current = next((name for name, t in named.items() if t == thread), None)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Conversation", names, index=names.index(current) if current in names else 0)
    picked = named.get(chosen) if chosen is not None else None
    if right.button("New conversation", width="stretch"):
        session.start_new_thread()
        st.rerun()
    if picked is not None and picked != thread:
        session.open_thread(picked)
        st.rerun()
    with st.spinner("Opening the conversation…"):
        history = run_safely("reading the conversation", services.thread_answers, thread, who) or []
    for index, (question, answer) in enumerate(history):
        with st.chat_message("user"):
            widgets.show_text(question)
        if answer is not None:
            with st.chat_message("assistant"):
                answer_view.render(answer, who, key=f"{thread}-{index}")
    if not history:
        st.caption(
            "Ask about the line in your own words: what an alarm means, why a value moves, what to do. "
            "Answers cite the manuals and show the live values they used; changes are only proposed, never made."
        )
    asked = st.chat_input("Ask about the line, e.g. why did the filler stop?")
    if not asked:
        return
    question = str(asked)
    session.name_thread(thread, question)
    with st.chat_message("user"):
        widgets.show_text(question)
    with st.chat_message("assistant"):
        # The start of the new answer (the cause and what to do first) is what a tablet must show, not its end.
        st.markdown(f'<div id="{NEW_ANSWER}"></div>', unsafe_allow_html=True)
        with st.spinner("Looking at the line and the manuals…"):
            answer = run_safely("answering", services.ask, question, thread_id=thread, user=who)
        if answer is not None:
            answer_view.render(answer, who, key=f"{thread}-{len(history)}", stream=True)
    scroll_to(NEW_ANSWER, len(history))


@st.fragment(run_every=timedelta(seconds=1))
def waiting_room() -> None:
    """The warm-up's progress until it ends; then the whole page again, with the conversation, without a reload."""
    readiness = services.copilot_readiness()
    if readiness.phase is not Phase.WARMING:
        st.rerun()
    st.info(
        f"{readiness.headline} The conversation opens here by itself when it is ready.",
        icon=":material/hourglass_top:",
    )
    st.progress(readiness.done / readiness.total, text=f"Step {readiness.done + 1} of {readiness.total}")


def failed(readiness: Readiness) -> None:
    st.error(f"{readiness.headline}. {readiness.problem}", icon=":material/error:")
    if st.button("Try again", type="primary"):
        services.retry_warm_up()
        st.rerun()
