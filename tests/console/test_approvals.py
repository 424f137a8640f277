"""Approvals from the console write to a real simulated line through the executor, and second approvals wait."""

from __future__ import annotations

from copilot.pipeline.states import Status
from tests.console.conftest import Console, button, labels, read, text_of


def test_an_operator_approves_a_small_change_and_it_is_written(own_console: Console) -> None:
    sim = own_console.sim
    assert sim is not None
    tag = "infeed.speed_sp"
    target = round(own_console.value(tag)) + 2.0
    action = own_console.propose(tag, target, "olga")
    assert action.status is Status.PENDING, action.refusals

    app = own_console.page("actions", "otto")
    button(app, "Approve").click().run(timeout=60)
    done = own_console.ctx.service.get(action.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert sim.sim.process.values()[tag] == target, "the simulated line holds the new setpoint"
    assert f"{tag}: Approved and written to the line: read back {target:g} m/min." in read(app.success)
    page = text_of(app)
    assert f"**Proposed change:** {tag} · ✓ written and read back" in page
    assert app.dataframe[0].value.to_dict("records")[0]["status"] == "executed"
    events = list(app.dataframe[1].value["event"])
    assert events[0] == "proposed"
    assert "approved" in events
    assert events[-1] == "verified"
    assert not app.exception


def test_a_big_change_waits_for_a_supervisor_and_the_last_approval_writes(own_console: Console) -> None:
    sim = own_console.sim
    assert sim is not None
    tag = "labeler.web_tension_sp"
    before = own_console.value(tag)
    target = round(before) + 6.0  # above the approval threshold of 4 N, within the step of 8 N
    action = own_console.propose(tag, target, "olga")
    assert action.status is Status.PENDING, action.refusals
    assert action.supervisor_needed

    app = own_console.page("actions", "otto")
    assert "2 approvals needed, one of them a supervisor's; given: none yet" in text_of(app)
    button(app, "Approve").click().run(timeout=60)
    assert "Your approval is recorded; the change waits for the next approval." in read(app.success)[0]
    page = text_of(app)
    assert "2 approvals needed, one of them a supervisor's; given: otto (operator)" in page
    assert "You have approved it already; it waits for another person." in read(app.info)
    assert own_console.ctx.service.get(action.id).status is Status.PENDING
    assert sim.sim.process.values()[tag] == before, "nothing written after the first of two approvals"

    other = own_console.page("actions", "oleg")
    assert "The last approval of this change must be a supervisor's." in read(other.info)
    assert "Approve" not in labels(other)

    boss = own_console.page("actions", "sam")
    button(boss, "Approve").click().run(timeout=60)
    assert own_console.ctx.service.get(action.id).status is Status.SUCCEEDED
    assert sim.sim.process.values()[tag] == target
    assert "given: otto (operator), sam (supervisor)" in text_of(boss)
    assert not boss.exception
