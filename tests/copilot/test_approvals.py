"""Approval rules and the executor's refusals, against the real simulator where a write could happen."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.simulator.server import SimulatedLine
from copilot.errors import ApprovalError, ExecutionRefused, NotAllowed
from copilot.pipeline import audit
from copilot.pipeline.actions import Action, ActionService
from copilot.pipeline.db import AuditRow, Database
from copilot.pipeline.executor import Executor, ExecutorOptions
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import User, authenticate
from tests.copilot.conftest import PASSWORD, FakeClock, snapshot_of

TAG = "capper.torque_sp"


def small_proposal(service: ActionService, client: LineClient, who: User, line: LineDefinition) -> Action:
    reading = client.cache.reading(TAG)
    assert reading is not None
    assert isinstance(reading.value, float)
    sp = line.tag(TAG).setpoint
    assert sp is not None
    step = sp.approval_threshold / 2
    value = reading.value + step if reading.value + step <= sp.envelope.high else reading.value - step
    action = service.propose(TAG, value, requester=who, reason="test", snapshot=snapshot_of(client))
    assert action.status is Status.PENDING, action.refusals
    return action


async def test_nobody_approves_their_own(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    with pytest.raises(ApprovalError, match="own proposal"):
        service.approve(action.id, people["olga"])


async def test_maintenance_and_admin_may_not_approve(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition
) -> None:
    action = small_proposal(service, shared_client, people["mia"], line)  # maintenance may request
    for name in ("mia", "ada"):
        with pytest.raises(NotAllowed):
            service.approve(action.id, people[name])
    with pytest.raises(NotAllowed):
        service.propose(TAG, 2.2, requester=people["ada"], reason="x", snapshot=snapshot_of(shared_client))


async def test_an_approval_is_used_once(
    service: ActionService, client: LineClient, executor: Executor, people: dict[str, User], line: LineDefinition
) -> None:
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    with pytest.raises(ApprovalError, match="already decided: approved by otto"):
        service.approve(action.id, people["sam"])
    assert (await executor.execute(action.id)).status is Status.SUCCEEDED
    with pytest.raises(ExecutionRefused):
        await executor.execute(action.id)


async def test_expired_approval_is_not_executed(
    service: ActionService,
    client: LineClient,
    executor: Executor,
    people: dict[str, User],
    line: LineDefinition,
    sim: SimulatedLine,
    clock: FakeClock,
) -> None:
    before = sim.process.values()[TAG]
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    clock.advance(301)
    with pytest.raises(ExecutionRefused):
        await executor.execute(action.id)
    assert service.get(action.id).status is Status.EXPIRED
    assert sim.process.values()[TAG] == before


async def test_pending_proposal_expires(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition, clock: FakeClock
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    clock.advance(901)
    with pytest.raises(ApprovalError, match=r"expired|not pending"):
        service.approve(action.id, people["otto"])


async def test_rejection_needs_a_reason_and_ends_the_action(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    with pytest.raises(ApprovalError, match="reason"):
        service.reject(action.id, people["otto"], "  ")
    assert service.reject(action.id, people["otto"], "not during the run").status is Status.REJECTED
    with pytest.raises(ApprovalError):
        service.approve(action.id, people["sam"])


async def test_kill_switch_blocks_an_approved_write(
    service: ActionService,
    client: LineClient,
    executor: Executor,
    people: dict[str, User],
    line: LineDefinition,
    sim: SimulatedLine,
) -> None:
    before = sim.process.values()[TAG]
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    with pytest.raises(NotAllowed):
        service.set_writes(False, by=people["otto"], reason="operators cannot")
    service.set_writes(False, by=people["sam"], reason="maintenance on the capper")
    result = await executor.execute(action.id)
    assert result.status is Status.FAILED
    assert "switched off" in result.result
    assert sim.process.values()[TAG] == before
    service.set_writes(True, by=people["sam"], reason="done")
    assert service.writes_enabled()[0]


async def test_drift_beyond_tolerance_refuses(
    service: ActionService,
    client: LineClient,
    executor: Executor,
    people: dict[str, User],
    line: LineDefinition,
    sim: SimulatedLine,
) -> None:
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    sp = line.tag(TAG).setpoint
    assert sp is not None
    assert action.old_value is not None
    moved = (
        action.old_value + sp.tolerance * 3
        if action.old_value + sp.tolerance * 3 <= sp.envelope.high
        else action.old_value - sp.tolerance * 3
    )
    sim.process.set_setpoint(TAG, moved)  # someone changed it at the panel meanwhile
    # The server publishes the panel's change on its next tick: wait until a read shows it.
    for _ in range(100):
        if (await client.read(TAG)).value == pytest.approx(moved):
            break
        await asyncio.sleep(0.05)
    result = await executor.execute(action.id)
    assert result.status is Status.FAILED
    assert "moved" in result.result
    assert sim.process.values()[TAG] == pytest.approx(moved)


async def test_server_down_at_execution(
    service: ActionService,
    client: LineClient,
    executor: Executor,
    people: dict[str, User],
    line: LineDefinition,
    sim: SimulatedLine,
) -> None:
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    await sim.stop()
    result = await executor.execute(action.id)
    assert result.status is Status.FAILED
    assert "unavailable" in result.result


async def test_secure_session_can_be_required(
    service: ActionService,
    client: LineClient,
    db: Database,
    people: dict[str, User],
    line: LineDefinition,
    clock: FakeClock,
) -> None:
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    strict = Executor(db, line, client, clock=clock, options=ExecutorOptions(require_secure=True))
    result = await strict.execute(action.id)
    assert result.status is Status.FAILED
    assert "SignAndEncrypt" in result.result


def test_passwords_are_checked_and_never_stored_plain(db: Database, people: dict[str, User]) -> None:
    assert authenticate(db, "olga", PASSWORD).role is Role.OPERATOR
    with pytest.raises(NotAllowed, match="unknown user or wrong password"):
        authenticate(db, "olga", "wrong password")
    with pytest.raises(NotAllowed, match="unknown user or wrong password"):
        authenticate(db, "nobody", PASSWORD)
    from copilot.pipeline.db import UserRow

    with db.session() as s:
        stored = s.execute(select(UserRow.password_hash)).scalars().all()
    assert all(PASSWORD not in h and h.startswith("$argon2") for h in stored)


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_audit_verify_finds_the_first_broken_link(db: Database, people: dict[str, User], tamper: str) -> None:
    with db.session() as s:
        assert audit.verify(s).ok
        count = audit.verify(s).entries
    assert count >= 6  # one per user added
    with db.session() as s:
        if tamper == "edit":
            s.execute(update(AuditRow).where(AuditRow.seq == 3).values(actor="mallory"))
        elif tamper == "delete":
            s.execute(AuditRow.__table__.delete().where(AuditRow.seq == 3))
        else:
            third = s.get(AuditRow, 3)
            fourth = s.get(AuditRow, 4)
            assert third is not None
            assert fourth is not None
            third.hash, fourth.hash = fourth.hash, third.hash
            third.prev_hash, fourth.prev_hash = fourth.prev_hash, third.prev_hash
            third.details, fourth.details = fourth.details, third.details
    with db.session() as s:
        report = audit.verify(s)
    assert not report.ok
    assert report.broken_at in (3, 4)


async def test_an_approval_keeps_its_comment_beside_it_and_in_the_audit(
    service: ActionService, shared_client: LineClient, people: dict[str, User], db: Database, line: LineDefinition
) -> None:
    first = small_proposal(service, shared_client, people["olga"], line)
    done = service.approve(first.id, people["otto"], "  checked the torque at the HMI  ")
    [given] = [a for a in done.approvals if a.decision == "approve"]
    assert given.reason == "checked the torque at the HMI"
    with db.reader() as s:
        [approved] = [e for e in audit.entries(s, action_id=first.id) if e.event == "approved"]
    assert approved.details["comment"] == "checked the torque at the HMI"
    service.reject(first.id, people["sam"], "test over")  # the approved change is stopped before any write
    second = small_proposal(service, shared_client, people["olga"], line)
    plain = service.approve(second.id, people["otto"])
    assert [a.reason for a in plain.approvals if a.decision == "approve"] == [""]
    with db.reader() as s:
        [bare] = [e for e in audit.entries(s, action_id=second.id) if e.event == "approved"]
    assert "comment" not in bare.details
    service.reject(second.id, people["sam"], "test over")
