"""The console's router: sign-in first, then the pages each role may use, with the line's state always in view."""

from __future__ import annotations

import streamlit as st

from console import alarm_banner, navigation, session, sidebar, signin, widgets


def main() -> None:
    # An emoji, not a :material/...: icon: Streamlit fetches a material favicon from fonts.gstatic.com, and the
    # console must work, and stay silent, on a plant network with no way out.
    st.set_page_config(page_title="Line co-pilot", page_icon="🏭", layout="wide")
    widgets.apply_tablet_style()
    known = session.user()
    who = sidebar.current_person(known) if known is not None else None
    if who is None:
        # Only the sign-in page exists before sign-in: no other page can be reached, even by its URL.
        st.navigation([st.Page(signin.render, title="Sign in", url_path="sign-in")], position="hidden").run()
        return
    sidebar.render(who)
    pages = st.navigation(navigation.pages_for(who))
    alarm_banner.render(who)  # above every page's own content, after the navigation is set up
    pages.run()


if __name__ == "__main__":
    main()  # Streamlit runs this file as __main__ for every run of every session
else:
    # `streamlit run app.py` finds this app and serves it through uvicorn, which imports this file as a module:
    # the same console, with Streamlit's endpoints that skip sign-in closed in front of it.
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    from starlette.middleware import Middleware

    from console import services
    from console.http_gate import ClosedEndpoints

    @asynccontextmanager
    async def warm_at_start(_app: st.App) -> AsyncIterator[None]:
        # Once per server process, before the first person arrives: the co-pilot's seconds of imports and model
        # loading happen in the background while the server already answers, and the sidebar shows how far it is.
        services.warm_up()
        yield

    app = st.App(__file__, middleware=[Middleware(ClosedEndpoints)], lifespan=warm_at_start)
