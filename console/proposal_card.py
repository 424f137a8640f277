"""A proposal as a card: tag, current and proposed value, envelope, reasons, evidence, and who may decide now."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import streamlit as st

from connectors import Reading, Tag
from console import services, session, widgets
from console.messages import OURS, advice, run_safely
from copilot.pipeline import Action, Refusal, Role, Status, User, approval_refusal, clock_time
from copilot.services import pipeline_ops
from copilot.services.line_ops import format_value
from copilot.services.pipeline_ops import Context
from copilot.untrusted import MAX_REASON

REFUSAL_TEXT = {
    Refusal.OWN: "You asked for this change: someone else must approve it.",
    Refusal.ROLE: "{article} {role} cannot approve changes; an operator or a supervisor can.",
    Refusal.TWICE: "You have approved it already; it waits for another person.",
    Refusal.SUPERVISOR: "The last approval of this change must be a supervisor's.",
}
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
    refusal = approval_refusal(
        who=who.name,
        role=who.role,
        requested_by=action.requested_by,
        supervisor_needed=action.supervisor_needed,
        decided=[a.user for a in action.approvals],
        given_roles=[a.role for a in action.approvals if a.decision == "approve"],
    )
    if refusal is None:
        return True, ""
    return False, REFUSAL_TEXT[refusal].format(article=ARTICLE[who.role], role=who.role.value)


def outcome_text(action: Action) -> tuple[bool, str]:
    """(good news?, what happened) after an approval, in the words of the person who clicked."""
    if action.status is Status.SUCCEEDED:
        back = "" if action.read_back is None else f": read back {action.read_back:g} {action.unit}"
        return True, f"Approved and written to the line{back}."
    if action.status is Status.PENDING:
        return True, "Your approval is recorded; the change waits for the next approval."
    if action.status in (Status.FAILED, Status.UNVERIFIED):
        return False, f"Approved, but {widgets.STATUS_MARK[action.status]}: {action.result or 'no reason given'}"
    if action.status in (Status.REJECTED, Status.WITHDRAWN):
        # Approved in time, then overruled before the executor took it (a veto, the requester's withdrawal): the
        # person who clicked must learn it was decided against, and by whom, not read "Approved".
        veto = next((a for a in reversed(action.approvals) if a.decision in ("reject", "withdraw")), None)
        by = f" by {veto.user} at {clock_time(veto.at, seconds=True)}" if veto is not None else ""
        why = f" ({veto.reason})" if veto is not None and veto.reason else ""
        return False, (
            f"Your approval was recorded, but the change was already decided: {action.status.value}{by} before it "
            f"was written{why}. Nothing was written."
        )
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
        said = f": “{widgets.literal(approval.reason)}”" if approval.reason else ""
        st.caption(
            f"{widgets.literal(approval.user)}'s approval holds until {widgets.when(approval.expires_at)}{said}."
        )


def _decisions(action: Action, who: User, *, key: str, notices: str) -> None:
    allowed, why = may_decide(who, action)
    if not allowed:
        if why:
            st.info(why)
        if action.status is Status.PENDING and who.name == action.requested_by:
            _reject(action, key=key, notices=notices, label="Withdraw")
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
    else:
        # The decision runs in the click's callback, before the page is drawn again: a click on a card that another
        # console decided meanwhile still reaches the pipeline, whose answer names who decided first. Drawn from
        # the database again, the card would be gone and the click dropped without a word.
        left.text_input("Comment (optional)", key=f"approve-comment-{key}", max_chars=300)
        left.button(
            "Approve",
            key=f"approve-{key}",
            type="primary",
            width="stretch",
            on_click=_approve_clicked,
            args=(action.id, action.tag, notices, f"approve-comment-{key}"),
        )
    with right:
        _reject(action, key=key, notices=notices, label="Reject")


def _reject(action: Action, *, key: str, notices: str, label: str) -> None:
    slug = label.lower()
    field = f"{slug}-reason-{key}"
    # The pipeline refuses longer reasons; the field stops there, so nobody types past the limit.
    reason = st.text_input(f"Reason to {slug}", key=field, max_chars=MAX_REASON)
    clicked = st.button(
        label,
        key=f"{slug}-{key}",
        width="stretch",
        on_click=_close_clicked,
        args=(action.id, action.tag, label, field, notices),
    )
    if clicked and not reason.strip():
        st.error(f"Say why first: a {'withdrawal' if label == 'Withdraw' else 'rejection'} needs a reason.")


def _approve_clicked(action_id: str, tag: str, notices: str, field: str) -> None:
    comment = str(st.session_state.get(field) or "")
    with st.spinner("Approving; the last approval writes to the line and reads it back…"):
        done = _as_person("approving", notices, lambda ctx, who: pipeline_ops.approve(ctx, who, action_id, comment))
    if done is not None:
        good, text = outcome_text(done)
        session.notify(notices, ok=good, text=f"{tag}: {text}")


def _close_clicked(action_id: str, tag: str, label: str, field: str, notices: str) -> None:
    reason = str(st.session_state.get(field) or "")
    if not reason.strip():
        return  # the card says so where the reason goes
    withdraw = label == "Withdraw"
    decide = pipeline_ops.withdraw if withdraw else pipeline_ops.reject
    doing = "withdrawing the proposal" if withdraw else "rejecting"
    if _as_person(doing, notices, lambda ctx, who: decide(ctx, who, action_id, reason)) is not None:
        session.notify(notices, ok=True, text=f"{tag}: {'Withdrawn' if withdraw else 'Rejected'}: {reason}")


def _as_person(doing: str, notices: str, decide: Callable[[Context, User], Action]) -> Action | None:
    """`decide` as the signed-in person as the database knows them now; our errors become the click's notice."""
    try:
        who = services.person(session.signed_in().name)
        return decide(services.context(), who)
    except OURS as err:
        hint = advice(err)
        session.notify(notices, ok=False, text=f"Could not finish {doing}: {err}" + (f"\n\n{hint}" if hint else ""))
        return None
