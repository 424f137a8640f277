"""For supervisors and admins: the sign-in waits and lockouts running now, and a control to clear one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import services, session
from console.messages import run_safely, shown_errors
from copilot.pipeline import PERSON, Lockout, User, clock_time
from copilot.services import pipeline_ops
from copilot.untrusted import MAX_NAME, one_line

NOTICES = "people"


def _what(hold: Lockout) -> str:
    # Names here were typed at the sign-in form by anyone: shown only as plain text (a table cell, an option).
    who = one_line(hold.shown if hold.kind == PERSON else hold.key, MAX_NAME)
    state = "locked out" if hold.locked else "waiting"
    return f"{hold.kind} {who} · {state} until {clock_time(hold.until, seconds=True)}"


def table(held: list[Lockout]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "who": one_line(h.shown if h.kind == PERSON else h.key, MAX_NAME),
                "kind": h.kind,
                "state": "locked out" if h.locked else "waiting",
                "until": clock_time(h.until, seconds=True),
                "failed sign-ins": h.failures,
                "turned away": h.refused,
            }
            for h in held
        ]
    )


def render(who: User) -> None:
    if not who.role.may_unlock:
        return
    st.subheader("Sign-in lockouts")
    session.show_notice(NOTICES)
    ctx = services.context()
    held = run_safely("reading the sign-in lockouts", pipeline_ops.lockouts, ctx)
    if held is None:
        return
    if not held:
        st.caption("Nobody is locked out or waiting after failed sign-ins.")
        return
    st.dataframe(table(held), hide_index=True, width="stretch")
    chosen = st.selectbox("Clear the wait or lockout of", range(len(held)), format_func=lambda i: _what(held[i]))
    if chosen is not None and st.button("Unlock", key="unlock-signin"):
        hold = held[chosen]
        with shown_errors("clearing the lockout"):
            cleared = pipeline_ops.clear_lockout(ctx, hold, by=who)
            text = "Cleared: the next sign-in is checked at once." if cleared else "That lockout had already ended."
            session.notify(NOTICES, ok=cleared, text=text)
            st.rerun()
