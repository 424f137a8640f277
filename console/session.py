"""Typed access to what one browser session keeps: who is signed in and which conversation is open."""

from __future__ import annotations

import secrets
from typing import Any

import streamlit as st

from copilot.users import User

_USER = "user"
_THREAD = "thread_id"
_ASKED = "asked"


def user() -> User | None:
    found = st.session_state.get(_USER)
    return found if isinstance(found, User) else None


def sign_in(who: User) -> None:
    st.session_state[_USER] = who
    st.session_state[_THREAD] = new_thread_id(who)


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def new_thread_id(who: User) -> str:
    return f"{who.name}-{secrets.token_hex(4)}"


def thread_id() -> str:
    who = user()
    if who is None:
        raise RuntimeError("no thread before sign-in")
    if _THREAD not in st.session_state:
        st.session_state[_THREAD] = new_thread_id(who)
    return str(st.session_state[_THREAD])


def start_new_thread() -> None:
    who = user()
    if who is not None:
        st.session_state[_THREAD] = new_thread_id(who)


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value
