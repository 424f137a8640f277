"""A proposal as a card: tag, current and proposed value, envelope, reasons, evidence, and who may decide now."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import streamlit as st

from connectors.line import Tag
from connectors.readings import Reading
from console import services, session, widgets
from console.messages import OURS, run_safely
from copilot import pipeline_ops
from copilot.actions import Action, Status
from copilot.line_ops import format_value
from copilot.pipeline_ops import Context
from copilot.untrusted import MAX_REASON
from copilot.users import Role, User

ARTICLE = {Role.OPERATOR: "An", Role.ADMIN: "An", Role.MAINTENANCE: "A", Role.SUPERVISOR: "A"}


def approvals_text(action: Action) -> str:
    """`2 approvals needed, one of them a supervisor's; given: otto (operator)`."""
    given = [a for a in action.approvals if a.decision == "approve"]
    names = ", ".join(f"{a.user} ({a.role})" for a in given) or "none yet"
    needed = f"{action.approvals_needed} approval{'s' if action.approvals_needed > 1 else ''}"
    rule = f"{needed} needed, one of them a supervisor's" if action.supervisor_needed else f"{needed} needed"
    return f"{rule}; given: {names}"


def may_decide(who: User, action: Action) -> tuple[bool, str]:
    """Whether `who` may approve or reject it now and, if not, why (shown instead of the buttons).

    The action pipeline checks all of this again on the click; this only spares people a button that must fail.
    """
    if action.status is not Status.PENDING:
        return False, ""
    if who.name == action.requested_by:
        return False, "You asked for this change: someone else must approve it."
    if not who.role.may_approve:
        return False, f"{ARTICLE[who.role]} {who.role.value} cannot approve changes; an operator or a supervisor can."
    if any(a.user == who.name for a in action.approvals):
        return False, "You have approved it already; it waits for another person."
    given = [a for a in action.approvals if a.decision == "approve"]
    last = len(given) == action.approvals_needed - 1
    supervised = any(a.role == Role.SUPERVISOR.value for a in given)
    if action.supervisor_needed and who.role is not Role.SUPERVISOR and last and not supervised:
        return False, "The last approval of this change must be a supervisor's."
    return True, ""


def outcome_text(action: Action) -> tuple[bool, str]:
    """(good news?, what happened) after an approval, in the words of the person who clicked."""
    if action.status is Status.SUCCEEDED:
        back = "" if action.read_back is None else f": read back {action.read_back:g} {action.unit}"
        return True, f"Approved and written to the line{back}."
    if action.status is Status.PENDING:
        return True, "Your approval is recorded; the change waits for the next approval."
    if action.status in (Status.FAILED, Status.UNVERIFIED):
        return False, f"Approved, but {widgets.STATUS_MARK[action.status]}: {action.result or 'no reason given'}"
    return True, f"Approved: {widgets.STATUS_MARK.get(action.status, action.status.value)}."


def _envelope(tag: Tag | None, unit: str) -> str:
    if tag is None or tag.setpoint is None:
        return ""
    if not tag.writable:
        return "not writable by the co-pilot: the line definition keeps this setpoint for people at the panel"
    sp = tag.setpoint
    return f"allowed {sp.envelope.low:g} to {sp.envelope.high:g} {unit}, at most ±{sp.max_step:g} per change"


def _live(tag: Tag | None) -> Reading | None:
    if tag is None:
        return None
    # The sidebar already says when the line is down; a card without its live value is still a valid card.
    with suppress(*OURS):
        return services.live_line().cache.readings([tag.name]).get(tag.name)
    return None


def _evidence_line(item: Any) -> str:
    if isinstance(item, dict):
        return "; ".join(f"{k}: {v}" for k, v in item.items())
    return str(item)


def render(action_id: str, who: User, *, key: str, decide: bool = True, notices: str | None = None) -> None:
    """The card of one action; with `decide` False it never offers buttons (another card on the page does).

    The outcome of a click shows on the card itself after the rerun, or where the page shows `notices` when the
    card may not be on the page any more (a decided action leaves the list of pending ones).
    """
    ctx = services.context()
    action = run_safely("reading the proposal", ctx.service.get, action_id)
    if action is None:
        return
    tag = ctx.line.tag(action.tag) if action.tag in {t.name for t in ctx.line.tags} else None
    with st.container(border=True):
        session.show_notice(action.id)
        # The tag may be one nobody has (a refused proposal quotes what was asked for), the reason and the names
        # were typed by people or the agent: all of it goes through widgets' helpers, shown exactly as written.
        st.markdown(
            f"**Proposed change:** {widgets.literal(action.tag)} · "
            f"{widgets.STATUS_MARK.get(action.status, action.status.value)}"
        )
        current = "unknown" if action.old_value is None else f"{action.old_value:g}"
        unit, envelope = widgets.html_text(action.unit), widgets.html_text(_envelope(tag, action.unit))
        st.markdown(
            f'<div class="change">{widgets.html_text(current)} → <b>{action.new_value:g}</b> {unit}'
            f"<br><small>{envelope}</small></div>",
            unsafe_allow_html=True,
        )
        reading = _live(tag) if not action.status.final else None
        if reading is not None:
            live = f"{format_value(reading)} {action.unit}".strip()
            quality = widgets.QUALITY_WORD[reading.quality]
            st.caption(f"Live value now: {widgets.literal(live)} ({quality}, {widgets.clock(reading.source_time)})")
        via = " through the co-pilot" if action.via_agent else ""
        by = widgets.literal(action.requested_by)
        st.caption(f"Requested by {by}{via} at {widgets.when(action.created_at)} · id {action.id[:8]}")
        st.markdown(f"**Reason:** {widgets.literal(action.reason)}")
        if action.refusals:
            st.error("Refused by the rules:\n" + "\n".join(f"- {widgets.literal(r)}" for r in action.refusals))
        if action.evidence:
            with st.expander(f"Evidence ({len(action.evidence)})"):
                st.markdown("\n".join(f"- {widgets.literal(_evidence_line(item))}" for item in action.evidence))
        st.markdown(widgets.literal(approvals_text(action)))
        _timing(action)
        if action.result:
            st.caption(f"Result: {widgets.literal(action.result)}")
        for decision in (a for a in action.approvals if a.decision == "reject"):
            who_ = widgets.literal(f"{decision.user} ({decision.role})")
            st.caption(f"Rejected by {who_}: {widgets.literal(decision.reason)}")
        if decide:
            _decisions(action, who, key=key, notices=notices or action.id)


def _timing(action: Action) -> None:
    if action.status is not Status.PENDING:
        return
    left = action.expires_at - time.time()
    st.caption(f"Expires at {widgets.when(action.expires_at)} (in {widgets.duration_text(left)}) unless decided.")
    for approval in (a for a in action.approvals if a.decision == "approve"):
        st.caption(f"{widgets.literal(approval.user)}'s approval holds until {widgets.when(approval.expires_at)}.")


def _decisions(action: Action, who: User, *, key: str, notices: str) -> None:
    allowed, why = may_decide(who, action)
    if not allowed:
        if why:
            st.info(why)
        if action.status is Status.PENDING and who.name == action.requested_by:
            _reject(action, who, key=key, notices=notices, label="Withdraw", doing="withdrawing the proposal")
        return
    ctx = services.context()
    enabled, state = ctx.service.writes_enabled()
    given = [a for a in action.approvals if a.decision == "approve"]
    completes = len(given) + 1 >= action.approvals_needed
    left, right = st.columns(2)
    if completes and not enabled:
        # The last approval executes at once, and the executor refuses everything while writes are off:
        # approving now would only record a failed write.
        left.warning(
            f"Writes to the line are switched off ({widgets.literal(state)}). "
            "Approve once a supervisor switches them on."
        )
    elif left.button("Approve", key=f"approve-{key}", type="primary", width="stretch"):
        with st.spinner("Approving; the last approval writes to the line and reads it back…"):
            done = run_safely("approving", pipeline_ops.approve, ctx, who, action.id)
        if done is not None:
            good, text = outcome_text(done)
            session.notify(notices, ok=good, text=f"{action.tag}: {text}")
            st.rerun()
    with right:
        _reject(action, who, key=key, notices=notices, label="Reject", doing="rejecting")


def _reject(action: Action, who: User, *, key: str, notices: str, label: str, doing: str) -> None:
    ctx = services.context()
    slug = label.lower()
    # The pipeline refuses longer reasons; the field stops there, so nobody types past the limit.
    reason = st.text_input(f"Reason to {slug}", key=f"{slug}-reason-{key}", max_chars=MAX_REASON)
    if st.button(label, key=f"{slug}-{key}", width="stretch"):
        if not reason.strip():
            st.error(f"Say why first: a {'withdrawal' if label == 'Withdraw' else 'rejection'} needs a reason.")
        elif (
            run_safely(
                doing, ctx.service.withdraw if label == "Withdraw" else ctx.service.reject, action.id, who, reason
            )
            is not None
        ):
            done = "Withdrawn" if label == "Withdraw" else "Rejected"
            session.notify(notices, ok=True, text=f"{action.tag}: {done}: {reason}")
            st.rerun()


def _decision(ctx: Context, label: str) -> Callable[[str, User, str], Action]:
    """The requester withdraws their own proposal; anyone else with the right rejects it."""
    return ctx.service.withdraw if label == "Withdraw" else ctx.service.reject
