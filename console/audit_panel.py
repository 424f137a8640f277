"""For supervisors and admins: the audit chain's state, its CSV export, and the write kill switch with a reason."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from console import services, session, widgets
from console.messages import run_safely, shown_errors
from copilot.pipeline import AuditEntry, User, clock_time
from copilot.services import pipeline_ops
from copilot.untrusted import MAX_REASON

NOTICES = "kill-switch"


def render(who: User) -> None:
    st.subheader("Audit trail")
    ctx = services.context()
    report = run_safely("verifying the audit chain", pipeline_ops.verify_audit, ctx)
    if report is not None:
        if report.ok:
            st.success(f"✓ Audit chain verified: {report.entries} entries, none edited, dropped or moved.")
        else:
            st.error(
                f"✗ Audit chain broken at entry {report.broken_at}: {widgets.literal(report.problem)}.\n\n"
                "Entries from there on cannot be trusted. Keep the database as it is (make a copy) and tell the "
                "site's IT security: an entry was edited, dropped or moved outside the co-pilot."
            )
    csv = run_safely("exporting the audit trail", pipeline_ops.export_audit, ctx)
    if csv is not None:
        st.download_button("Export audit trail (CSV)", csv, file_name="audit.csv", mime="text/csv", on_click="ignore")
    _browse()
    _kill_switch(who)


SHOWN = 500


def _browse() -> None:
    """Every entry, filtered by event, person and any text in it, newest first, with its place in the chain."""
    # Read only when asked for: the page reruns on every click, and a race between consoles is decided in the
    # moments a rerun takes.
    if not st.toggle("Browse the audit trail", key="audit-browse"):
        return
    entries = run_safely("reading the audit trail", pipeline_ops.audit_entries, services.context())
    if not entries:
        return
    with st.container(border=True):
        events = sorted({e.event for e in entries})
        left, middle, right = st.columns(3)
        chosen = left.multiselect("Events", events, key="audit-events")
        person = middle.text_input("Person", key="audit-person").strip().lower()
        words = right.text_input("Search (tag, action, reason…)", key="audit-search").strip().lower()
        found = [
            e
            for e in entries
            if (not chosen or e.event in chosen)
            and (not person or person in e.actor.lower())
            and (not words or words in _searchable(e))
        ]
        st.caption(
            f"{len(found)} of {len(entries)} entries" + (f"; the newest {SHOWN} shown" if len(found) > SHOWN else "")
        )
        rows = [
            {
                "#": e.seq,
                "time": clock_time(e.at, seconds=True),
                "event": e.event,
                "by": e.actor,
                "action": e.action_id[:8],
                "tag": e.tag,
                "change": f"{e.old_value} → {e.new_value}" if e.new_value else "",
                "details": json.dumps(e.details, ensure_ascii=False, sort_keys=True),
                "hash": e.hash[:12],
                "follows": e.prev_hash[:12],
            }
            for e in reversed(found[-SHOWN:])
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.download_button(
            "Export these entries (CSV)",
            pipeline_ops.audit_csv(found),
            file_name="audit-filtered.csv",
            mime="text/csv",
            on_click="ignore",
        )


def _searchable(entry: AuditEntry) -> str:
    return " ".join(
        [entry.event, entry.actor, entry.action_id, entry.tag, json.dumps(entry.details, ensure_ascii=False)]
    ).lower()


def _kill_switch(who: User) -> None:
    st.subheader("Writes to the line")
    ctx = services.context()
    session.show_notice(NOTICES)
    state = run_safely("reading the write switch", ctx.service.writes_enabled)
    if state is None:
        return
    enabled, why = state
    if enabled:
        said = f" ({widgets.literal(why)})" if why else ""
        st.markdown(f"Writes are **ON**: approved changes are written to the line.{said}")
    else:
        st.markdown(f"Writes are **OFF**: nothing is written to the line. ({widgets.literal(why)})")
    with st.form("kill-switch"):
        reason = st.text_input("Reason (kept in the audit trail)", max_chars=MAX_REASON)
        label = "Switch writes OFF" if enabled else "Switch writes ON"
        if st.form_submit_button(label, type="primary"):
            if not reason.strip():
                st.error("Switching writes needs a reason: say why, for the audit trail.")
            else:
                with shown_errors("switching writes"):
                    ctx.service.set_writes(not enabled, by=who, reason=reason)
                    session.notify(NOTICES, ok=True, text=f"Writes switched {'OFF' if enabled else 'ON'}: {reason}")
                    st.rerun()
