"""The sidebar after sign-in: who is signed in, sign out, the line's connection and the co-pilot's state."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from console import navigation, services, session, signin, widgets
from console.messages import OURS, describe, run_safely
from console.warmup import Phase
from copilot.errors import NotAllowed
from copilot.pipeline import User


def current_person(who: User) -> User | None:
    """The signed-in person as the database knows them now; a removed or deactivated person is signed out."""
    try:
        now = services.person(who.name)
    except NotAllowed:
        session.sign_out()
        session.notify(signin.NOTICES, ok=False, text=f"{who.name} is no longer an active user: signed out.")
        return None
    except OURS as err:
        st.error(describe("checking who is signed in", err))
        return who
    session.refresh(now)
    return now


def render(who: User) -> None:
    with st.sidebar:
        st.markdown(f"**{widgets.literal(who.name)}** · {who.role.value}")
        if st.button("Sign out", width="stretch"):
            session.sign_out()
            st.rerun()
        connection_state(with_copilot=navigation.CHAT in navigation.page_specs(who))


# How the co-pilot's warm-up looks in the sidebar: colour and mark before its headline, and a line below it.
COPILOT_LOOK: dict[Phase, tuple[str, str, str]] = {
    Phase.IDLE: ("gray", "○", ""),
    Phase.WARMING: ("orange", "◌", "Step {step} of {total}; the Co-pilot page opens when it is ready."),
    Phase.READY: ("green", "●", ""),
    Phase.FAILED: ("red", "✕", "The Co-pilot page says why and what to do."),
}


def copilot_state() -> None:
    readiness = services.copilot_readiness()
    colour, mark, below = COPILOT_LOOK[readiness.phase]
    st.markdown(f":{colour}[{mark} {widgets.literal(readiness.headline)}]")
    if below:
        st.caption(below.format(step=readiness.done + 1, total=readiness.total))


@st.fragment(run_every=timedelta(seconds=2))
def connection_state(*, with_copilot: bool = False) -> None:
    # Every 2 s, not every second: it runs in every session on every page, and the Line page says it each second.
    # The co-pilot's state rides along, rather than a second timer in every session.
    line_state()
    if with_copilot:
        copilot_state()


def line_state() -> None:
    live = run_safely("connecting to the line", services.live_line)
    if live is None:
        return
    state, reason = live.availability
    endpoint = widgets.html_text(live.endpoint)
    if live.available:
        st.markdown(f'<div class="conn ok">● Line connected</div><small>{endpoint}</small>', unsafe_allow_html=True)
    else:
        st.markdown(
            f'<div class="conn down">✕ Line {widgets.html_text(state.value)}</div>'
            f"<small>{widgets.html_text(reason)}<br>{endpoint}</small>",
            unsafe_allow_html=True,
        )
