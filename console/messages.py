"""Our errors as clear messages on the page, each with what to do next, never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import streamlit as st

from connectors import ConnectorError, LineDefinitionError, LineUnavailable, SecurityRejected
from copilot.errors import ConfigError, CopilotError, ModelUnavailable, StoreUnavailable
from copilot.untrusted import markdown_escape
from knowledge import IndexUnavailable, KnowledgeError
from knowledge import ModelUnavailable as EmbeddingUnavailable

P = ParamSpec("P")
T = TypeVar("T")

# What a person can do about each kind of failure; the first matching row wins, so subclasses come first.
# Errors about a decision (not allowed, expired, own proposal) carry their whole story in the message.
ADVICE: tuple[tuple[type[Exception], str], ...] = (
    (ConfigError, "Fix that setting (COPILOT_* environment variable or copilot.toml) and restart the console."),
    (
        SecurityRejected,
        "The line's server refused our certificate or credentials: check COPILOT_SECURITY, COPILOT_OPCUA_USER and "
        "that the console's certificate is in the server's trust list.",
    ),
    (
        LineUnavailable,
        "Check that the line's OPC UA server is running and reachable from this machine (COPILOT_ENDPOINT); "
        "the console reconnects by itself.",
    ),
    (LineDefinitionError, "Fix the line definition file (COPILOT_LINE) and restart the console."),
    (
        StoreUnavailable,
        "Check that the database (COPILOT_DATABASE_URL, or copilot.db in the data directory) is reachable and "
        "writable, then reload the page.",
    ),
    (ModelUnavailable, "Check the model server named above, or set COPILOT_PROVIDER=offline and restart."),
    (
        IndexUnavailable,
        "Check the knowledge folder in the data directory (COPILOT_DATA_DIR); `copilot ingest` rebuilds it.",
    ),
    (EmbeddingUnavailable, "Reinstall the console's packages (`make demo` does it); the model ships with them."),
)

OURS: tuple[type[Exception], ...] = (ConfigError, CopilotError, ConnectorError, KnowledgeError)


def advice(err: Exception) -> str:
    for kind, text in ADVICE:
        if isinstance(err, kind):
            return text
    return ""


def describe(doing: str, err: Exception) -> str:
    """`Could not finish <doing>: <our message>` and, where there is one, what to do about it; safe for Markdown.

    Our messages quote what they are about (a tag asked for, a person's name, a server's reply): escaped as text.
    """
    text = f"Could not finish {doing}: {markdown_escape(str(err))}"
    hint = advice(err)
    return f"{text}\n\n{hint}" if hint else text


@contextmanager
def shown_errors(doing: str) -> Iterator[None]:
    """Our errors become one message on the page; anything else is a bug and is left to surface as one."""
    try:
        yield
    except OURS as err:
        st.error(describe(doing, err), icon=":material/error:")


def run_safely(doing: str, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | None:
    """Call `func`; on one of our errors show the message and return None, so the page goes on below it."""
    with shown_errors(doing):
        return func(*args, **kwargs)
    return None
