"""End to end against the real simulator: propose, approve once or twice, write, read back, audit verifies."""

from __future__ import annotations

import asyncio

import pytest

from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.simulator.server import SimulatedLine
from copilot.errors import ApprovalError, ExecutionRefused
from copilot.pipeline import audit
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import ActionRow, Database
from copilot.pipeline.executor import Executor
from copilot.pipeline.states import Status
from copilot.pipeline.users import User
from tests.copilot.conftest import FakeClock, snapshot_of
from tests.helpers import eventually


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


async def test_a_clock_that_steps_back_does_not_restart_the_shifts_allowance(
    line: LineDefinition,
    sim: SimulatedLine,
    client: LineClient,
    service: ActionService,
    executor: Executor,
    people: dict[str, User],
    clock: FakeClock,
) -> None:
    # Found by the stateful test: with the writes ordered by clock time, a write made after the clock stepped back
    # looked like the shift's first, and the allowance was measured from where the setpoint had already got to.
    tag = "chiller.supply_temp_sp"  # envelope 3..7, max step 2, no wider shift allowance: 2 per shift
    sim.process.set_setpoint(tag, 6.5)  # a person at the panel, before the shift's first write
    await eventually(lambda: current_of(client, tag) == pytest.approx(6.5), what="the panel's value")

    async def written(value: float, *approvers: str) -> None:
        action = service.propose(tag, value, requester=people["olga"], reason="chiller", snapshot=snapshot_of(client))
        assert action.status is Status.PENDING, action.refusals
        for who in approvers:
            service.approve(action.id, people[who])
        done = await executor.execute(action.id)
        assert done.status is Status.SUCCEEDED, done.result
        await eventually(lambda: current_of(client, tag) == pytest.approx(value), what=f"{tag} at {value}")

    await written(4.6, "otto", "sam")  # 1.9 down: a big step, inside the shift's 2
    clock.advance(-5)
    await written(5.5, "otto")  # back up 0.9, now 1.0 from where the shift began
    further = service.propose(tag, 4.0, requester=people["olga"], reason="chiller", snapshot=snapshot_of(client))
    assert further.status is Status.REFUSED  # 1.5 from here, but 2.5 from the shift's 6.5
    assert any("started this shift at 6.5" in r for r in further.refusals), further.refusals


async def test_two_changes_executed_at_once_cannot_both_pass_the_hourly_limit(
    line: LineDefinition,
    client: LineClient,
    service: ActionService,
    people: dict[str, User],
    db: Database,
    clock: FakeClock,
) -> None:
    tag = "capper.torque_sp"  # at most 4 writes an hour
    sp = line.tag(tag).setpoint
    assert sp is not None
    assert sp.max_changes_per_hour == 4
    first = Executor(db, line, client, clock=clock)

    def approved(step: float) -> str:
        current = current_of(client, tag)
        action = service.propose(
            tag, round(current + step, 3), requester=people["olga"], reason="torque", snapshot=snapshot_of(client)
        )
        assert action.status is Status.PENDING, action.refusals
        service.approve(action.id, people["otto"])
        return action.id

    for step in (0.04, -0.04, 0.04):
        done = await first.execute(approved(step))
        assert done.status is Status.SUCCEEDED, done.result
        written = done.new_value
        await eventually(lambda v=written: current_of(client, tag) == pytest.approx(v), what="the write seen")
    # Two executors (two processes in a plant: the console's and a shell's) take one approved change each, and both
    # finish their checks of the live line, counting 3 writes, before either commits to writing.
    checked: list[str] = []

    class Racing(Executor):
        async def _live_problems(self, row: ActionRow, tag: str) -> list[str]:
            problems = await super()._live_problems(row, tag)
            checked.append(row.id)
            await eventually(lambda: len(checked) == 2, what="both executors past their checks")
            return problems

    one, other = approved(-0.04), approved(0.04)
    racers = (Racing(db, line, client, clock=clock), Racing(db, line, client, clock=clock))
    results = await asyncio.gather(racers[0].execute(one), racers[1].execute(other))
    statuses = sorted(r.status.value for r in results)
    assert statuses == [Status.FAILED.value, Status.SUCCEEDED.value], [r.result for r in results]
    refused = next(r for r in results if r.status is Status.FAILED)
    assert "changed 4 times in the last hour" in refused.result
