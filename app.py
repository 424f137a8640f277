"""The console's router: sign-in first, then the pages each role may use, with the line's state always in view."""

from __future__ import annotations

import streamlit as st

from console import navigation, session, sidebar, signin, widgets


def main() -> None:
    st.set_page_config(page_title="Line co-pilot", page_icon=":material/factory:", layout="wide")
    widgets.apply_tablet_style()
    known = session.user()
    who = sidebar.current_person(known) if known is not None else None
    if who is None:
        # Only the sign-in page exists before sign-in: no other page can be reached, even by its URL.
        st.navigation([st.Page(signin.render, title="Sign in", url_path="sign-in")], position="hidden").run()
        return
    sidebar.render(who)
    st.navigation(navigation.pages_for(who)).run()


main()
