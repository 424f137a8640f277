"""The sign-in page: a person of the action pipeline, by name and password; nothing else shows before it."""

from __future__ import annotations

import streamlit as st

from console import services, session
from console.messages import run_safely, shown_errors
from copilot import pipeline_ops
from copilot.errors import NotAllowed

NOTICES = "sign-in"
WRONG = "Unknown user or wrong password. Check both and try again; ask your supervisor if you have no account."


def render() -> None:
    st.title("Line co-pilot")
    ctx = run_safely("opening the console's database", services.context)
    if ctx is None:
        return
    st.caption(f"{ctx.line.line.name} · sign in with your plant account")
    session.show_notice(NOTICES)
    with st.form("sign-in", clear_on_submit=False):
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if not name.strip() or not password:
        st.error("Type your user name and your password.")
        return
    with shown_errors("signing in"):
        try:
            who = pipeline_ops.login(ctx, name.strip(), password)
        except NotAllowed:
            # One message for every failure, as the pipeline gives: names cannot be probed from here either.
            st.error(WRONG)
            return
        session.sign_in(who)
        st.rerun()
