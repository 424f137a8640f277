"""The executor: the only code that writes to the line, after every check again, once per action, read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.client import LineClient
from connectors.errors import ConnectorError, LineUnavailable, ReadBackMismatch, WriteRefused
from connectors.line import LineDefinition
from connectors.readings import Quality
from copilot.errors import DecisionConflict, ExecutionRefused
from copilot.pipeline import policy
from copilot.pipeline.actions import (
    KILL_SWITCH,
    Action,
    ActionService,
    action_view,
    decided_by,
    move,
    recent_changes,
    record,
    shift_start_value,
)
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import ActionRow, ApprovalRow, Database, SwitchRow
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role, Status

Clock = Callable[[], float]


@dataclass(frozen=True, kw_only=True)
class ExecutorOptions:
    require_secure: bool = False  # configuration may demand a SignAndEncrypt session for every write


class Executor:
    """Writes approved actions through `LineClient.write`; never retries, never writes an action twice."""

    def __init__(
        self,
        db: Database,
        line: LineDefinition,
        client: LineClient,
        *,
        clock: Clock = time.time,
        options: ExecutorOptions | None = None,
    ) -> None:
        self.db = db
        self.line = line
        self.client = client
        self.clock = clock
        self.options = options or ExecutorOptions()
        self.service = ActionService(db, line, clock=clock)
        # Tests inject a crash here: after the write reached the server, before it is recorded.
        self.after_write: Callable[[], None] | None = None

    async def execute(self, action_id: str) -> Action:
        self.service.expire_due()
        now = self.clock()
        with self.db.reader() as s:
            row = self.service.row(s, action_id)
            if row.status != Status.APPROVED.value:
                raise ExecutionRefused(f"{decided_by(s, row)}; only approved actions are executed")
            action_id = row.id
            tag = self.line.tag(row.tag)
            approvals = self._approve_rows(s, row.id)
        problems = self._approval_problems(row, approvals, now)
        enabled, switch = self.service.writes_enabled()
        if not enabled:
            problems.append(f"writes are switched off ({switch})")
        if self.options.require_secure and not self.client.confirmed_secure:
            # The session's own state, not the configured mode: SignAndEncrypt to a server a person confirmed.
            problems.append("writes need a SignAndEncrypt session to a confirmed server, and this one is not")
        if not problems:
            problems.extend(await self._live_problems(row, tag.name))
        if problems:
            return self._refuse(action_id, "; ".join(problems))
        with self.db.session() as s:
            # Everything that a person may change meanwhile is read again in the very transaction that commits to
            # writing (it holds the write lock): a kill switch, a rejection, a withdrawal or an expiry that got in
            # first wins, and an action is taken by one executor only.
            row = self.service.row(s, action_id)
            switch_row = s.get(SwitchRow, KILL_SWITCH)
            refused = ""
            if switch_row is not None and not switch_row.on:
                refused = f"writes are switched off ({switch_row.by}: {switch_row.reason})"
            elif row.status != Status.APPROVED.value:
                raise ExecutionRefused(f"{decided_by(s, row)}; it is not written")
            else:
                now = self.clock()
                late = self._approval_problems(row, self._approve_rows(s, row.id), now)
                # Asked again under the write lock: a change written since the check above counts here.
                late += policy.history_reasons(
                    tag,
                    row.new_value,
                    recent_changes=recent_changes(s, tag.name, now),
                    shift_start_value=shift_start_value(s, self.line, tag.name, now),
                )
                refused = "; ".join(late)
            if not refused:
                try:
                    move(s, row, [Status.APPROVED], Status.WRITING, write_started_at=self.clock())
                except DecisionConflict as err:
                    raise ExecutionRefused(f"{err}; it is not written twice") from err
                for approval in self._approve_rows(s, row.id):
                    approval.used = True
                record(s, AuditEvent.EXECUTING, row, actor="executor", at=self.clock())
        if refused:
            return self._refuse(action_id, refused)
        return await self._write(action_id, tag.name, row.new_value)

    @staticmethod
    def _approve_rows(session: Session, action_id: str) -> list[ApprovalRow]:
        rows = session.execute(select(ApprovalRow).where(ApprovalRow.action_id == action_id)).scalars()
        return [a for a in rows if a.decision == "approve"]

    def _refuse(self, action_id: str, why: str) -> Action:
        """Approved but not written: failed with the reason, unless a person decided otherwise meanwhile."""
        try:
            return self._finish(action_id, Status.FAILED, AuditEvent.FAILED, why, was=(Status.APPROVED,))
        except DecisionConflict:
            return self.service.get(action_id)

    async def _write(self, action_id: str, tag: str, value: float) -> Action:
        try:
            result = await self.client.write(tag, value)
        except WriteRefused as err:
            return self._finish(action_id, Status.FAILED, AuditEvent.FAILED, str(err), server_status=err.status or "")
        except ReadBackMismatch as err:
            return self._finish(action_id, Status.UNVERIFIED, AuditEvent.UNVERIFIED, str(err))
        except ConnectorError as err:
            # The write may or may not have reached the server; reconcile() will read back, never write again.
            return self._finish(action_id, Status.UNVERIFIED, AuditEvent.UNVERIFIED, f"connection lost: {err}")
        if self.after_write is not None:
            self.after_write()
        return self._finish(
            action_id, Status.SUCCEEDED, AuditEvent.VERIFIED, result.status, read_back=float(result.read_back)
        )

    async def reconcile(self) -> list[Action]:
        """After a restart: actions caught mid-write are settled by reading the line, never by writing.

        Only the new value on the line settles an action (as written). The old value proves nothing: a server that
        restarted, or a person at the panel, may have put it back after our write landed. Such an action stays
        "unverified" for a person to check on the line and settle (`copilot actions settle`).
        """
        with self.db.reader() as s:
            stuck = list(
                s.execute(
                    select(ActionRow).where(ActionRow.status.in_([Status.WRITING.value, Status.UNVERIFIED.value]))
                ).scalars()
            )
        settled: list[Action] = []
        for row in stuck:
            try:
                reading = await self.client.read(row.tag)
            except ConnectorError:
                continue  # still unknown; try again at the next reconcile
            value = reading.value
            if not isinstance(value, int | float) or reading.quality is Quality.BAD:
                continue
            was = (Status.WRITING, Status.UNVERIFIED)
            try:
                if abs(float(value) - row.new_value) <= 1e-6 * max(1.0, abs(row.new_value)):
                    settled.append(
                        self._finish(
                            row.id,
                            Status.SUCCEEDED,
                            AuditEvent.RECONCILED,
                            "read back after an interrupted write: the line holds the new value",
                            read_back=float(value),
                            was=was,
                        )
                    )
                elif row.status == Status.WRITING.value:
                    settled.append(
                        self._finish(
                            row.id,
                            Status.UNVERIFIED,
                            AuditEvent.UNVERIFIED,
                            f"outcome unknown: the write was interrupted and the line now reads {float(value):g}; "
                            "check the value on the line, then settle the action",
                            read_back=float(value),
                            was=(Status.WRITING,),
                        )
                    )
            except DecisionConflict:
                continue  # another executor or a person settled it meanwhile
        return settled

    def _approval_problems(self, row: ActionRow, approvals: list[ApprovalRow], now: float) -> list[str]:
        valid = [
            a
            for a in approvals
            if not a.used
            and a.expires_at > now
            and a.user != row.requested_by
            and (a.tag, a.old_value, a.new_value) == (row.tag, row.old_value, row.new_value)
        ]
        problems = []
        if len({a.user for a in valid}) < row.approvals_needed:
            problems.append(
                f"{len(valid)} valid approval(s) of {row.approvals_needed} needed (expired, used or unbound)"
            )
        if row.supervisor_needed and not any(a.role == Role.SUPERVISOR.value for a in valid):
            problems.append("a supervisor's approval is required for a change this large")
        return problems

    async def _live_problems(self, row: ActionRow, tag: str) -> list[str]:
        definition = self.line.tag(tag)
        assert definition.setpoint is not None
        try:
            live = await self.client.read(tag)
        except LineUnavailable as err:
            return [f"the line is unavailable: {err}"]
        except ConnectorError as err:
            return [f"cannot read {tag}: {err}"]
        problems = []
        if not isinstance(live.value, int | float) or live.quality is not Quality.GOOD:
            problems.append(f"the live value of {tag} is not trustworthy ({live.quality.value})")
        elif row.old_value is not None and abs(float(live.value) - row.old_value) > definition.setpoint.tolerance:
            problems.append(
                f"{tag} moved from {row.old_value:g} to {float(live.value):g} since the proposal "
                f"(tolerance {definition.setpoint.tolerance:g}); propose again"
            )
        readings = dict(self.client.cache.readings())
        readings[tag] = live
        snapshot = LineSnapshot(available=self.client.available, readings=readings)
        with self.db.reader() as s:
            now = self.clock()
            decision = policy.check(
                self.line,
                tag,
                row.new_value,
                snapshot,
                recent_changes=recent_changes(s, tag, now),
                shift_start_value=shift_start_value(s, self.line, tag, now),
            )
        # The step is judged against the value at proposal time, already checked; the live value may differ
        # by at most the tolerance, so only the other rules are re-applied here.
        problems.extend(r for r in decision.reasons if "maximum step" not in r)
        return problems

    def _finish(
        self,
        action_id: str,
        status: Status,
        event: AuditEvent,
        result: str,
        *,
        read_back: float | None = None,
        actor: str = "executor",
        was: tuple[Status, ...] = (Status.WRITING,),
        **details: str,
    ) -> Action:
        with self.db.session() as s:
            row = self.service.row(s, action_id)
            move(s, row, was, status, result=result, read_back=read_back, finished_at=self.clock())
            if event is AuditEvent.VERIFIED:
                record(s, AuditEvent.EXECUTED, row, actor=actor, at=self.clock())
            record(
                s,
                event,
                row,
                actor=actor,
                at=self.clock(),
                details={"result": result, "read_back": read_back, **details},
            )
            return action_view(s, row)
