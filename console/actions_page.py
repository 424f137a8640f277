"""Actions and audit for supervisors: every proposal by state with filters, its history, the chain, the switch."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from console import proposal_card, services, session
from copilot import pipeline_ops
from copilot.actions import Status
from copilot.users import Role, User

WINDOWS = {"last hour": 3600.0, "this shift (8 h)": 8 * 3600.0, "last 24 h": 86400.0, "all": None}
GROUPS = {
    "pending": [Status.PENDING],
    "approved": [Status.APPROVED, Status.WRITING],
    "executed": [Status.SUCCEEDED],
    "failed": [Status.FAILED, Status.UNVERIFIED],
    "refused": [Status.REFUSED],
    "rejected or expired": [Status.REJECTED, Status.EXPIRED],
}


def render() -> None:
    who = session.user()
    assert who is not None
    st.title("Actions and audit")
    ctx = services.context()
    ctx.service.expire_due()
    actions = services.run_safely("reading actions", ctx.service.list_actions, limit=1000) or []
    with st.form("filters"):
        columns = st.columns(4)
        groups = columns[0].multiselect("Status", list(GROUPS), default=list(GROUPS))
        window = columns[1].selectbox("Time", list(WINDOWS), index=2)
        tags = sorted({a.tag for a in actions})
        tag = columns[2].selectbox("Tag", ["any", *tags])
        person = columns[3].text_input("Person")
        st.form_submit_button("Filter")
    wanted = {s for g in groups for s in GROUPS[g]}
    span = WINDOWS[window]
    since = None if span is None else time.time() - span
    shown = [
        a
        for a in actions
        if a.status in wanted
        and (since is None or a.created_at >= since)
        and (tag == "any" or a.tag == tag)
        and (
            not person.strip()
            or person.strip().lower() in (a.requested_by + " " + " ".join(x.user for x in a.approvals)).lower()
        )
    ]
    st.caption(f"{len(shown)} of {len(actions)} actions")
    if shown:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "id": a.id[:8],
                        "when": proposal_card.when(a.created_at),
                        "status": a.status.value,
                        "tag": a.tag,
                        "change": f"{'?' if a.old_value is None else f'{a.old_value:g}'} → {a.new_value:g} {a.unit}",
                        "requested by": a.requested_by,
                        "approvals": ", ".join(x.user for x in a.approvals if x.decision == "approve"),
                    }
                    for a in shown
                ]
            ),
            hide_index=True,
        )
        labels = {f"{a.id[:8]} · {a.tag} · {a.status.value}": a.id for a in shown}
        chosen = st.selectbox("Open an action", list(labels))
        if chosen:
            action_id = labels[chosen]
            proposal_card.render(action_id, who, key=f"actions-{action_id}")
            history = services.run_safely("reading the history", pipeline_ops.action_history, ctx, action_id) or []
            st.markdown("**History**")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "#": e.seq,
                            "when": proposal_card.when(e.at),
                            "event": e.event,
                            "by": e.actor,
                            "old": e.old_value,
                            "new": e.new_value,
                        }
                        for e in history
                    ]
                ),
                hide_index=True,
            )
    if who.role in (Role.SUPERVISOR, Role.ADMIN):
        _audit_and_switch(who)


def _audit_and_switch(who: User) -> None:
    ctx = services.context()
    st.subheader("Audit trail")
    report = services.run_safely("verifying the audit chain", pipeline_ops.verify_audit, ctx)
    if report is not None:
        if report.ok:
            st.success(f"✓ Audit chain verified: {report.entries} entries, none edited, dropped or moved.")
        else:
            st.error(f"✗ Audit chain broken at entry {report.broken_at}: {report.problem}")
    csv = services.run_safely("exporting the audit trail", pipeline_ops.export_audit, ctx)
    if csv is not None:
        st.download_button("Export audit trail (CSV)", csv, file_name="audit.csv", mime="text/csv")
    st.subheader("Writes to the line")
    enabled, state = ctx.service.writes_enabled()
    st.markdown(
        ("Writes are **ON**" if enabled else "Writes are **OFF**: nothing is written to the line")
        + (f" ({state})" if state else "")
    )
    with st.form("kill-switch"):
        reason = st.text_input("Reason")
        label = "Switch writes OFF" if enabled else "Switch writes ON"
        if st.form_submit_button(label, type="primary"):
            if not reason.strip():
                st.error("Switching writes needs a reason.")
            else:
                with services.shown_errors("switching writes"):
                    ctx.service.set_writes(not enabled, by=who, reason=reason)
                    st.rerun()
