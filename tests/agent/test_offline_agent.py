"""The co-pilot with the offline engine on a real simulated line and the real plant library."""

from __future__ import annotations

import time

import pytest

from connectors.live_line import LiveLine
from connectors.simulator.thread import SimulatorThread
from copilot.agent import CoPilot
from copilot.agent.workbench import ToolRefused, Workbench
from copilot.errors import ConversationError
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import add_user
from copilot.services.pipeline_ops import Context, approve, propose
from copilot.settings import Settings
from knowledge import KnowledgeBase
from knowledge.embedding import Embedder
from tests.agent.conftest import Pipeline, develop
from tests.helpers import wait_until


@pytest.fixture
def copilot(agent_settings: Settings, live: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline) -> CoPilot:
    """The co-pilot on the package's shared line, which nobody changes."""
    agent = CoPilot(agent_settings, line_view=live, library=library_kb, actions=pipeline.service)
    yield agent
    agent.close()


def test_a_jam_is_explained_with_its_evidence_citations_and_readings(
    own_copilot: CoPilot, own_sim: SimulatorThread, own_live: LiveLine, pipeline: Pipeline
) -> None:
    develop(own_sim, own_live, "conveyor_jam")
    answer = own_copilot.ask("Why did the infeed stop?", thread_id="jam", user=pipeline.operator)
    assert answer.provider == "offline"
    assert not answer.abstained
    top = answer.causes[0]
    assert "jam" in top.cause.lower()
    assert 0.5 <= top.confidence <= 0.99
    assert any("infeed.jam_detected" in e for e in top.evidence_for)
    assert any("Infeed Conveyor" in c.title for c in top.citations)
    assert "jam" in answer.text.lower()
    assert "What to do" in answer.text
    used = {r.tag: r for r in answer.readings}
    assert used["infeed.jam_detected"].value is True
    assert used["infeed.speed"].deviation == "down"
    assert used["infeed.speed"].quality == "good"
    assert used["infeed.speed"].source_time
    # The jam's remedy only asks for a slower conveyor "if jams come back": nothing is drafted at once.
    assert answer.proposals == ()
    assert pipeline.service.list_actions() == []
    # The stopped line's speeds and currents are the jam's effects, said once as such, not causes of their own.
    assert {"line.state", "filler.speed", "capper.speed"} <= set(top.consequences), top.consequences
    assert not set(top.consequences) & {"infeed.jam_detected", "infeed.speed"}, "evidence is not its own effect"
    assert f"Follows from it ({len(top.consequences)} deviations" in answer.text


def test_a_healthy_line_gets_no_fault_found(copilot: CoPilot, pipeline: Pipeline) -> None:
    answer = copilot.ask("Why did the filler stop?", thread_id="healthy", user=pipeline.operator)
    assert answer.abstained
    assert answer.causes == ()
    assert answer.text.startswith("No fault found")
    assert answer.readings, "it shows what it looked at"


def test_a_remedy_that_is_a_setpoint_step_becomes_one_pending_proposal_for_the_asker(
    own_copilot: CoPilot, own_sim: SimulatorThread, own_live: LiveLine, pipeline: Pipeline
) -> None:
    develop(own_sim, own_live, "filler_valve_leak")
    first = own_copilot.ask("Why is the bowl level low?", thread_id="caps", user=pipeline.operator)
    assert "leak" in first.causes[0].cause.lower()
    assert first.text.splitlines()[1].startswith("Do first: Look for product running down one valve"), first.text
    (proposal,) = first.proposals
    assert proposal.tag == "filler.bowl_level_sp"
    assert proposal.status == "pending"
    assert proposal.current is not None
    assert proposal.proposed == pytest.approx(proposal.current + 5)
    action = pipeline.service.get(proposal.action_id)
    assert action.requested_by == "olga"
    assert action.via_agent
    assert action.status is Status.PENDING
    assert action.approvals == []
    # Asking again drafts nothing new: the pending proposal is the same one.
    again = own_copilot.ask("And now?", thread_id="caps", user=pipeline.operator)
    assert [p.action_id for p in again.proposals] == [proposal.action_id]
    assert len(pipeline.service.list_actions()) == 1
    assert any("still waiting for approval" in line for line in again.remembered)


