"""The console's router: sign-in first, then the pages each role may use, with the line's state always in view."""

from __future__ import annotations

import html
from datetime import timedelta

import streamlit as st

from console import actions_page, chat_page, line_page, services, session, signin, troubleshooting_page, widgets
from copilot.users import Role, User


def pages_for(who: User) -> list[st.Page]:
    """What each role is offered; the action pipeline enforces the same rules again on every click."""
    line = st.Page(line_page.render, title="Line", icon=":material/monitoring:", url_path="line", default=True)
    chat = st.Page(chat_page.render, title="Co-pilot", icon=":material/forum:", url_path="copilot")
    search = st.Page(
        troubleshooting_page.render, title="Troubleshooting", icon=":material/build:", url_path="troubleshooting"
    )
    actions = st.Page(actions_page.render, title="Actions and audit", icon=":material/task_alt:", url_path="actions")
    if who.role is Role.MAINTENANCE:
        return [line, search, chat, actions]
    if who.role is Role.ADMIN:
        return [line, search, actions]
    return [line, chat, search, actions]


@st.fragment(run_every=timedelta(seconds=2))
def connection_state() -> None:
    live = services.run_safely("connecting to the line", services.live_line)
    if live is None:
        return
    state, reason = live.availability
    if live.available:
        st.markdown(
            f'<div class="conn ok">● Line connected</div><small>{live.endpoint}</small>', unsafe_allow_html=True
        )
    else:
        st.markdown(
            f'<div class="conn down">✕ Line {state.value}</div><small>{html.escape(reason)}</small>',
            unsafe_allow_html=True,
        )


def main() -> None:
    st.set_page_config(page_title="Line co-pilot", page_icon=":material/factory:", layout="wide")
    widgets.apply_tablet_style()
    who = session.user()
    if who is None:
        st.navigation([st.Page(signin.render, title="Sign in", url_path="sign-in")], position="hidden").run()
        return
    with st.sidebar:
        st.markdown(f"**{who.name}** · {who.role.value}")
        if st.button("Sign out"):
            session.sign_out()
            st.rerun()
        connection_state()
    st.navigation(pages_for(who)).run()


main()
