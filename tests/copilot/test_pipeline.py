"""End to end against the real simulator: propose, approve once or twice, write, read back, audit verifies."""

from __future__ import annotations

import pytest

from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.simulator.server import SimulatedLine
from copilot.errors import ApprovalError, ExecutionRefused
from copilot.pipeline import audit
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database
from copilot.pipeline.executor import Executor
from copilot.pipeline.states import Status
from copilot.pipeline.users import User
from tests.copilot.conftest import FakeClock, snapshot_of


def small_and_big(line: LineDefinition, tag: str, current: float) -> tuple[float, float]:
    sp = line.tag(tag).setpoint
    assert sp is not None
    small = (
        current + sp.approval_threshold / 2
        if current + sp.approval_threshold / 2 <= sp.envelope.high
        else current - sp.approval_threshold / 2
    )
    big_step = (sp.approval_threshold + sp.max_step) / 2
    big = current + big_step if current + big_step <= sp.envelope.high else current - big_step
    return small, big


def current_of(client: LineClient, tag: str) -> float:
    reading = client.cache.reading(tag)
    assert reading is not None
    assert isinstance(reading.value, float)
    return reading.value


async def test_small_change_one_approval_writes_and_reads_back(
    line: LineDefinition,
    sim: SimulatedLine,
    client: LineClient,
    service: ActionService,
    executor: Executor,
    people: dict[str, User],
    db: Database,
) -> None:
    tag = "filler.bowl_level_sp"
    small, _ = small_and_big(line, tag, current_of(client, tag))
    action = service.propose(
        tag, small, requester=people["olga"], reason="bowl level drifting low", snapshot=snapshot_of(client)
    )
    assert action.status is Status.PENDING
    assert action.approvals_needed == 1
    approved = service.approve(action.id, people["otto"])
    assert approved.status is Status.APPROVED
    done = await executor.execute(action.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert done.read_back == pytest.approx(small)
    assert sim.process.values()[tag] == pytest.approx(small)
    with db.session() as s:
        events = [e.event for e in audit.entries(s, action_id=action.id)]
        report = audit.verify(s)
    assert events == ["proposed", "approved", "executing", "executed", "verified"]
    assert report.ok


async def test_big_change_needs_a_supervisor_as_second_approver(
    line: LineDefinition,
    sim: SimulatedLine,
    client: LineClient,
    service: ActionService,
    executor: Executor,
    people: dict[str, User],
) -> None:
    tag = "filler.bowl_level_sp"
    before = sim.process.values()[tag]
    _, big = small_and_big(line, tag, current_of(client, tag))
    action = service.propose(tag, big, requester=people["olga"], reason="raise level", snapshot=snapshot_of(client))
    assert (action.approvals_needed, action.supervisor_needed) == (2, True)
    service.approve(action.id, people["otto"])
    with pytest.raises(ExecutionRefused):
        await executor.execute(action.id)  # one approval is not enough
    with pytest.raises(ApprovalError, match="supervisor"):
        service.approve(action.id, people["oleg"])  # a second operator is not enough
    done = service.approve(action.id, people["sam"])
    assert done.status is Status.APPROVED
    result = await executor.execute(action.id)
    assert result.status is Status.SUCCEEDED
    assert sim.process.values()[tag] == pytest.approx(big)
    assert sim.process.values()[tag] != before


async def test_executed_action_is_never_written_twice(
    line: LineDefinition,
    client: LineClient,
    service: ActionService,
    executor: Executor,
    people: dict[str, User],
) -> None:
    tag = "capper.torque_sp"
    small, _ = small_and_big(line, tag, current_of(client, tag))
    action = service.propose(tag, small, requester=people["olga"], reason="torque", snapshot=snapshot_of(client))
    service.approve(action.id, people["sam"])
    await executor.execute(action.id)
    with pytest.raises(ExecutionRefused, match="succeeded"):
        await executor.execute(action.id)


async def test_crash_between_write_and_record_is_reconciled_without_a_second_write(
    line: LineDefinition,
    sim: SimulatedLine,
    client: LineClient,
    service: ActionService,
    db: Database,
    people: dict[str, User],
    clock: FakeClock,
) -> None:
    tag = "labeler.web_tension_sp"
    writes: list[float] = []
    original = sim.process.set_setpoint

    def counting(name: str, value: float) -> None:
        if name == tag:
            writes.append(value)
        original(name, value)

    sim.process.set_setpoint = counting  # type: ignore[method-assign]
    small, _ = small_and_big(line, tag, current_of(client, tag))
    action = service.propose(tag, small, requester=people["olga"], reason="tension", snapshot=snapshot_of(client))
    service.approve(action.id, people["otto"])

    class Crash(BaseException):
        pass

    crashing = Executor(db, line, client, clock=clock)

    def crash() -> None:
        raise Crash

    crashing.after_write = crash
    with pytest.raises(Crash):
        await crashing.execute(action.id)
    assert service.get(action.id).status is Status.WRITING  # the intent is on record, the outcome is not
    restarted = Executor(db, line, client, clock=clock)
    settled = await restarted.reconcile()
    assert [a.id for a in settled] == [action.id]
    assert service.get(action.id).status is Status.SUCCEEDED
    with pytest.raises(ExecutionRefused):
        await restarted.execute(action.id)
    assert writes == [pytest.approx(small)]  # exactly one write reached the line
    with db.session() as s:
        assert audit.verify(s).ok
