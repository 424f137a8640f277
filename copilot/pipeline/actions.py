"""Proposals and approvals: record every proposal (refused ones with every reason), apply the approval rules."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.line import LineDefinition
from copilot import untrusted
from copilot.errors import ActionNotFound, ApprovalError, DecisionConflict, NotAllowed
from copilot.pipeline import audit, policy
from copilot.pipeline.approval import Refusal, approval_refusal
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import ActionRow, ApprovalRow, AuditRow, Database, SwitchRow
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.shifts import shift_start
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import User

Clock = Callable[[], float]
KILL_SWITCH = "writes"


# The states in which a person may still decide; every decision moves an action out of them exactly once.
OPEN = (Status.PENDING, Status.APPROVED)
# How long an identical refused proposal is folded into the first one instead of listed again.
REPEAT_WINDOW_S = 600.0


@dataclass(frozen=True, kw_only=True)
class ApprovalView:
    user: str
    role: str
    decision: str
    reason: str
    at: float
    expires_at: float
    used: bool


@dataclass(frozen=True, kw_only=True)
class Action:
    """A proposal and its state, as people and the console see it."""

    id: str
    tag: str
    old_value: float | None
    new_value: float
    unit: str
    reason: str
    evidence: list[Any]
    requested_by: str
    via_agent: bool
    status: Status
    requested: str  # the value exactly as asked for (a refused "nan" stays "nan")
    repeats: int  # identical refused proposals folded into this one
    refusals: list[str]
    approvals_needed: int
    supervisor_needed: bool
    approvals: list[ApprovalView]
    created_at: float
    expires_at: float
    read_back: float | None
    result: str

    @property
    def target_text(self) -> str:
        """The new value for people: what was asked when it could not be stored as a number."""
        if self.requested and self.status is Status.REFUSED and not _stored_as_asked(self.requested, self.new_value):
            return self.requested
        return f"{self.new_value:g}"

    def as_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "approvals"}
        data["status"] = self.status.value
        data["approvals"] = [a.__dict__ for a in self.approvals]
        return data


@dataclass(frozen=True, kw_only=True)
class Rules:
    """Timing rules; the numeric limits live in the line definition."""

    approval_ttl_s: float = 300.0  # an approval is good for five minutes
    proposal_ttl_s: float = 900.0  # a proposal nobody approved in 15 minutes no longer matches the line


def _stored_as_asked(requested: str, stored: float) -> bool:
    try:
        asked = float(requested)
    except ValueError:
        return False
    return math.isfinite(asked) and asked == stored


def action_view(session: Session, row: ActionRow) -> Action:
    approvals = session.execute(
        select(ApprovalRow).where(ApprovalRow.action_id == row.id).order_by(ApprovalRow.id)
    ).scalars()
    return Action(
        id=row.id,
        tag=row.tag,
        old_value=row.old_value,
        new_value=row.new_value,
        unit=row.unit,
        reason=row.reason,
        evidence=json.loads(row.evidence or "[]"),
        requested_by=row.requested_by,
        via_agent=row.via_agent,
        status=Status(row.status),
        requested=row.requested or "",
        repeats=row.repeats or 0,
        refusals=json.loads(row.refusals or "[]"),
        approvals_needed=row.approvals_needed,
        supervisor_needed=row.supervisor_needed,
        approvals=[
            ApprovalView(
                user=a.user,
                role=a.role,
                decision=a.decision,
                reason=a.reason,
                at=a.created_at,
                expires_at=a.expires_at,
                used=a.used,
            )
            for a in approvals
        ],
        created_at=row.created_at,
        expires_at=row.expires_at,
        read_back=row.read_back,
        result=row.result,
    )


def record(
    session: Session, event: AuditEvent, row: ActionRow, *, actor: str, at: float, details: dict[str, Any] | None = None
) -> None:
    """An audit entry about one action, carrying its tag and its old and new values."""
    audit.append(
        session,
        event,
        actor=actor,
        at=at,
        action_id=row.id,
        tag=row.tag,
        old_value=row.old_value,
        new_value=row.new_value,
        details=details,
    )


def recent_changes(session: Session, tag: str, now: float, window_s: float = 3600.0) -> int:
    """Writes (done or under way) to `tag` in the last hour, for the per-tag rate limit."""
    rows = session.execute(
        select(ActionRow.id).where(
            ActionRow.tag == tag,
            ActionRow.status.in_([Status.WRITING.value, Status.SUCCEEDED.value, Status.UNVERIFIED.value]),
            # By when the write started, not when it was proposed: stacked proposals must not dodge the limit.
            ActionRow.write_started_at >= now - window_s,
        )
    ).all()
    return len(rows)


def shift_start_value(session: Session, line: LineDefinition, tag: str, now: float) -> float | None:
    """The setpoint's value when this shift began: the old value of its first write this shift, if it had one."""
    # First by the audit's sequence, not by the clock: a clock that steps back (NTP, a wrong time set by hand) would
    # make a later write look first and restart the shift's allowance from where it had got to.
    first = session.execute(
        select(ActionRow.old_value)
        .join(AuditRow, (AuditRow.action_id == ActionRow.id) & (AuditRow.event == AuditEvent.EXECUTING.value))
        .where(
            ActionRow.tag == tag,
            ActionRow.status.in_([Status.WRITING.value, Status.SUCCEEDED.value, Status.UNVERIFIED.value]),
            ActionRow.write_started_at >= shift_start(line.line, now),
        )
        .order_by(AuditRow.seq)
        .limit(1)
    ).scalar()
    return None if first is None else float(first)


