"""Actions: what waits for a decision, every action by status with filters, and each action's full history."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from console import audit_panel, people_panel, proposal_card, services, session, widgets
from console.messages import run_safely
from copilot.pipeline import Action, AuditEntry, Role, Status, User
from copilot.services import pipeline_ops
from copilot.untrusted import plain

NOTICES = "actions"  # where this page shows the outcome of a decision made on one of its cards
WINDOWS: dict[str, float | None] = {
    "last hour": 3600.0,
    "this shift (8 h)": 8 * 3600.0,
    "last 24 h": 86400.0,
    "last 7 days": 7 * 86400.0,
    "all": None,
}
ANYONE = "anyone"
ANY_TAG = "any tag"
LISTED = 1000


@dataclass(frozen=True, kw_only=True)
class ActionFilter:
    """What a person asked to see; `since` is an epoch time or None for all time."""

    groups: frozenset[str]
    since: float | None = None
    tag: str | None = None
    person: str | None = None

    def keeps(self, action: Action) -> bool:
        return (
            widgets.GROUP_OF[action.status] in self.groups
            and (self.since is None or action.created_at >= self.since)
            and (self.tag is None or action.tag == self.tag)
            and (self.person is None or self.person in people_of(action))
        )


def people_of(action: Action) -> set[str]:
    """Everyone who had a hand in an action: who asked and who approved or rejected it."""
    return {action.requested_by, *(a.user for a in action.approvals)}


def render() -> None:
    who = session.signed_in()
    st.title("Actions and audit")
    ctx = services.context()
    run_safely("expiring old proposals", ctx.service.expire_due)
    session.show_notice(NOTICES)
    switch = run_safely("reading the write switch", ctx.service.writes_enabled)
    if switch is not None and not switch[0]:
        st.warning(
            f"Writes to the line are OFF: nothing is written, whatever is approved ({widgets.literal(switch[1])})."
        )
    actions = run_safely("reading the actions", ctx.service.list_actions, limit=LISTED)
    if actions is None:
        return
    _waiting(actions, who)
    _all_actions(actions, who)
    if who.role in (Role.SUPERVISOR, Role.ADMIN):
        audit_panel.render(who)
        people_panel.render(who)


def _waiting(actions: list[Action], who: User) -> None:
    pending = [a for a in actions if a.status is Status.PENDING]
    st.subheader(f"Waiting for a decision ({len(pending)})")
    if not pending:
        st.caption("Nothing waits for a decision.")
    for action in pending:
        proposal_card.render(action.id, who, key=f"waiting-{action.id}", notices=NOTICES)


def _filters(actions: list[Action]) -> ActionFilter:
    # Pills, not a drop-down: every status stays in view and each is a finger-sized target.
    groups = st.pills(
        "Status", list(widgets.STATUS_GROUPS), selection_mode="multi", default=list(widgets.STATUS_GROUPS)
    )
    first, second, third = st.columns(3)
    window = first.selectbox("Time", list(WINDOWS), index=2)
    # Tags asked for and people's names are shown through plain(): no bidi control reorders what a person reads.
    tag = second.selectbox("Tag", [ANY_TAG, *sorted({a.tag for a in actions})], format_func=plain)
    person = third.selectbox("Person", [ANYONE, *sorted({p for a in actions for p in people_of(a)})], format_func=plain)
    span = WINDOWS[window]
    return ActionFilter(
        groups=frozenset(groups),
        since=None if span is None else time.time() - span,
        tag=None if tag == ANY_TAG else tag,
        person=None if person == ANYONE else person,
    )


def _change(action: Action) -> str:
    old = "?" if action.old_value is None else f"{action.old_value:g}"
    return f"{old} → {action.new_value:g} {action.unit}".strip()


def _table(actions: Iterable[Action]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "when (UTC)": widgets.moment(a.created_at),
                "status": widgets.GROUP_OF[a.status],
                "tag": plain(a.tag),
                "change": plain(_change(a)),
                "requested by": plain(a.requested_by) + (" (co-pilot)" if a.via_agent else ""),
                "approved by": plain(", ".join(x.user for x in a.approvals if x.decision == "approve")),
                "result": plain(a.result or "; ".join(a.refusals)),
            }
            for a in actions
        ]
    )


def _all_actions(actions: list[Action], who: User) -> None:
    st.subheader("All actions")
    if not actions:
        st.caption("No action has been proposed yet.")
        return
    wanted = _filters(actions)
    shown = [a for a in actions if wanted.keeps(a)]
    st.caption(f"{len(shown)} of {len(actions)} actions")
    if not shown:
        st.info("No action matches these filters.")
        return
    st.dataframe(_table(shown), hide_index=True, width="stretch")
    labels = {
        f"{widgets.when(a.created_at)} · {plain(a.tag)} · {widgets.GROUP_OF[a.status]} · {a.id[:8]}": a for a in shown
    }
    chosen = st.selectbox("Open an action and its history", list(labels), key="open-action")
    if chosen is None:
        return
    action = labels[chosen]
    if action.status is Status.PENDING:
        st.caption("This action waits for a decision: its card is above, under “Waiting for a decision”.")
    else:
        proposal_card.render(action.id, who, key=f"open-{action.id}", decide=False)
    history = run_safely("reading the history", pipeline_ops.action_history, services.context(), action.id)
    if history is not None:
        st.markdown(f"**History** of {widgets.literal(action.tag)} ({len(history)} entries)")
        st.dataframe(history_table(history), hide_index=True, width="stretch")


def history_table(entries: list[AuditEntry]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "#": e.seq,
                "when (UTC)": widgets.moment(e.at),
                "event": e.event,
                "by": plain(e.actor),
                "old": e.old_value,
                "new": e.new_value,
                "details": plain("; ".join(f"{k}: {v}" for k, v in e.details.items())),
            }
            for e in entries
        ]
    )
