"""The sign-in page: a person of the action pipeline, by name and password, through the same throttle as the CLI."""

from __future__ import annotations

import time

import streamlit as st

from console import services, session
from console.messages import run_safely, shown_errors
from console.widgets import literal
from copilot.errors import NotAllowed
from copilot.pipeline import SignInRefused, browser_client, refusal_text
from copilot.services import pipeline_ops

NOTICES = "sign-in"
WRONG = "Unknown user or wrong password. Check both and try again; ask your supervisor if you have no account."
_CLIENT = "signin_client"  # this browser session's throttle key; sign-out clears it with everything else


def clients() -> tuple[str, ...]:
    """The throttle keys of this browser: its session, and its address when Streamlit knows it.

    A reload starts a new session, so the session key alone stops no one; the address does, unless every browser
    comes through one reverse proxy, and then the limit is shared by all of them. The person's own limit holds
    whatever the client."""
    if _CLIENT not in st.session_state:
        st.session_state[_CLIENT] = browser_client()
    keys = [str(st.session_state[_CLIENT])]
    address = _address()
    if address:
        keys.append(f"ip:{address}")
    return tuple(keys)


def _address() -> str | None:
    try:
        found = st.context.ip_address
    except (AttributeError, RuntimeError):  # an older Streamlit, or no request behind this run (AppTest)
        return None
    return str(found) if found else None


def refusal(err: SignInRefused) -> str:
    """What the person reads: the same for a known and an unknown name, with when to come back."""
    if not err.until:
        return WRONG
    wait = refusal_text(until=err.until, locked=err.locked, now=time.time())
    sentence = f"{wait[:1].upper()}{wait[1:]}."
    # A checked password was wrong, and this failure started a wait or a lockout: both facts, in one message.
    return f"{WRONG}\n\n{sentence}" if err.checked else sentence


def render() -> None:
    st.title("Line co-pilot")
    ctx = run_safely("opening the console's database", services.context)
    if ctx is None:
        return
    st.caption(f"{literal(ctx.line.line.name)} · sign in with your plant account")
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
            who = pipeline_ops.login(ctx, name.strip(), password, clients=clients())
        except SignInRefused as err:
            # One message for every failure, as the pipeline gives: names cannot be probed from here either.
            st.error(refusal(err))
            return
        except NotAllowed:
            st.error(WRONG)
            return
        session.sign_in(who)
        st.rerun()
