"""Which pages each role is offered; the action pipeline enforces the same rules again on every click."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from console import actions_page, chat_page, line_page, troubleshooting_page
from copilot.users import Role, User


@dataclass(frozen=True, kw_only=True)
class PageSpec:
    title: str
    render: Callable[[], None]
    icon: str
    url_path: str


LINE = PageSpec(title="Line", render=line_page.render, icon=":material/monitoring:", url_path="line")
CHAT = PageSpec(title="Co-pilot", render=chat_page.render, icon=":material/forum:", url_path="copilot")
SEARCH = PageSpec(
    title="Troubleshooting", render=troubleshooting_page.render, icon=":material/build:", url_path="troubleshooting"
)
ACTIONS = PageSpec(
    title="Actions and audit", render=actions_page.render, icon=":material/task_alt:", url_path="actions"
)


def page_specs(who: User) -> list[PageSpec]:
    if who.role is Role.MAINTENANCE:
        return [LINE, SEARCH, CHAT, ACTIONS]  # maintenance may ask and request, not approve
    if who.role is Role.ADMIN:
        return [LINE, SEARCH, ACTIONS]  # admins manage people and the switch; they do not run the line
    return [LINE, CHAT, SEARCH, ACTIONS]


def pages_for(who: User) -> list[st.Page]:
    return [
        st.Page(spec.render, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=(spec is LINE))
        for spec in page_specs(who)
    ]