def clutches_past_the_limit(sim: SimulatorThread, live: LiveLine) -> None:
    """Worn clutches, and rejects past the 1 % at which the manual says to replace them at once."""
    develop(sim, live, "capper_clutch_worn")
    wait_until(
        lambda: (r := live.cache.reading("capper.reject_rate")) is not None and float(r.value or 0) > 1.2,  # type: ignore[arg-type]
        timeout_s=60,
        what="the capper's reject rate to pass the manual's 1 % limit",
    )


def test_a_met_replace_condition_leads_and_no_stopgap_is_drafted(
    own_copilot: CoPilot, own_sim: SimulatorThread, own_live: LiveLine, pipeline: Pipeline
) -> None:
    clutches_past_the_limit(own_sim, own_live)
    answer = own_copilot.ask(
        "Capper rejects are high, can we raise the torque?", thread_id="cap", user=pipeline.operator
    )
    top = answer.causes[0]
    assert "clutch" in top.cause.lower()
    assert answer.proposals == (), "the torque stopgap is not drafted once the clutches must be replaced at once"
    assert pipeline.service.list_actions() == []
    assert "replace the worn clutches" in top.lead
    assert "capper.reject_rate" in top.lead
    lines = answer.text.splitlines()
    assert lines[1].startswith("Do first: Lock out and replace the worn clutches"), answer.text
    assert "condition is met: capper.reject_rate" in lines[1]
    met = [s for s in top.steps if s["kind"] == "replace" and s["state"] == "met"]
    assert met, top.steps
    assert any("no setpoint stopgap drafted" in n for n in answer.notes)


def test_a_second_faults_met_replace_condition_is_above_the_fold_and_the_web_break_leads(
    own_copilot: CoPilot, own_sim: SimulatorThread, own_live: LiveLine, pipeline: Pipeline
) -> None:
    # Two faults at once: the web break stops the line, worn clutches had made rejects past the manual's 1 %.
    clutches_past_the_limit(own_sim, own_live)
    develop(own_sim, own_live, "label_web_break")
    answer = own_copilot.ask(
        "Why is the whole line standing, and why were there rejects before?", thread_id="two", user=pipeline.operator
    )
    causes = [c.cause.lower() for c in answer.causes]
    assert "web break" in causes[0], causes  # not "the line is held back", which the web break explains
    clutch = next(c for c in answer.causes if "clutch" in c.cause.lower())
    assert "replace the worn clutches" in clutch.lead
    above_fold = answer.text.split("\n\n")[0]
    assert "Also now, if it is 'Worn magnetic clutch" in above_fold, answer.text
    assert "condition is met: capper.reject_rate" in above_fold
    assert answer.proposals == ()


def test_a_rejected_change_is_not_drafted_again_and_the_answer_says_who_and_why(
    own_copilot: CoPilot, own_sim: SimulatorThread, own_live: LiveLine, pipeline: Pipeline
) -> None:
    develop(own_sim, own_live, "filler_valve_leak")
    first = own_copilot.ask("Why is the bowl level low?", thread_id="leak", user=pipeline.operator)
    (proposal,) = first.proposals
    pipeline.service.reject(proposal.action_id, pipeline.supervisor, "the valve gets changed at 14:00")
    again = own_copilot.ask("Bowl level still low, what now?", thread_id="leak", user=pipeline.operator)
    assert "leak" in again.causes[0].cause.lower()
    assert all(p.tag != "filler.bowl_level_sp" for p in again.proposals), "the rejected change is not drafted again"
    assert len(pipeline.service.list_actions(tag="filler.bowl_level_sp")) == 1
    (said,) = again.remembered
    assert said.startswith(f"{pipeline.supervisor.name} rejected filler.bowl_level_sp")
    assert '"the valve gets changed at 14:00"' in said
    assert " ago)" in said
    assert said in again.text


def test_a_line_that_is_down_gets_no_diagnosis(
    own_copilot: CoPilot, own_sim: SimulatorThread, own_live: LiveLine, pipeline: Pipeline
) -> None:
    own_sim.stop()
    wait_until(lambda: not own_live.available, timeout_s=20, what="the loss of the line to be noticed")
    answer = own_copilot.ask("Why did the filler stop?", thread_id="down", user=pipeline.operator)
    assert answer.abstained
    assert answer.causes == ()
    assert "not available" in answer.text
    assert "stale" in answer.text
    bench = Workbench(own_live, own_copilot.library, pipeline.service, pipeline.operator)
    with pytest.raises(ToolRefused, match="unavailable"):
        bench.trend_summary("filler.bowl_level")
    assert all(row["usable"] is False for row in bench.current_readings(equipment="filler"))


