"""Shared services of the console, one per server process (st.cache_resource), and the warm-up that builds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from connectors import LiveLine
from console.warmup import Readiness, Step, Warmup
from copilot.agent import Answer
from copilot.pipeline import User, get_user
from copilot.services import pipeline_ops
from copilot.services.alarm_ops import LineRecorder
from copilot.services.kb_ops import open_kb
from copilot.services.line_ops import connection
from copilot.services.pipeline_ops import Context
from copilot.settings import load_settings

if TYPE_CHECKING:
    from copilot.agent import CoPilot
    from knowledge import KnowledgeBase

_started: list[LiveLine | LineRecorder | CoPilot] = []  # what shutdown() must stop


@st.cache_resource(show_spinner=False)
def context() -> Context:
    """Settings, database, line definition and action service, read once at start and shared by every session."""
    return pipeline_ops.open_context(load_settings())


@st.cache_resource(show_spinner=False)
def live_line() -> LiveLine:
    """One connection to the line for all sessions: licensed servers often allow a client one session."""
    ctx = context()
    line = LiveLine(
        ctx.line,
        connection(ctx.settings),
        history_samples=ctx.settings.history_samples,
        publishing_interval_ms=ctx.settings.publishing_interval_ms,
    )
    _started.append(line)
    return line.start()


@st.cache_resource(show_spinner=False)
def line_recorder() -> LineRecorder:
    """Journals the line's alarms for every session, once per console process."""
    ctx = context()
    watcher = LineRecorder(ctx.db, ctx.line, live_line())
    _started.append(watcher)
    return watcher.start()


@st.cache_resource(show_spinner=False)
def knowledge() -> KnowledgeBase:
    return open_kb(context().settings)


@st.cache_resource(show_spinner=False)
def copilot() -> CoPilot:
    # Imported here: LangGraph and a model client load in the warm-up, never when the console's modules import.
    from copilot.agent import CoPilot

    ctx = context()
    agent = CoPilot(ctx.settings, line_view=live_line(), library=knowledge(), actions=ctx.service)
    _started.append(agent)
    return agent


def _read_context() -> None:
    context()


def _load_agent() -> None:
    from copilot.agent import CoPilot  # noqa: F401  (imported for its cost: LangGraph and the model clients)


def _open_knowledge() -> None:
    # Opened, never read: Chroma fixes what a process sees of a store at its first read, and documents that
    # `copilot ingest` adds after the console started must still be found by the first question.
    knowledge()


def _build_copilot() -> None:
    copilot()


# What the Co-pilot page needs, in the order it is built; each `doing` reads as "Co-pilot: warming up (…)".
WARM_UP = Warmup(
    (
        Step(doing="reading the settings and the database", run=_read_context),
        Step(doing="loading the agent", run=_load_agent),
        Step(doing="opening the manuals' index and loading its search model", run=_open_knowledge),
        Step(doing="building the co-pilot", run=_build_copilot),
    )
)


def warm_up() -> bool:
    """Start building the co-pilot in the background, once per process; the server calls it when it starts."""
    return WARM_UP.start()


def copilot_readiness() -> Readiness:
    return WARM_UP.readiness


def retry_warm_up() -> bool:
    """Run a failed warm-up again, once its cause is fixed."""
    return WARM_UP.retry()


def shutdown() -> None:
    """Stop the line connection and close the thread store, then forget every shared service (tests, restarts)."""
    # A warm-up still under way would build services again after they are forgotten.
    WARM_UP.reset()
    while _started:
        item = _started.pop()
        if isinstance(item, LiveLine):
            item.stop()
        else:
            item.close()
    st.cache_resource.clear()


def person(name: str) -> User:
    """The person as the database knows them now; raises NotAllowed once they are removed or deactivated."""
    return get_user(context().db, name)


def ask(question: str, *, thread_id: str, user: User) -> Answer:
    """The one call the chat page makes to the co-pilot; tests replace it."""
    answer = copilot().ask(question, thread_id=thread_id, user=user)
    pipeline_ops.note_answer(context(), user.name, question, answer)
    return answer


def thread_answers(thread_id: str, user: User) -> list[tuple[str, Answer | None]]:
    """(question, answer) pairs of a conversation, oldest first; a question still unanswered has None."""
    agent = copilot()
    questions = [text for role, text in agent.thread_history(thread_id, user) if role == "user"]
    answers = agent.thread_answers(thread_id, user)
    return [(q, answers[i] if i < len(answers) else None) for i, q in enumerate(questions)]
