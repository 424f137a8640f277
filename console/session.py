"""Typed access to what one browser session keeps: who is signed in, their conversations, and one-off notices."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import streamlit as st

from copilot.pipeline import User
from copilot.untrusted import markdown_escape, one_line, plain

# The only session keys the console uses; widgets keep their own state under their widget keys.
_USER = "user"
_THREAD = "thread_id"
_THREADS = "threads"
_TITLES = "thread_titles"
TITLE_CHARS = 48
_NOTICES = "notices"
_SEARCH = "last_search"  # not "search": that is the search form's own key


@dataclass(frozen=True, kw_only=True)
class Notice:
    """The outcome of a click, shown once after the rerun that follows it."""

    ok: bool
    text: str


def user() -> User | None:
    found = st.session_state.get(_USER)
    return found if isinstance(found, User) else None


def signed_in() -> User:
    """The person signed in; pages are only routed after sign-in, so a missing one is a bug, not a state."""
    who = user()
    if who is None:
        raise RuntimeError("a page that needs a person was shown before sign-in")
    return who


def sign_in(who: User) -> None:
    st.session_state[_USER] = who
    start_new_thread()


def refresh(who: User) -> None:
    """Keep the stored person in step with the database (a role changed since sign-in takes effect at once)."""
    st.session_state[_USER] = who


def sign_out() -> None:
    # Everything goes: widget values (a half-typed rejection reason) must not leak to the next person.
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def thread_names() -> dict[str, str]:
    """Conversations by the name people find them again by, their first question, newest first: name -> id."""
    titles: dict[str, str] = st.session_state.get(_TITLES, {})
    named: dict[str, str] = {}
    for thread in threads():
        base = plain(titles.get(thread, "New conversation"))
        name, n = base, 1
        while name in named:  # the same question asked in two conversations
            n += 1
            name = f"{base} ({n})"
        named[name] = thread
    return named


def name_thread(thread: str, question: str) -> None:
    """Name a conversation by its first question; later questions leave the name as it is."""
    titles: dict[str, str] = st.session_state.setdefault(_TITLES, {})
    titles.setdefault(thread, one_line(question, TITLE_CHARS))


def _new_thread_id(who: User) -> str:
    return f"{who.name}-{secrets.token_hex(4)}"


def thread_id() -> str:
    """The open conversation; one is started on first use."""
    if _THREAD not in st.session_state:
        start_new_thread()
    return str(st.session_state[_THREAD])


def threads() -> list[str]:
    """Conversations started in this session, newest first."""
    found = st.session_state.get(_THREADS, [])
    return [str(t) for t in found]


def start_new_thread() -> str:
    thread = _new_thread_id(signed_in())
    st.session_state[_THREADS] = [thread, *threads()]
    st.session_state[_THREAD] = thread
    return thread


def open_thread(thread: str) -> None:
    if thread in threads():
        st.session_state[_THREAD] = thread


@dataclass(frozen=True, kw_only=True)
class Search:
    """The last troubleshooting search, kept so its results stay on screen while the person does something else."""

    query: str
    equipment: str | None
    doc_type: str | None


def last_search() -> Search | None:
    found = st.session_state.get(_SEARCH)
    return found if isinstance(found, Search) else None


def remember_search(search: Search) -> None:
    st.session_state[_SEARCH] = search


def notify(key: str, *, ok: bool, text: str) -> None:
    """Keep a click's outcome (an approval, a switch) for the rerun that follows it; `key` says where it shows."""
    notices: dict[str, Notice] = dict(st.session_state.get(_NOTICES, {}))
    notices[key] = Notice(ok=ok, text=text)
    st.session_state[_NOTICES] = notices


def take_notice(key: str) -> Notice | None:
    notices: dict[str, Notice] = dict(st.session_state.get(_NOTICES, {}))
    found = notices.pop(key, None)
    st.session_state[_NOTICES] = notices
    return found


def show_notice(key: str) -> None:
    found = take_notice(key)
    if found is not None:
        # Notices quote tags, names and reasons people typed: shown exactly as written, never as Markdown.
        (st.success if found.ok else st.error)(markdown_escape(found.text))
