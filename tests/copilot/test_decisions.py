"""Decisions as compare-and-set: one decision wins, the loser is told who decided; withdraw, settle, expiry."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.simulator.server import SimulatedLine
from copilot.errors import ApprovalError, DecisionConflict, ExecutionRefused, NotAllowed
from copilot.pipeline import audit
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import ActionRow, ApprovalRow, Database
from copilot.pipeline.executor import Executor
from copilot.pipeline.states import Status
from copilot.pipeline.users import User
from tests.copilot.conftest import FakeClock
from tests.copilot.test_approvals import TAG, small_proposal


async def test_a_rejected_change_is_never_written(
    service: ActionService,
    client: LineClient,
    executor: Executor,
    people: dict[str, User],
    line: LineDefinition,
    sim: SimulatedLine,
) -> None:
    # The order the CLI race produced: approved, then rejected before the executor took it.
    before = sim.process.values()[TAG]
    action = small_proposal(service, client, people["olga"], line)
    assert service.approve(action.id, people["otto"]).status is Status.APPROVED
    assert service.reject(action.id, people["sam"], "not during the run").status is Status.REJECTED
    with pytest.raises(ExecutionRefused, match=r"rejected by sam at \d\d:\d\d:\d\d"):
        await executor.execute(action.id)
    assert sim.process.values()[TAG] == before
    events = [e.event for e in _history(service.db, action.id)]
    assert "executing" not in events
    assert events.count("rejected") == 1


async def test_the_loser_of_a_decision_is_told_who_decided_and_when(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    service.reject(action.id, people["sam"], "wrong shift")
    with pytest.raises(DecisionConflict, match=r"already decided: rejected by sam at \d\d:\d\d:\d\d"):
        service.approve(action.id, people["otto"])
    with pytest.raises(DecisionConflict, match="rejected by sam"):
        service.reject(action.id, people["sue"], "me too")
    with pytest.raises(DecisionConflict, match="rejected by sam"):
        service.withdraw(action.id, people["olga"], "too late")


async def test_a_loser_after_the_write_is_told_whose_approval_it_was(
    service: ActionService, client: LineClient, executor: Executor, people: dict[str, User], line: LineDefinition
) -> None:
    # Not "executing by executor": the person who comes too late learns who decided.
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    assert (await executor.execute(action.id)).status is Status.SUCCEEDED
    with pytest.raises(DecisionConflict, match=r"already decided: approved by otto at \d\d:\d\d:\d\d"):
        service.reject(action.id, people["sam"], "too late")
    with pytest.raises(DecisionConflict, match="approved by otto"):
        service.approve(action.id, people["sue"])


async def test_an_approval_counts_once_per_person(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition, db: Database
) -> None:
    sp = line.tag(TAG).setpoint
    assert sp is not None
    reading = shared_client.cache.reading(TAG)
    assert reading is not None
    assert isinstance(reading.value, float)
    big = reading.value + sp.approval_threshold * 1.5
    if big > sp.envelope.high:
        big = reading.value - sp.approval_threshold * 1.5
    from tests.copilot.conftest import snapshot_of

    action = service.propose(TAG, big, requester=people["olga"], reason="big", snapshot=snapshot_of(shared_client))
    assert action.approvals_needed == 2
    service.approve(action.id, people["sam"])
    with pytest.raises(DecisionConflict, match="counts once per person"):
        service.approve(action.id, people["sam"])
    with db.reader() as s:
        count = s.execute(select(func.count()).select_from(ApprovalRow).where(ApprovalRow.action_id == action.id))
        assert count.scalar_one() == 1
    assert service.get(action.id).status is Status.PENDING


async def test_the_requester_withdraws_and_nobody_else_may(
    service: ActionService,
    shared_client: LineClient,
    people: dict[str, User],
    line: LineDefinition,
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    with pytest.raises(NotAllowed, match="only olga"):
        service.withdraw(action.id, people["otto"], "not mine")
    assert service.withdraw(action.id, people["olga"], "asked by mistake").status is Status.WITHDRAWN
    with pytest.raises(DecisionConflict, match="withdrawn by olga"):
        service.approve(action.id, people["otto"])
    # The requester's own "reject" (the console's Withdraw button) is a withdrawal too.
    second = small_proposal(service, shared_client, people["olga"], line)
    assert service.reject(second.id, people["olga"], "changed my mind").status is Status.WITHDRAWN


async def test_an_approved_change_can_be_withdrawn_before_the_executor_takes_it(
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
    service.withdraw(action.id, people["olga"], "the line stopped")
    with pytest.raises(ExecutionRefused, match="withdrawn by olga"):
        await executor.execute(action.id)
    assert sim.process.values()[TAG] == before


async def test_reasons_are_plain_and_bounded(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    with pytest.raises(ApprovalError, match="at most 500"):
        service.reject(action.id, people["sam"], "x" * 100_000)
    done = service.reject(action.id, people["sam"], "raise \u202eevlav eht esolc\u202c \x1b[31mnow\x1b[0m")
    with service.db.reader() as s:
        stored = [a.reason for a in s.execute(select(ApprovalRow).where(ApprovalRow.action_id == done.id)).scalars()]
    assert stored == ["raise evlav eht esolc now"]


async def test_an_approval_that_lapses_is_expired_not_approved(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition, clock: FakeClock
) -> None:
    action = small_proposal(service, shared_client, people["olga"], line)
    clock.advance(901)
    with pytest.raises(DecisionConflict, match="has expired"):
        service.approve(action.id, people["otto"])
    # The expiry it found was recorded, once, although the approval itself failed.
    assert service.get(action.id).status is Status.EXPIRED
    assert [e.event for e in _history(service.db, action.id)].count("expired") == 1


async def test_an_interrupted_write_with_the_old_value_is_left_for_a_person(
    service: ActionService,
    client: LineClient,
    executor: Executor,
    people: dict[str, User],
    line: LineDefinition,
    sim: SimulatedLine,
    db: Database,
) -> None:
    action = small_proposal(service, client, people["olga"], line)
    service.approve(action.id, people["otto"])
    # A crash after the intent was recorded, and a server that (restarted) holds the old value: nothing proves
    # whether the write landed, so it must never be settled as "not written".
    with db.session() as s:
        row = s.get(ActionRow, action.id)
        assert row is not None
        row.status = Status.WRITING.value
    settled = await executor.reconcile()
    assert [a.status for a in settled] == [Status.UNVERIFIED]
    assert "outcome unknown" in settled[0].result
    assert "check the value on the line" in settled[0].result
    again = await executor.reconcile()
    assert again == []  # nothing new to say until a person settles it or the line shows the new value
    with pytest.raises(NotAllowed):
        service.settle(action.id, people["otto"], written=False, reason="checked the panel")
    done = service.settle(action.id, people["sam"], written=False, reason="panel shows the old torque")
    assert done.status is Status.FAILED
    assert "settled by sam" in done.result


def test_a_write_session_inside_another_is_refused_at_once(db: Database) -> None:
    with db.session(), pytest.raises(RuntimeError, match="inside another write session"), db.session():
        pass


def _history(db: Database, action_id: str) -> list[audit.AuditEntry]:
    with db.reader() as s:
        return audit.entries(s, action_id=action_id)
