"""Which pages each role is offered; the action pipeline enforces the same rules again on every click."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from console import (
    actions_page,
    alarms_page,
    chat_page,
    handover_page,
    line_page,
    server_identity,
    shift_page,
    troubleshooting_page,
)
from console.messages import shown_errors
from copilot.pipeline import Role, User


@dataclass(frozen=True, kw_only=True)
class PageSpec:
    title: str
    render: Callable[[], None]
    icon: str
    url_path: str


LINE = PageSpec(title="Line", render=line_page.render, icon=":material/monitoring:", url_path="line")
ALARMS = PageSpec(title="Alarms", render=alarms_page.render, icon=":material/notifications:", url_path="alarms")
SHIFT = PageSpec(title="Shift", render=shift_page.render, icon=":material/schedule:", url_path="shift")
HANDOVER = PageSpec(title="Handover", render=handover_page.render, icon=":material/handshake:", url_path="handover")
CHAT = PageSpec(title="Co-pilot", render=chat_page.render, icon=":material/forum:", url_path="copilot")
SEARCH = PageSpec(
    title="Troubleshooting", render=troubleshooting_page.render, icon=":material/build:", url_path="troubleshooting"
)
ACTIONS = PageSpec(
    title="Actions and audit", render=actions_page.render, icon=":material/task_alt:", url_path="actions"
)
SERVER = PageSpec(
    title="Server identity", render=server_identity.render, icon=":material/verified_user:", url_path="server"
)

# Operators and supervisors run the line; maintenance asks and requests but cannot approve (the card says so);
# admins manage people and the write switch and never request changes (Role.may_request), so no co-pilot.
PAGES: dict[Role, tuple[PageSpec, ...]] = {
    Role.OPERATOR: (LINE, ALARMS, CHAT, SEARCH, ACTIONS, HANDOVER),
    Role.SUPERVISOR: (LINE, ALARMS, CHAT, SEARCH, ACTIONS, SHIFT, HANDOVER),
    Role.MAINTENANCE: (LINE, ALARMS, SEARCH, CHAT, ACTIONS),
    Role.ADMIN: (LINE, ALARMS, SEARCH, ACTIONS, SERVER),
}


def page_specs(who: User) -> tuple[PageSpec, ...]:
    return PAGES[who.role]


def guarded(spec: PageSpec) -> Callable[[], None]:
    """The page with our errors shown as messages, so a failure deep in a page never becomes a traceback."""

    def page() -> None:
        with shown_errors(f"showing the {spec.title} page"):
            spec.render()

    return page


def pages_for(who: User) -> list[st.Page]:
    return [
        st.Page(guarded(spec), title=spec.title, icon=spec.icon, url_path=spec.url_path, default=(spec is LINE))
        for spec in page_specs(who)
    ]
