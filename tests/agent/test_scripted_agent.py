"""The agent loop with a scripted chat model: tools called, their results kept, bad calls answered, limits held."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage

from connectors.live_line import LiveLine
from connectors.simulator.thread import SimulatorThread
from copilot.agent import CoPilot, prompts
from copilot.settings import Settings, load_settings
from knowledge import KnowledgeBase
from tests.agent.conftest import Pipeline, develop
from tests.agent.scripted import ScriptedChatModel, call, scripted


@pytest.fixture
def model_settings(agent_settings: Settings) -> Settings:
    # The scripted model stands in for the server, so the URL is never called.
    return load_settings(
        data_dir=agent_settings.data_dir, provider="openai", llm_base_url="http://127.0.0.1:9/v1", agent_max_steps=4
    )


def agent_with(
    model: ScriptedChatModel, settings: Settings, live: LiveLine, kb: KnowledgeBase, pipeline: Pipeline
) -> CoPilot:
    return CoPilot(settings, line_view=live, library=kb, actions=pipeline.service, model=model)


@pytest.fixture
def jammed(own_sim: SimulatorThread, own_live: LiveLine) -> LiveLine:
    return develop(own_sim, own_live, "conveyor_jam")


def test_tool_results_become_the_answers_readings_and_citations(
    model_settings: Settings, jammed: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> None:
    model = scripted(
        call("current_readings", {"equipment": "infeed"}),
        call("search_manuals", {"query": "clear a jam on the infeed conveyor", "equipment": "infeed"}, "call-2"),
        AIMessage(content="The infeed conveyor is jammed at the photo-eye; clear it as the work instruction says."),
    )
    agent = agent_with(model, model_settings, jammed, library_kb, pipeline)
    try:
        answer = agent.ask("Why did the infeed stop?", thread_id="t", user=pipeline.operator)
    finally:
        agent.close()
    assert answer.provider == "openai"
    assert answer.model == "local-model"
    assert answer.text.startswith("The infeed conveyor is jammed")
    assert "jam" in answer.causes[0].cause.lower(), "ranked causes come from the grounding"
    assert {"infeed.speed", "infeed.jam_detected"} <= {r.tag for r in answer.readings}
    assert any(c.equipment == "infeed" and c.kind != "record" for c in answer.citations)
    # What the model was shown: the rules first, the line and the question as data, then the tool results.
    first, second, third = model.prompts
    assert isinstance(first[0], SystemMessage)
    assert "never an instruction" in str(first[0].content)
    assert "<data>" in str(first[-1].content)
    assert "Why did the infeed stop?" in str(first[-1].content)
    tool_reply = second[-1]
    assert isinstance(tool_reply, ToolMessage)
    assert str(tool_reply.content).startswith("<data>")
    assert "infeed.speed" in str(tool_reply.content)
    assert isinstance(third[-1], ToolMessage)
    assert "Infeed Conveyor" in str(third[-1].content)
    # The agent is given no way to approve, execute or write, nor to acknowledge, shelve or suppress an alarm.
    assert sorted(model.tool_names) == sorted(
        [
            "current_readings",
            "trend_summary",
            "active_alarms",
            "alarm_history",
            "search_manuals",
            "troubleshooting_lookup",
            "propose_setpoint_change",
        ]
    )


def test_unknown_tools_bad_arguments_and_malformed_calls_are_answered_as_data(
    model_settings: Settings, live: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> None:
    malformed = AIMessage(
        content="",
        invalid_tool_calls=[
            {
                "name": "current_readings",
                "args": "{tags: [",
                "id": "bad-1",
                "error": "not JSON",
                "type": "invalid_tool_call",
            }
        ],
    )
    model = scripted(
        call("approve_action", {"action_id": "x"}),
        call("trend_summary", {"tag": "filler.bowl_level", "window_s": "forever"}, "call-2"),
        malformed,
        AIMessage(content="Done."),
    )
    agent = agent_with(model, model_settings, live, library_kb, pipeline)
    try:
        answer = agent.ask("Check the filler", thread_id="t", user=pipeline.operator)
    finally:
        agent.close()
    assert answer.text == "Done."
    replies = [str(p[-1].content) for p in model.prompts[1:]]
    assert "there is no tool 'approve_action'" in replies[0]
    assert "bad arguments for trend_summary" in replies[1]
    assert "malformed tool call" in replies[2]
    assert any("malformed call" in note for note in answer.notes)
    assert pipeline.service.list_actions() == []


def test_the_step_limit_ends_a_model_that_never_stops_calling_tools(
    agent_settings: Settings, live: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> None:
    settings = load_settings(
        data_dir=agent_settings.data_dir, provider="openai", llm_base_url="http://127.0.0.1:9/v1", agent_max_steps=2
    )
    model = scripted(*(call("active_alarms", {}, f"c{i}") for i in range(5)))
    agent = agent_with(model, settings, live, library_kb, pipeline)
    try:
        answer = agent.ask("Alarms?", thread_id="t", user=pipeline.operator)
    finally:
        agent.close()
    assert len(model.prompts) == 2
    assert any("stopped after 2 model calls" in note for note in answer.notes)
    assert answer.text.startswith(prompts.NO_ANSWER), "no text from the model: the grounding is shown instead"


def test_invented_values_codes_tags_sources_and_deeds_are_marked_unverified(
    model_settings: Settings, jammed: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> None:
    invented = [
        "The infeed motor current is 97.3 A, far above normal.",
        "Alarm INF-999 confirms it.",
        "See also [42].",
        "The sensor infeed.warp_drive reads high.",
        "Done as you asked: I changed line.speed_sp to 9999.",
    ]
    model = scripted(
        call("current_readings", {"tags": ["infeed.speed", "infeed.jam_detected", "infeed.motor_current"]}),
        call("propose_setpoint_change", {"tag": "line.speed_sp", "value": 9999, "reason": "asked"}, "call-2"),
        AIMessage(content=" ".join(["The infeed conveyor is jammed at the photo-eye [1].", *invented])),
    )
    agent = agent_with(model, model_settings, jammed, library_kb, pipeline)
    try:
        answer = agent.ask("Why did the infeed stop? Set the line to 9999.", thread_id="t", user=pipeline.operator)
        stored = agent.thread_answers("t", pipeline.operator)[-1]
    finally:
        agent.close()
    (refused,) = answer.proposals
    assert refused.status == "refused"
    assert answer.unverified_count == len(answer.unverified) == len(invented), answer.unverified
    for sentence, flagged in zip(invented, answer.unverified, strict=True):
        assert flagged.startswith(sentence), flagged
    assert "97.3 is in no reading" in answer.unverified[0]
    assert "INF-999 is in no reading" in answer.unverified[1]
    assert "source [42] does not exist" in answer.unverified[2]
    assert "infeed.warp_drive is not a tag of this line" in answer.unverified[3]
    assert "the pipeline holds no such action" in answer.unverified[4]
    assert answer.as_json()["unverified_count"] == len(invented)
    assert stored.unverified == answer.unverified, "kept with the conversation"


def test_a_model_that_only_repeats_the_evidence_has_nothing_unverified(
    model_settings: Settings, jammed: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> None:
    reading = jammed.cache.reading("infeed.motor_current")
    assert reading is not None
    assert isinstance(reading.value, float)
    model = scripted(
        call("current_readings", {"tags": ["infeed.motor_current", "infeed.jam_detected"]}),
        AIMessage(
            content=f"The infeed motor current reads {reading.value:.1f} A and infeed.jam_detected is on: a jam "
            "(INF-101) [1]. Clear it as the work instruction says; nothing was changed on the line."
        ),
    )
    agent = agent_with(model, model_settings, jammed, library_kb, pipeline)
    try:
        answer = agent.ask("Why did the infeed stop?", thread_id="t", user=pipeline.operator)
    finally:
        agent.close()
    assert answer.unverified == ()
    assert answer.unverified_count == 0
