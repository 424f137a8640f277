"""The Handover page: the shift's handover drafted from evidence, signed out by one person and in by another."""

from __future__ import annotations

import streamlit as st

from console import services, session, widgets
from console.alarms_page import lasting_notice
from console.messages import OURS, run_safely
from copilot.pipeline import Handover, User, clock_time
from copilot.services import shift_ops

NOTICE = "handover"
SECTIONS = {"alarms": "Alarms", "actions": "Actions", "diagnoses": "Co-pilot diagnoses this shift"}


def render() -> None:
    who = session.signed_in()
    st.title("Handover")
    lasting_notice(NOTICE)
    drafted = run_safely("drafting the handover", shift_ops.handover_draft, services.context())
    if drafted is None:
        return
    state = "draft, not signed yet"
    if drafted.signed_out_by:
        state = f"signed out by {drafted.signed_out_by} at {clock_time(drafted.signed_out_at or 0, seconds=True)}"
    if drafted.signed_in_by:
        state += f", signed in by {drafted.signed_in_by} at {clock_time(drafted.signed_in_at or 0, seconds=True)}"
    st.caption(f"Shift {widgets.literal(drafted.shift)} · {widgets.literal(state)}")
    for section, title in SECTIONS.items():
        items = [i for i in drafted.items if i.section == section]
        st.subheader(f"{title} ({len(items)})")
        if not items:
            st.caption("None.")
        for item in items:
            st.markdown(
                f"- **{widgets.literal(item.kind)}**: {widgets.literal(item.text)} · _{widgets.literal(item.ref)}_"
            )
    figures(drafted)
    signatures(who, drafted)


def figures(drafted: Handover) -> None:
    now, before = drafted.figures.get("this_shift"), drafted.figures.get("previous_shift")
    if not now or not before:
        return
    st.subheader("Figures against the previous shift")
    names = {
        "oee": "OEE",
        "good": "good units",
        "rejected": "rejected",
        "kwh_per_1000_good": "kWh per 1,000 good",
        "alarms_per_hour": "alarms per hour",
    }
    for key, name in names.items():
        st.markdown(f"- {name}: {_fig(now.get(key))} (previous shift {_fig(before.get(key))})")


def _fig(value: object) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) else widgets.literal(value)


def signatures(who: User, drafted: Handover) -> None:
    if not who.role.may_acknowledge:
        st.info("Operators and supervisors sign the handover.")
        return
    side = ""
    if not drafted.signed_out_by:
        side = "outgoing"
    elif not drafted.signed_in_by and drafted.signed_out_by != who.name:
        side = "incoming"
    label = {"outgoing": "Sign out (outgoing)", "incoming": "Sign in (incoming)"}.get(side)
    if label and st.button(label, type="primary", key=f"handover-{side}"):
        sign(who, side, drafted.digest)


def sign(who: User, side: str, digest: str) -> None:
    try:
        shift_ops.handover_sign(services.context(), services.person(who.name), side=side, digest=digest)
        session.notify(NOTICE, ok=True, text=f"Handover signed {'out' if side == 'outgoing' else 'in'} by {who.name}.")
    except OURS as err:
        session.notify(NOTICE, ok=False, text=str(err))
    st.rerun()
