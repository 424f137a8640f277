"""Proposals and approvals: record every proposal (refused ones with every reason), apply the approval rules."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.line import LineDefinition
from copilot import audit, policy
from copilot.audit import AuditEvent
from copilot.db import ActionRow, ApprovalRow, Database, SwitchRow
from copilot.errors import ActionNotFound, ApprovalError, NotAllowed
from copilot.policy import LineSnapshot
from copilot.users import Role, User

Clock = Callable[[], float]
KILL_SWITCH = "writes"


class Status(StrEnum):
    REFUSED = "refused"  # policy said no; kept with its reasons
    PENDING = "pending"  # waiting for approval(s)
    APPROVED = "approved"  # every approval the rules require is in; ready for the executor
    REJECTED = "rejected"
    EXPIRED = "expired"
    WRITING = "writing"  # the write intent is recorded; the executor is (or was, before a crash) writing
    SUCCEEDED = "succeeded"  # written and read back equal
    FAILED = "failed"  # not written: refused at execution or by the server
    UNVERIFIED = "unverified"  # a write may have happened but the read-back could not confirm it

    @property
    def final(self) -> bool:
        return self in (Status.REFUSED, Status.REJECTED, Status.EXPIRED, Status.SUCCEEDED, Status.FAILED)


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
    refusals: list[str]
    approvals_needed: int
    supervisor_needed: bool
    approvals: list[ApprovalView]
    created_at: float
    expires_at: float
    read_back: float | None
    result: str

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


class ActionService:
    """Everything about actions except the write itself (that is the executor's alone)."""

    def __init__(self, db: Database, line: LineDefinition, *, clock: Clock = time.time, rules: Rules | None = None):
        self.db = db
        self.line = line
        self.clock = clock
        self.rules = rules or Rules()

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
    ) -> Action:
        """Record a proposal; policy decides at once whether it may wait for approval or is refused."""
        if not requester.role.may_request:
            raise NotAllowed(f"{requester.name} ({requester.role.value}) may not request changes")
        now = self.clock()
        with self.db.session() as s:
            decision = policy.check(self.line, tag, value, snapshot, recent_changes=recent_changes(s, tag, now))
            reasons = list(decision.reasons)
            if not reason.strip():
                reasons.append("a proposal needs a reason")
            number = policy.as_number(value)
            big = False
            if decision.tag is not None and decision.tag.setpoint is not None and decision.current is not None:
                big = abs(number - decision.current) > decision.tag.setpoint.approval_threshold + 1e-9
            row = ActionRow(
                id=str(uuid.uuid4()),
                tag=tag,
                old_value=decision.current,
                new_value=number if number == number else 0.0,  # NaN is not storable everywhere; refused anyway
                unit=decision.tag.unit if decision.tag else "",
                reason=reason,
                evidence=json.dumps(evidence or [], default=str),
                requested_by=requester.name,
                via_agent=via_agent,
                status=(Status.REFUSED if reasons else Status.PENDING).value,
                refusals=json.dumps(reasons),
                approvals_needed=2 if big else 1,
                supervisor_needed=big,
                created_at=now,
                expires_at=now + self.rules.proposal_ttl_s,
            )
            s.add(row)
            s.flush()
            event = AuditEvent.REFUSED if reasons else AuditEvent.PROPOSED
            details: dict[str, Any] = {"reason": reason, "via_agent": via_agent, "requested_value": repr(value)}
            if reasons:
                details["refusals"] = reasons
            audit.append(
                s,
                event,
                actor=requester.name,
                at=now,
                action_id=row.id,
                tag=tag,
                old_value=decision.current,
                new_value=row.new_value,
                details=details,
            )
            return action_view(s, row)

    def approve(self, action_id: str, approver: User) -> Action:
        now = self.clock()
        self.expire_due()
        with self.db.session() as s:
            row = self.row(s, action_id)
            self._check_decider(row, approver, now)
            decisions = self._approvals(s, row.id)
            if any(a.user == approver.name for a in decisions):
                raise ApprovalError(f"{approver.name} has already decided on this action")
            given = [a for a in decisions if a.decision == "approve" and a.expires_at > now and not a.used]
            if (
                row.supervisor_needed
                and given
                and approver.role is not Role.SUPERVISOR
                and not any(a.role == Role.SUPERVISOR.value for a in given)
            ):
                raise ApprovalError(
                    "this change is above the approval threshold: the second approval must be a supervisor's"
                )
            s.add(
                ApprovalRow(
                    action_id=row.id,
                    user=approver.name,
                    role=approver.role.value,
                    decision="approve",
                    tag=row.tag,
                    old_value=row.old_value,
                    new_value=row.new_value,
                    created_at=now,
                    expires_at=now + self.rules.approval_ttl_s,
                )
            )
            count = len(given) + 1
            if count >= row.approvals_needed:
                row.status = Status.APPROVED.value
            record(
                s,
                AuditEvent.APPROVED,
                row,
                actor=approver.name,
                at=now,
                details={"role": approver.role.value, "approvals": f"{count}/{row.approvals_needed}"},
            )
            s.flush()
            return action_view(s, row)

    def reject(self, action_id: str, user: User, reason: str) -> Action:
        if not reason.strip():
            raise ApprovalError("a rejection needs a reason")
        now = self.clock()
        with self.db.session() as s:
            row = self.row(s, action_id)
            if not user.role.may_approve and user.name != row.requested_by:
                raise NotAllowed(f"{user.name} ({user.role.value}) may not reject changes")
            if Status(row.status) not in (Status.PENDING, Status.APPROVED):
                raise ApprovalError(
                    f"action {row.id} is {row.status}; only pending or approved actions can be rejected"
                )
            s.add(
                ApprovalRow(
                    action_id=row.id,
                    user=user.name,
                    role=user.role.value,
                    decision="reject",
                    reason=reason,
                    tag=row.tag,
                    old_value=row.old_value,
                    new_value=row.new_value,
                    created_at=now,
                    expires_at=now,
                )
            )
            row.status = Status.REJECTED.value
            row.finished_at = now
            record(s, AuditEvent.REJECTED, row, actor=user.name, at=now, details={"reason": reason})
            s.flush()
            return action_view(s, row)

    def expire_due(self) -> list[str]:
        """Pending proposals past their time, and approved ones whose approvals lapsed, become expired."""
        now = self.clock()
        expired: list[str] = []
        with self.db.session() as s:
            rows = s.execute(
                select(ActionRow).where(ActionRow.status.in_([Status.PENDING.value, Status.APPROVED.value]))
            ).scalars()
            for row in rows:
                lapsed = row.expires_at <= now
                if row.status == Status.APPROVED.value:
                    valid = [a for a in self._approvals(s, row.id) if a.decision == "approve" and a.expires_at > now]
                    lapsed = lapsed or len(valid) < row.approvals_needed
                if lapsed:
                    row.status = Status.EXPIRED.value
                    row.finished_at = now
                    record(s, AuditEvent.EXPIRED, row, actor="system", at=now)
                    expired.append(row.id)
        return expired

    def get(self, action_id: str) -> Action:
        with self.db.session() as s:
            return action_view(s, self.row(s, action_id))

    def list_actions(self, *, status: Status | None = None, tag: str | None = None, limit: int = 200) -> list[Action]:
        with self.db.session() as s:
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
        if not reason.strip():
            raise ApprovalError("switching writes needs a reason")
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
        with self.db.session() as s:
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
                raise ActionNotFound(f"no action {action_id!r}; `copilot actions list` shows them")
            matches = session.execute(select(ActionRow).where(ActionRow.id.like(f"{action_id}%"))).scalars().all()
            if len(matches) == 1:
                return matches[0]
            raise ActionNotFound(f"no action {action_id!r}; `copilot actions list` shows them")
        return row

    @staticmethod
    def _approvals(session: Session, action_id: str) -> list[ApprovalRow]:
        return list(session.execute(select(ApprovalRow).where(ApprovalRow.action_id == action_id)).scalars())

    def _check_decider(self, row: ActionRow, user: User, now: float) -> None:
        if not user.role.may_approve:
            raise NotAllowed(f"{user.name} ({user.role.value}) may not approve changes")
        if user.name == row.requested_by:
            raise ApprovalError("nobody approves their own proposal (the agent's proposals belong to who asked)")
        if row.status != Status.PENDING.value:
            raise ApprovalError(f"action {row.id} is {row.status}, not pending")
        if row.expires_at <= now:
            raise ApprovalError(f"action {row.id} has expired; propose it again against the live value")
