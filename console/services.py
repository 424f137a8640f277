"""Shared services of the console, one per server process (st.cache_resource), and friendly errors around them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from connectors.errors import ConnectorError
from copilot import pipeline_ops
from copilot.agent import CoPilot
from copilot.answer import Answer
from copilot.errors import CopilotError
from copilot.kb_ops import open_kb
from copilot.line_ops import connection
from copilot.live import LiveLine
from copilot.pipeline_ops import Context
from copilot.settings import ConfigError, load_settings
from copilot.users import User
from knowledge import KnowledgeBase, KnowledgeError

_started: list[LiveLine | CoPilot] = []  # what shutdown() must stop


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
def knowledge() -> KnowledgeBase:
    return open_kb(context().settings)


@st.cache_resource(show_spinner=False)
def copilot() -> CoPilot:
    ctx = context()
    agent = CoPilot(ctx.settings, line_view=live_line(), library=knowledge(), actions=ctx.service)
    _started.append(agent)
    return agent


def shutdown() -> None:
    """Stop the line connection and close the thread store, then forget every shared service (tests, restarts)."""
    while _started:
        item = _started.pop()
        if isinstance(item, LiveLine):
            item.stop()
        else:
            item.close()
    st.cache_resource.clear()


def ask(question: str, *, thread_id: str, user: User) -> Answer:
    """The one call the chat page makes; tests replace it."""
    return copilot().ask(question, thread_id=thread_id, user=user)


def thread_answers(thread_id: str, user: User) -> list[tuple[str, Answer | None]]:
    """(question, answer) pairs of a thread, oldest first."""
    agent = copilot()
    history = agent.thread_history(thread_id, user)
    answers = agent.thread_answers(thread_id, user)
    questions = [text for role, text in history if role == "user"]
    return [(q, answers[i] if i < len(answers) else None) for i, q in enumerate(questions)]


@contextmanager
def shown_errors(doing: str) -> Iterator[None]:
    """Our errors as one clear message on the page, never a traceback; the page goes on below it."""
    try:
        yield
    except ConfigError as err:
        st.error(f"Configuration problem while {doing}: {err}")
    except (CopilotError, ConnectorError, KnowledgeError) as err:
        st.error(f"Could not finish {doing}: {err}")


def run_safely(doing: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `func`; on one of our errors show it and return None."""
    with shown_errors(doing):
        return func(*args, **kwargs)
    return None
