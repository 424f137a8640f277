"""A proposal as a card: tag, current and proposed value, envelope, reasons and evidence, and who may decide."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import streamlit as st

from console import services
from copilot import pipeline_ops
from copilot.actions import Action, Status
from copilot.users import Role, User

STATUS_MARK = {
    Status.PENDING: "waiting for approval",
    Status.APPROVED: "✓ approved, being executed",
    Status.WRITING: "✎ writing",
    Status.SUCCEEDED: "✓ written and read back",
    Status.FAILED: "✗ failed",
    Status.UNVERIFIED: "? written, not confirmed",
    Status.REFUSED: "refused by the rules",
    Status.REJECTED: "✗ rejected",
    Status.EXPIRED: "expired",
}


def approvals_text(action: Action) -> str:
    given = [a for a in action.approvals if a.decision == "approve"]
    names = ", ".join(f"{a.user} ({a.role})" for a in given) or "none yet"
    needed = f"{action.approvals_needed} approval{'s' if action.approvals_needed > 1 else ''}"
    rule = f"{needed} needed, one of them a supervisor's" if action.supervisor_needed else f"{needed} needed"
    return f"{rule}; given: {names}"


def may_decide(who: User, action: Action) -> tuple[bool, str]:
    """Whether `who` may approve or reject it now, and if not, why (shown instead of the buttons)."""
    if action.status is not Status.PENDING:
        return False, ""
    if not who.role.may_approve:
        return False, f"A {who.role.value} cannot approve changes."
    if who.name == action.requested_by:
        return False, "You asked for this change: someone else must approve it."
    if any(a.user == who.name for a in action.approvals):
        return False, "You have approved it already; it waits for another person."
    given = [a for a in action.approvals if a.decision == "approve"]
    last = len(given) == action.approvals_needed - 1
    supervised = any(a.role == Role.SUPERVISOR.value for a in given)
    if action.supervisor_needed and who.role is not Role.SUPERVISOR and last and not supervised:
        return False, "The last approval of this change must be a supervisor's."
    return True, ""


def render(action_id: str, who: User, *, key: str) -> None:
    ctx = services.context()
    action = services.run_safely("reading the proposal", ctx.service.get, action_id)
    if action is None:
        return
    tag = ctx.line.tag(action.tag) if action.tag in {t.name for t in ctx.line.tags} else None
    with st.container(border=True):
        st.markdown(f"**Proposed change: {action.tag}** · {STATUS_MARK.get(action.status, action.status.value)}")
        current = "unknown" if action.old_value is None else f"{action.old_value:g}"
        envelope = (
            f" · allowed {tag.setpoint.envelope.low:g} to {tag.setpoint.envelope.high:g} {action.unit}"
            if tag is not None and tag.setpoint is not None
            else ""
        )
        st.markdown(
            f'<div class="change">{html.escape(current)} → <b>{action.new_value:g}</b> {html.escape(action.unit)}'
            f"<small>{html.escape(envelope)}</small></div>",
            unsafe_allow_html=True,
        )
        st.caption(f"Requested by {action.requested_by}" + (" through the co-pilot" if action.via_agent else ""))
        st.write(f"Reason: {action.reason}")
        if action.refusals:
            st.error("Refused: " + "; ".join(action.refusals))
        if action.evidence:
            with st.expander("Evidence"):
                for item in action.evidence:
                    st.write(f"- {item}")
        st.write(approvals_text(action))
        if action.result:
            st.caption(f"Result: {action.result}")
        allowed, why = may_decide(who, action)
        if not allowed:
            if why:
                st.info(why)
            return
        left, right = st.columns(2)
        if left.button("Approve", key=f"approve-{key}", type="primary"):
            with st.spinner("Approving; the last approval writes to the line..."):
                done = services.run_safely("approving", pipeline_ops.approve, ctx, who, action.id)
            if done is not None:
                st.success(f"Approved: {STATUS_MARK.get(done.status, done.status.value)}")
                st.rerun()
        reason = right.text_input("Reason to reject", key=f"reject-reason-{key}")
        if right.button("Reject", key=f"reject-{key}"):
            if not reason.strip():
                right.error("A rejection needs a reason.")
            elif services.run_safely("rejecting", ctx.service.reject, action.id, who, reason) is not None:
                st.rerun()


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