def test_an_empty_knowledge_base_is_said_plainly(
    agent_settings: Settings, live: LiveLine, embedder: Embedder, pipeline: Pipeline, tmp_path
) -> None:
    empty = KnowledgeBase(tmp_path / "empty", embedder=embedder)
    agent = CoPilot(agent_settings, line_view=live, library=empty, actions=pipeline.service)
    try:
        answer = agent.ask("Why did the filler stop?", thread_id="empty", user=pipeline.operator)
    finally:
        agent.close()
    assert answer.abstained
    assert "knowledge base is empty" in answer.text
    assert "copilot ingest" in answer.text


def test_threads_survive_a_restart_and_belong_to_their_owner(
    agent_settings: Settings, live: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> None:
    first = CoPilot(agent_settings, line_view=live, library=library_kb, actions=pipeline.service)
    first.ask("Anything wrong?", thread_id="shift-1", user=pipeline.operator)
    first.close()
    second = CoPilot(agent_settings, line_view=live, library=library_kb, actions=pipeline.service)
    try:
        second.ask("And the filler?", thread_id="shift-1", user=pipeline.operator)
        history = second.thread_history("shift-1", pipeline.operator)
        assert [role for role, _ in history] == ["user", "assistant", "user", "assistant"]
        assert history[0][1] == "Anything wrong?"
        assert history[2][1] == "And the filler?"
        assert len(second.thread_answers("shift-1", pipeline.operator)) == 2
        with pytest.raises(ConversationError, match="belongs to olga"):
            second.ask("Let me see", thread_id="shift-1", user=pipeline.supervisor)
        with pytest.raises(ConversationError, match="thread id"):
            second.ask("Hello", thread_id="no spaces allowed", user=pipeline.operator)
        with pytest.raises(ConversationError, match="empty"):
            second.ask("   ", thread_id="shift-1", user=pipeline.operator)
    finally:
        second.close()


def test_a_setpoint_moved_on_purpose_is_no_fault_and_neither_is_what_followed_it(
    own_copilot: CoPilot,
    own_sim: SimulatorThread,
    own_live: LiveLine,
    pipeline: Pipeline,
    agent_settings: Settings,
    library_kb: KnowledgeBase,
) -> None:
    # An approved, executed slowdown to 540 bottles/min leaves line.speed_sp below its normal band of 580 to 620,
    # and every speed and current of the line with it.
    ctx = Context(agent_settings.model_copy(update={"endpoint": own_sim.sim.endpoint}), pipeline.db)
    otto = add_user(pipeline.db, "otto", Role.OPERATOR, "operator-password-2", by="test", at=time.time())
    action = propose(ctx, otto, "line.speed_sp", 540, "slow down for the new label stock")
    assert approve(ctx, pipeline.operator, action.id).status is Status.PENDING, "a 60 step needs a supervisor too"
    assert approve(ctx, pipeline.supervisor, action.id).status is Status.SUCCEEDED
    wait_until(
        lambda: (r := own_live.cache.reading("line.speed")) is not None and float(r.value or 0) < 555,  # type: ignore[arg-type]
        timeout_s=60,
        what="the line to slow down to its new setpoint",
    )
    answer = own_copilot.ask("Is anything wrong on the line?", thread_id="slow", user=pipeline.operator)
    assert answer.abstained, answer.text
    assert answer.text.startswith("No fault found"), answer.text
    seen = Workbench(own_live, library_kb, pipeline.service, pipeline.operator).observation()
    assert "line.speed_sp" not in seen.deviations
    assert seen.on_purpose["line.speed_sp"].startswith("set on purpose: set 600 → 540 bottles/min by action")
    assert "sam" in seen.on_purpose["line.speed_sp"]
    assert seen.on_purpose["line.speed"].startswith("follows line.speed_sp")
    assert not {"line.speed", "filler.speed", "capper.speed"} & seen.deviations.keys()
    # A fault on top of the slowdown still shows: a hotter bearing goes the other way from a slower line.
    develop(own_sim, own_live, "motor_bearing_overheat")
    after = own_copilot.ask("Why is the filler bearing hot?", thread_id="slow", user=pipeline.operator)
    assert "bearing" in after.causes[0].cause.lower(), after.text
    assert "Not counted as faults, moved on purpose: set 600 → 540 bottles/min" in after.text
