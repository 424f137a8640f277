"""For supervisors and admins: the audit chain's state, its CSV export, and the write kill switch with a reason."""

from __future__ import annotations

import streamlit as st

from console import services, session, widgets
from console.messages import run_safely, shown_errors
from copilot.pipeline import User
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
    _kill_switch(who)


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
