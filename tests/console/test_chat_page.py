"""The co-pilot page with answers made here (the agent is another module's): streamed text, causes, sources,
readings, proposal cards, provider labels and errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from console import answer_view, services
from copilot.agent.answer import Answer, DraftedProposal, RankedCause, ReadingUsed
from copilot.errors import ModelUnavailable
from copilot.pipeline.users import User
from knowledge.citations import Citation
from tests.console.conftest import Console, as_read, labels, read, text_of

PASSAGE = "Symptom: bottles fall at the transfer. Probable cause: jam at the single-file guide. Remedy: clear it."
CITATION = Citation(
    source="knowledge/library/conveyors-manual.md",
    doc_id="d",
    chunk_id="c",
    title="Infeed Conveyor IC-1 Operating and Maintenance Manual",
    section="Troubleshooting",
    page=None,
    lines="104-109",
    score=1.0,
    text=PASSAGE,
    doc_type="manual",
    equipment="infeed",
    revision="C",
    kind="table",
)


def answer(*, proposals: tuple[DraftedProposal, ...] = (), provider: str = "offline", **changes: object) -> Answer:
    fields: dict[str, object] = {
        "text": "Most likely cause (confidence 0.73): Bottle jam on the single-file conveyor.",
        "causes": (
            RankedCause(
                cause="Bottle jam on the single-file conveyor.",
                confidence=0.73,
                remedy="Stop the infeed, clear the jam, restart.",
                code="INF-101",
                evidence_for=("infeed.jam_detected on",),
                evidence_against=("infeed.motor_current normal",),
                citations=(CITATION,),
            ),
            RankedCause(
                cause="Accumulation table full.",
                confidence=0.21,
                remedy="Check the filler.",
                code="",
                evidence_for=(),
                evidence_against=(),
                citations=(),
            ),
        ),
        "citations": (CITATION,),
        "readings": (
            ReadingUsed(
                tag="infeed.speed",
                value=0.1,
                unit="m/min",
                source_time="2026-11-25T06:00:00+00:00",
                quality="good",
                normal="45 to 55",
                deviation="down",
            ),
        ),
        "proposals": proposals,
        "provider": provider,
        "model": "offline diagnosis engine" if provider == "offline" else "gemma-3-270m",
        "latency_s": 0.31,
        "thread_id": "t",
    }
    fields.update(changes)
    return Answer(**fields)  # type: ignore[arg-type]


def drafted(action_id: str, tag: str, current: float, proposed: float) -> DraftedProposal:
    return DraftedProposal(
        action_id=action_id,
        tag=tag,
        current=current,
        proposed=proposed,
        unit="m/min",
        status="pending",
        reasons=(),
        rationale="slow the infeed while the jam is cleared",
        needs_supervisor=False,
    )


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Questions reach the one service function; a conversation starts empty."""
    questions: list[str] = []
    monkeypatch.setattr(services, "thread_answers", lambda thread_id, user: [])
    return questions


def replies(monkeypatch: pytest.MonkeyPatch, asked: list[str], reply: Answer | Exception) -> None:
    def fake_ask(question: str, *, thread_id: str, user: User) -> Answer:
        asked.append(f"{user.name} in {thread_id.split('-')[0]}: {question}")
        if isinstance(reply, Exception):
            raise reply
        return reply

    monkeypatch.setattr(services, "ask", fake_ask)


