"""The console's router: sign-in first, then the pages each role may use, with the line's state always in view."""

from __future__ import annotations

import html
from datetime import timedelta

import streamlit as st

from console import navigation, services, session, signin, widgets


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
    st.navigation(navigation.pages_for(who)).run()


main()