def _clock_text(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().strftime("%H:%M:%S %Z").strip()


def decided_by(session: Session, row: ActionRow) -> str:
    """Who moved the action out of the open states, and when: the loser of a race is told this."""
    last = session.execute(
        select(AuditRow)
        .where(AuditRow.action_id == row.id, AuditRow.event.in_(list(_DECISIVE)))
        .order_by(AuditRow.seq.desc())
        .limit(1)
    ).scalar()
    if last is None:
        return f"action {row.id[:8]} is {row.status}"
    said = f"action {row.id[:8]} was already decided: {last.event} by {last.actor} at {_clock_text(last.at)}"
    if row.status in (Status.WRITING.value, Status.SUCCEEDED.value, Status.FAILED.value, Status.UNVERIFIED.value):
        return f"{said}; the action is now {row.status}"
    return said


# People's decisions (and the expiry) that close an action, newest first wins in decided_by(). Not the executor
# taking it: a loser told "executing by executor" would not learn whose approval sent it there.
_DECISIVE = {
    AuditEvent.APPROVED.value,
    AuditEvent.REJECTED.value,
    AuditEvent.WITHDRAWN.value,
    AuditEvent.EXPIRED.value,
}


def move(session: Session, row: ActionRow, allowed: Iterable[Status], to: Status, **values: Any) -> None:
    """Compare-and-set: `row` goes to `to` only if it is still in one of `allowed` in the database.

    Write sessions already hold the database's write lock, so the check cannot be overtaken; the condition
    in the UPDATE keeps it true even for code that forgets that (and shows intent where the state moves).
    """
    states = [s.value for s in allowed]
    result = session.execute(
        update(ActionRow)
        .where(ActionRow.id == row.id, ActionRow.status.in_(states))
        .values(status=to.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        raise DecisionConflict(decided_by(session, row))
    session.refresh(row)


class ActionService:
    """Everything about actions except the write itself (that is the executor's alone).

    Every decision (approve, reject, withdraw, expire) reads and changes the action in one write transaction:
    exactly one of two people deciding at once wins, and the other is told who decided and when.
    """

    def __init__(
        self,
        db: Database,
        line: LineDefinition | Callable[[], LineDefinition],
        *,
        clock: Clock = time.time,
        rules: Rules | None = None,
    ):
        self.db = db
        self._line = line
        self.clock = clock
        self.rules = rules or Rules()

    @property
    def line(self) -> LineDefinition:
        # A loader is called on the first proposal: listing and deciding never need the line definition, and
        # `actions list` should not wait for it to load.
        if callable(self._line):
            self._line = self._line()
        return self._line

    def propose(
        self,
        tag: str,
        value: object,
        *,
        requester: User,
        reason: str,
        snapshot: LineSnapshot,
        evidence: list[Any] | None = None,
        via_agent: bool = False,
        requested: str | None = None,
    ) -> Action:
        """Record a proposal; policy decides at once whether it may wait for approval or is refused.

        `requested` is the value as the person typed it, kept for display when it is not a storable number.
        """
        if not requester.role.may_request:
            raise NotAllowed(f"{requester.name} ({requester.role.value}) may not request changes")
        reason = _reason_text(reason, "reason for the proposal")
        asked = untrusted.one_line(requested if requested is not None else _as_typed(value), 64)
        tag = untrusted.one_line(tag, 128)
        now = self.clock()
        with self.db.session() as s:
            decision = policy.check(
                self.line,
                tag,
                value,
                snapshot,
                recent_changes=recent_changes(s, tag, now),
                shift_start_value=shift_start_value(s, self.line, tag, now),
            )
            reasons = list(decision.reasons)
            number = policy.as_number(value)
            stored = number if math.isfinite(number) else 0.0  # not storable everywhere; refused anyway
            repeat = self._repeat_of(s, tag, asked, requester.name, reasons, now) if reasons else None
            if repeat is not None:
                repeat.repeats = (repeat.repeats or 0) + 1
                row = repeat
            else:
                big = False
                if decision.tag is not None and decision.tag.setpoint is not None and decision.current is not None:
                    big = abs(number - decision.current) > decision.tag.setpoint.approval_threshold + 1e-9
                row = ActionRow(
                    id=str(uuid.uuid4()),
                    tag=tag,
                    old_value=decision.current,
                    new_value=stored,
                    unit=decision.tag.unit if decision.tag else "",
                    reason=reason,
                    evidence=json.dumps(evidence or [], default=str),
                    requested_by=requester.name,
                    via_agent=via_agent,
                    status=(Status.REFUSED if reasons else Status.PENDING).value,
                    requested=asked,
                    repeats=0,
                    refusals=json.dumps(reasons),
                    approvals_needed=2 if big else 1,
                    supervisor_needed=big,
                    created_at=now,
                    expires_at=now + self.rules.proposal_ttl_s,
                )
                s.add(row)
            s.flush()
            # Every attempt is audited, a folded repeat too: the list stays short, the trail stays complete.
            details: dict[str, Any] = {"reason": reason, "via_agent": via_agent, "requested_value": asked}
            if reasons:
                details["refusals"] = reasons
            if repeat is not None:
                details["repeat"] = True
            audit.append(
                s,
                AuditEvent.REFUSED if reasons else AuditEvent.PROPOSED,
                actor=requester.name,
                at=now,
                action_id=row.id,
                tag=tag,
                old_value=decision.current,
                new_value=row.new_value,
                details=details,
            )
            return action_view(s, row)

    @staticmethod
    def _repeat_of(
        session: Session, tag: str, asked: str, requester: str, reasons: list[str], now: float
    ) -> ActionRow | None:
        """The same person's identical refused proposal of the last minutes, if any."""
        candidates = session.execute(
            select(ActionRow)
            .where(
                ActionRow.tag == tag,
                ActionRow.requested_by == requester,
                ActionRow.status == Status.REFUSED.value,
                ActionRow.requested == asked,
                ActionRow.created_at >= now - REPEAT_WINDOW_S,
            )
            .order_by(ActionRow.created_at.desc())
        ).scalars()
        for row in candidates:
            if json.loads(row.refusals or "[]") == reasons:
                return row
        return None

    def approve(self, action_id: str, approver: User, comment: str = "") -> Action:
        """An approval, with an optional comment kept beside it and in the audit ("checked at the HMI")."""
        if not approver.role.may_approve:
            raise NotAllowed(f"{approver.name} ({approver.role.value}) may not approve changes")
        comment = _reason_text(comment, "comment") if comment.strip() else ""
        now = self.clock()
        with self.db.session() as s:
            row = self.row(s, action_id)
            if not self._lapse(s, row, now):
                return self._approve(s, row, approver, now, comment)
        # Outside the transaction, so that the expiry it recorded is kept.
        raise DecisionConflict(f"action {row.id[:8]} has expired; propose it again against the live value")

    def _approve(self, s: Session, row: ActionRow, approver: User, now: float, comment: str = "") -> Action:
        mine = self._decision_of(s, row.id, approver.name)
        given = [a for a in self._approvals(s, row.id) if a.decision == "approve" and a.expires_at > now and not a.used]
        refusal = approval_refusal(
            who=approver.name,
            role=approver.role,
            requested_by=row.requested_by,
            supervisor_needed=row.supervisor_needed,
            decided=[] if mine is None else [mine.user],
            given_roles=[a.role for a in given],
        )
        if refusal is Refusal.OWN:
            raise ApprovalError("nobody approves their own proposal (the agent's proposals belong to who asked)")
        if refusal is Refusal.ROLE:
            raise NotAllowed(f"{approver.name} ({approver.role.value}) may not approve changes")
        if mine is not None:
            raise DecisionConflict(
                f"{approver.name} already decided on action {row.id[:8]} ({mine.decision}, "
                f"{_clock_text(mine.created_at)}); an approval counts once per person"
            )
        if row.status != Status.PENDING.value:
            raise DecisionConflict(decided_by(s, row))
        if refusal is Refusal.SUPERVISOR:
            raise ApprovalError(
                "this change is above the approval threshold: the second approval must be a supervisor's"
            )
        s.add(
            ApprovalRow(
                action_id=row.id,
                user=approver.name,
                role=approver.role.value,
                decision="approve",
                reason=comment,
                tag=row.tag,
                old_value=row.old_value,
                new_value=row.new_value,
                created_at=now,
                expires_at=now + self.rules.approval_ttl_s,
            )
        )
        s.flush()
        count = len(given) + 1
        if count >= row.approvals_needed:
            move(s, row, [Status.PENDING], Status.APPROVED)
        record(
            s,
            AuditEvent.APPROVED,
            row,
            actor=approver.name,
            at=now,
            details={
                "role": approver.role.value,
                "approvals": f"{count}/{row.approvals_needed}",
                **({"comment": comment} if comment else {}),
            },
        )
        return action_view(s, row)

    def reject(self, action_id: str, user: User, reason: str) -> Action:
        """A veto by someone who may approve; the requester's own "reject" is a withdrawal."""
        reason = _reason_text(reason, "reason for the rejection")
        now = self.clock()
        with self.db.session() as s:
            row = self.row(s, action_id)
            if user.name == row.requested_by:
                decision, status, event = "withdraw", Status.WITHDRAWN, AuditEvent.WITHDRAWN
            elif user.role.may_approve:
                decision, status, event = "reject", Status.REJECTED, AuditEvent.REJECTED
            else:
                raise NotAllowed(f"{user.name} ({user.role.value}) may not reject changes")
            if not self._lapse(s, row, now):
                self._close(s, row, user, decision, reason, now, status, event)
                return action_view(s, row)
        raise DecisionConflict(f"action {row.id[:8]} had expired; there is nothing left to {decision}")

    def withdraw(self, action_id: str, user: User, reason: str) -> Action:
        """The requester takes their proposal back, as long as the executor has not taken it."""
        reason = _reason_text(reason, "reason for the withdrawal")
        now = self.clock()
        with self.db.session() as s:
            row = self.row(s, action_id)
            if user.name != row.requested_by:
                raise NotAllowed(f"only {row.requested_by}, who asked for it, may withdraw action {row.id[:8]}")
            if not self._lapse(s, row, now):
                self._close(s, row, user, "withdraw", reason, now, Status.WITHDRAWN, AuditEvent.WITHDRAWN)
                return action_view(s, row)
        raise DecisionConflict(f"action {row.id[:8]} had expired; there is nothing left to withdraw")

    def settle(self, action_id: str, user: User, *, written: bool, reason: str) -> Action:
        """A supervisor's verdict on an action whose outcome nothing could prove, after checking the line."""
        if user.role is not Role.SUPERVISOR:
            raise NotAllowed(f"{user.name} ({user.role.value}) may not settle actions; a supervisor may")
        reason = _reason_text(reason, "reason for settling")
        now = self.clock()
        with self.db.session() as s:
            row = self.row(s, action_id)
            if row.status != Status.UNVERIFIED.value:
                raise DecisionConflict(f"{decided_by(s, row)}; only unverified actions are settled by a person")
            status = Status.SUCCEEDED if written else Status.FAILED
            verdict = "written" if written else "not written"
            move(s, row, [Status.UNVERIFIED], status, finished_at=now, result=f"settled by {user.name}: {verdict}")
            record(s, AuditEvent.SETTLED, row, actor=user.name, at=now, details={"verdict": verdict, "reason": reason})
            return action_view(s, row)

    def _close(
        self,
        s: Session,
        row: ActionRow,
        user: User,
        decision: str,
        reason: str,
        now: float,
        status: Status,
        event: AuditEvent,
    ) -> None:
        if Status(row.status) not in OPEN:
            raise DecisionConflict(decided_by(s, row))
        move(s, row, OPEN, status, finished_at=now)
        if self._decision_of(s, row.id, user.name) is None:
            s.add(
                ApprovalRow(
                    action_id=row.id,
                    user=user.name,
                    role=user.role.value,
                    decision=decision,
                    reason=reason,
                    tag=row.tag,
                    old_value=row.old_value,
                    new_value=row.new_value,
                    created_at=now,
                    expires_at=now,
                )
            )
        record(s, event, row, actor=user.name, at=now, details={"reason": reason})

    def _lapse(self, s: Session, row: ActionRow, now: float) -> bool:
        """Expire `row` in this transaction if its time is up; True when it did (the caller stops there)."""
        if Status(row.status) not in OPEN or not self._lapsed(s, row, now):
            return False
        move(s, row, OPEN, Status.EXPIRED, finished_at=now)
        record(s, AuditEvent.EXPIRED, row, actor="system", at=now)
        return True

    def _lapsed(self, s: Session, row: ActionRow, now: float) -> bool:
        if row.expires_at <= now:
            return True
        if row.status == Status.APPROVED.value:
            valid = [a for a in self._approvals(s, row.id) if a.decision == "approve" and a.expires_at > now]
            return len(valid) < row.approvals_needed
        return False

    def expire_due(self) -> list[str]:
        """Pending proposals past their time, and approved ones whose approvals lapsed, become expired."""
        now = self.clock()
        with self.db.reader() as s:
            # A cheap look first, so the common case (nothing due) takes no write lock.
            due = [
                row.id
                for row in s.execute(select(ActionRow).where(ActionRow.status.in_([x.value for x in OPEN]))).scalars()
                if self._lapsed(s, row, now)
            ]
        if not due:
            return []
        expired: list[str] = []
        with self.db.session() as s:
            for action_id in due:
                row = s.get(ActionRow, action_id)
                if row is not None and self._lapse(s, row, now):
                    expired.append(row.id)
        return expired

    def get(self, action_id: str) -> Action:
        with self.db.reader() as s:
            return action_view(s, self.row(s, action_id))

    def list_actions(self, *, status: Status | None = None, tag: str | None = None, limit: int = 200) -> list[Action]:
        with self.db.reader() as s:
            query = select(ActionRow).order_by(ActionRow.created_at.desc()).limit(limit)
            if status is not None:
                query = query.where(ActionRow.status == status.value)
            if tag is not None:
                query = query.where(ActionRow.tag == tag)
            return [action_view(s, r) for r in s.execute(query).scalars()]

    def set_writes(self, enabled: bool, *, by: User, reason: str) -> None:
        """The kill switch: with writes off the executor refuses everything, whatever was approved."""
        if by.role not in (Role.SUPERVISOR, Role.ADMIN):
            raise NotAllowed(f"{by.name} ({by.role.value}) may not switch writes; a supervisor or admin may")
        reason = _reason_text(reason, "reason for switching writes")
        now = self.clock()
        with self.db.session() as s:
            row = s.get(SwitchRow, KILL_SWITCH)
            if row is None:
                row = SwitchRow(name=KILL_SWITCH, on=enabled, reason=reason, by=by.name, at=now)
                s.add(row)
            else:
                row.on, row.reason, row.by, row.at = enabled, reason, by.name, now
            event = AuditEvent.KILL_SWITCH_OFF if enabled else AuditEvent.KILL_SWITCH_ON
            audit.append(s, event, actor=by.name, at=now, details={"reason": reason})

    def writes_enabled(self) -> tuple[bool, str]:
        with self.db.reader() as s:
            row = s.get(SwitchRow, KILL_SWITCH)
            if row is None:
                return True, ""
            return row.on, f"switched {'on' if row.on else 'off'} by {row.by}: {row.reason}"

    def row(self, session: Session, action_id: str) -> ActionRow:
        """The stored action by full id or by a unique prefix of at least six characters."""
        row = session.get(ActionRow, action_id)
        if row is None:
            # A short id prefix as printed by `actions list`; only hex digits and dashes reach the LIKE.
            if not re.fullmatch(r"[0-9a-f-]{6,36}", action_id):
                shown = untrusted.one_line(action_id, 40)
                raise ActionNotFound(f"no action {shown!r}; `copilot actions list` shows them")
            matches = session.execute(select(ActionRow).where(ActionRow.id.like(f"{action_id}%"))).scalars().all()
            if len(matches) == 1:
                return matches[0]
            raise ActionNotFound(f"no action {action_id!r}; `copilot actions list` shows them")
        return row

    @staticmethod
    def _approvals(session: Session, action_id: str) -> list[ApprovalRow]:
        return list(session.execute(select(ApprovalRow).where(ApprovalRow.action_id == action_id)).scalars())

    @staticmethod
    def _decision_of(session: Session, action_id: str, user: str) -> ApprovalRow | None:
        return session.execute(
            select(ApprovalRow).where(ApprovalRow.action_id == action_id, ApprovalRow.user == user)
        ).scalar()


def _as_typed(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def _reason_text(reason: str, what: str) -> str:
    """A reason as it will be stored and shown: plain, not empty, not a wall of text."""
    try:
        return untrusted.check_reason(reason, what=what)
    except ValueError as err:
        raise ApprovalError(str(err)) from err