def test_an_offline_answer_shows_causes_sources_readings_and_a_proposal_card(
    console: Console, asked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "infeed.speed_sp"
    current = round(console.value(tag))
    action = console.propose(tag, current - 4.0, "olga", reason="slow the infeed while the jam is cleared")
    replies(monkeypatch, asked, answer(proposals=(drafted(action.id, tag, current, current - 4.0),)))
    app = console.page("copilot", "olga")
    assert "Ask about the line in your own words" in text_of(app)
    app.chat_input[0].set_value("Why did the infeed stop?").run()
    assert asked == ["olga in olga: Why did the infeed stop?"]
    page = text_of(app)
    assert answer_view.OFFLINE_LABEL in page
    assert "Most likely cause (confidence 0.73): Bottle jam on the single-file conveyor." in page
    assert [as_read(p.proto.text) for p in app.get("progress")] == [
        "1. Bottle jam on the single-file conveyor. [INF-101] · confidence 0.73",
        "2. Accumulation table full. · confidence 0.21",
    ]
    assert "- for: infeed.jam_detected on\n- against: infeed.motor_current normal" in page
    source = "[1] Infeed Conveyor IC-1 Operating and Maintenance Manual, Troubleshooting, lines 104-109"
    assert source in [as_read(x.label) for x in app.expander]
    assert PASSAGE in [t.value for t in app.text], "the passage itself, under its citation"
    readings = app.dataframe[0].value.to_dict("records")
    when = readings[0].pop("source time")
    assert readings == [
        {"tag": "infeed.speed", "value": "0.1 m/min", "quality": "good", "normal": "45 to 55", "deviation": "down"}
    ]
    local = datetime(2026, 11, 25, 6, 0, tzinfo=UTC).astimezone().strftime("%H:%M:%S")
    assert re.fullmatch(rf"{local} \(\d+\.\d h ago\)", when), when
    assert f"**Proposed change:** {tag} · ○ waiting for approval" in page
    assert "You asked for this change: someone else must approve it." in read(app.info)
    assert "Approve" not in labels(app)
    assert "Answered in 0.31 s" in page
    assert not app.exception


def test_another_operator_may_decide_on_the_card_in_the_chat(
    console: Console, asked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "infeed.speed_sp"
    current = round(console.value(tag))
    action = console.propose(tag, current + 2.0, "olga")
    reply = answer(proposals=(drafted(action.id, tag, current, current + 2.0),))
    monkeypatch.setattr(services, "thread_answers", lambda thread_id, user: [("Why?", reply)])
    app = console.page("copilot", "otto")
    assert [t.value for t in app.chat_message[0].text] == ["Why?"], "the question as plain text"
    assert {"Approve", "Reject"} <= set(labels(app))
    maintenance = console.page("copilot", "mia")
    says = read(maintenance.info)
    assert "A maintenance cannot approve changes; an operator or a supervisor can." in says
    assert "Approve" not in labels(maintenance)


def test_a_model_answer_is_labelled_with_its_model_and_a_refused_draft_says_why(
    console: Console, asked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = DraftedProposal(
        action_id="",
        tag="filler.fill_weight_sp",
        current=502.0,
        proposed=520.0,
        unit="g",
        status="refused",
        reasons=("filler.fill_weight_sp is not writable",),
        rationale="",
        needs_supervisor=False,
    )
    replies(monkeypatch, asked, answer(provider="openai", proposals=(refused,), abstained=True, notes=("3 stale",)))
    app = console.page("copilot", "sam")
    app.chat_input[0].set_value("Fill weight?").run()
    page = text_of(app)
    assert answer_view.OFFLINE_LABEL not in page
    assert "Language model gemma-3-270m (openai)" in page
    assert "The evidence did not point to a cause" in page
    assert "Note: 3 stale" in page
    assert "Proposed change to filler.fill_weight_sp not recorded: filler.fill_weight_sp is not writable" in read(
        app.warning
    )


def test_a_failing_model_is_a_clear_message_and_conversations_can_be_switched(
    console: Console, asked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    replies(monkeypatch, asked, ModelUnavailable("the model server at http://127.0.0.1:9/v1 did not answer"))
    app = console.page("copilot", "olga")
    first = app.session_state["thread_id"]
    app.chat_input[0].set_value("Why is the capper slow?").run()
    [error] = read(app.error)
    assert error.startswith("Could not finish answering: the model server at http://127.0.0.1:9/v1 did not answer")
    assert "or set COPILOT_PROVIDER=offline and restart." in error
    assert not app.exception

    [new] = [b for b in app.button if b.label == "New conversation"]
    new.click().run()
    second = app.session_state["thread_id"]
    assert second != first
    assert second.startswith("olga-")
    assert app.selectbox[0].options == ["New conversation", "Why is the capper slow?"], "named by the first question"
    app.selectbox[0].select("Why is the capper slow?").run()
    assert app.session_state["thread_id"] == first
