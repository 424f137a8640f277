"""The sign-in page: a person of the action pipeline, by name and password; nothing else shows before it."""

from __future__ import annotations

import streamlit as st

from console import services, session
from copilot import pipeline_ops
from copilot.errors import NotAllowed


def render() -> None:
    st.title("Line co-pilot")
    ctx = services.run_safely("opening the console's database", services.context)
    if ctx is None:
        return
    st.caption(f"{ctx.line.line.name} · sign in with your plant account")
    with st.form("sign-in", clear_on_submit=False):
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            who = pipeline_ops.login(ctx, name.strip(), password)
        except NotAllowed:
            st.error("Unknown user or wrong password. Ask your supervisor if you have no account.")
            return
        session.sign_in(who)
        st.rerun()
