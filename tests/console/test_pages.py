"""Every page of the console for every role, in Streamlit's AppTest, over a real simulated line and database."""

from __future__ import annotations

import time
from functools import partial

import pytest
from streamlit.testing.v1 import AppTest

from console import services
from console.navigation import page_specs
from copilot.actions import Action, Status
from copilot.answer import Answer, DraftedProposal, RankedCause, ReadingUsed
from copilot.policy import LineSnapshot
from copilot.users import Role, User
from knowledge import KnowledgeBase
from tests.console.conftest import PASSWORD, ROOT, Console


def text_of(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [t.value for t in app.title]
    parts += [e.value for e in app.error] + [w.value for w in app.warning] + [i.value for i in app.info]
    parts += [s.value for s in app.success] + [x.label for x in app.expander]
    return "\n".join(str(p) for p in parts)


def button(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    found = [b for b in app.button if b.label == label]
    assert found, f"no button {label!r}; buttons: {[b.label for b in app.button]}"
    return found[0]


def propose(tag: str, value: float, who: User) -> Action:
    live = services.live_line()
    snapshot = LineSnapshot(available=live.available, readings=live.cache.readings())
    return services.context().service.propose(tag, value, requester=who, reason="test change", snapshot=snapshot)


@pytest.mark.parametrize(
    ("role", "titles"),
    [
        (Role.OPERATOR, ["Line", "Co-pilot", "Troubleshooting", "Actions and audit"]),
        (Role.SUPERVISOR, ["Line", "Co-pilot", "Troubleshooting", "Actions and audit"]),
        (Role.MAINTENANCE, ["Line", "Troubleshooting", "Co-pilot", "Actions and audit"]),
        (Role.ADMIN, ["Line", "Troubleshooting", "Actions and audit"]),
    ],
)
def test_each_role_is_offered_its_pages(role: Role, titles: list[str]) -> None:
    assert [p.title for p in page_specs(User(name="x", role=role, active=True))] == titles


def test_nothing_shows_before_sign_in_and_a_wrong_password_is_one_message(console: Console) -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert "Line co-pilot" in text_of(app)
    assert "data-tag=" not in text_of(app)
    assert not app.sidebar.markdown, "no line state before sign-in"
    app.text_input[0].input("olga")
    app.text_input[1].input("not the password")
    app.button[0].click().run()
    assert [e.value for e in app.error] == [
        "Unknown user or wrong password. Ask your supervisor if you have no account."
    ]
    app.text_input[1].input(PASSWORD)
    app.button[0].click().run()
    assert app.session_state["user"].name == "olga"
    page = text_of(app)
    assert "Newest value" in page
    assert 'data-tag="filler.bowl_level"' in page
    assert "Line connected" in " ".join(m.value for m in app.sidebar.markdown)
    assert not app.exception


def test_the_line_page_shows_tiles_and_alarms_by_priority_with_text(console: Console) -> None:
    assert console.sim is not None
    app = console.page("line_page", "olga")
    assert "No active alarm" in text_of(app)
    assert 'data-tag="infeed.speed"' in text_of(app)
    console.sim.call(partial(console.sim.sim.inject, "conveyor_jam"))
    time.sleep(3)
    app.run()
    page = text_of(app)
    assert "INF-101" in page
    assert "▲ HIGH" in page, "priority as text, not colour alone"
    assert "outside normal" in page
    assert not app.exception


def test_stale_values_are_greyed_with_their_age_when_the_line_goes_down(console: Console) -> None:
    assert console.sim is not None
    console.sim.stop()
    live = services.live_line()
    deadline = time.monotonic() + 20
    while live.available and time.monotonic() < deadline:
        time.sleep(0.2)
    app = console.page("line_page", "olga")
    page = text_of(app)
    assert 'class="tile dim"' in page
    assert "line down · " in page
    assert " s old" in page
    assert "Alarm state unknown while the line is unavailable" in page
    full = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    full.session_state["user"] = console.people["olga"]
    full.run()
    assert "Line unavailable" in " ".join(m.value for m in full.sidebar.markdown)


def test_a_line_that_was_never_reached_shows_no_values_and_says_so(console_without_line: Console) -> None:
    app = console_without_line.page("line_page", "olga")
    page = text_of(app)
    assert "no reading yet" in page
    assert "Alarm state unknown" in page
    assert not app.exception


def test_an_empty_knowledge_base_is_a_clear_message(console_without_line: Console) -> None:
    app = console_without_line.page("troubleshooting_page", "mia")
    assert [w.value for w in app.warning] == [
        "The knowledge base is empty. Ingest the plant library with `copilot ingest PATH` and reload."
    ]


def test_troubleshooting_search_with_citations_and_records_by_code(
    console_without_line: Console, library_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "knowledge", lambda: library_kb)
    app = console_without_line.page("troubleshooting_page", "mia")
    app.text_input[0].input("caps loose and leaking")
    app.selectbox[0].select("Capper")
    button(app, "Search").click().run()
    page = text_of(app)
    assert "Capper RC-24" in page
    assert "Full passage" in page
    app.text_input(key="record-code").input("INF-101").run()
    page = text_of(app)
    assert "INF-101" in page
    assert "Remedy:" in "\n".join(m.value for m in app.markdown)


def test_supervisors_see_the_audit_chain_and_switch_writes_with_a_reason(console: Console) -> None:
    operator = console.page("actions_page", "olga")
    assert "Audit trail" not in text_of(operator)
    app = console.page("actions_page", "sam")
    page = text_of(app)
    assert "Audit chain verified" in page
    assert "Writes are **ON**" in page
    button(app, "Switch writes OFF").click().run()
    assert "Switching writes needs a reason." in text_of(app)
    app.text_input[-1].input("filler guard being repaired")
    button(app, "Switch writes OFF").click().run()
    assert "Writes are **OFF**" in text_of(app)
    assert services.context().service.writes_enabled()[0] is False


def test_approve_writes_to_the_line_and_reject_needs_a_reason(console: Console) -> None:
    assert console.sim is not None
    action = propose("infeed.speed_sp", 52.0, console.people["olga"])
    assert action.status is Status.PENDING
    own = console.page("actions_page", "olga")
    assert "someone else must approve it" in text_of(own)
    maintenance = console.page("actions_page", "mia")
    assert "A maintenance cannot approve changes." in text_of(maintenance)
    app = console.page("actions_page", "otto")
    button(app, "Approve").click().run(timeout=60)
    assert services.context().service.get(action.id).status is Status.SUCCEEDED
    assert console.sim.sim.process.values()["infeed.speed_sp"] == 52.0

    second = propose("infeed.speed_sp", 50.0, console.people["olga"])
    app = console.page("actions_page", "sam")
    button(app, "Reject").click().run()
    assert "A rejection needs a reason." in text_of(app)
    app.text_input(key=f"reject-reason-actions-{second.id}").input("not now, changeover at noon")
    button(app, "Reject").click().run()
    assert services.context().service.get(second.id).status is Status.REJECTED


def test_the_chat_shows_an_offline_answer_with_causes_sources_readings_and_a_proposal_card(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    action = propose("infeed.speed_sp", 46.0, console.people["olga"])
    from knowledge.citations import Citation

    citation = Citation(
        source="conveyors-manual.md",
        doc_id="d",
        chunk_id="c",
        title="Infeed Conveyor IC-1 Operating and Maintenance Manual",
        section="Troubleshooting",
        page=None,
        lines="104-109",
        score=1.0,
        text="Bottle jam on the single-file conveyor.",
        doc_type="manual",
        equipment="infeed",
        revision="C",
        kind="table",
    )
    answer = Answer(
        text="Most likely cause (confidence 0.73): Bottle jam on the single-file conveyor.",
        causes=(
            RankedCause(
                cause="Bottle jam on the single-file conveyor.",
                confidence=0.73,
                remedy="Clear the jam.",
                code="",
                evidence_for=("infeed.jam_detected on",),
                evidence_against=(),
                citations=(citation,),
            ),
        ),
        citations=(citation,),
        readings=(
            ReadingUsed(
                tag="infeed.speed", value=0.1, unit="m/min", source_time="2026-11-25T06:00:00+00:00", quality="good"
            ),
        ),
        proposals=(
            DraftedProposal(
                action_id=action.id,
                tag="infeed.speed_sp",
                current=50.0,
                proposed=46.0,
                unit="m/min",
                status="pending",
                reasons=(),
                rationale="test",
                needs_supervisor=False,
            ),
        ),
        provider="offline",
        model="offline diagnosis engine",
        latency_s=0.31,
        thread_id="t",
    )
    asked: list[str] = []

    def fake_ask(question: str, *, thread_id: str, user: User) -> Answer:
        asked.append(f"{user.name}: {question}")
        return answer

    monkeypatch.setattr(services, "ask", fake_ask)
    monkeypatch.setattr(services, "thread_answers", lambda thread_id, user: [])
    app = console.page("chat_page", "olga")
    app.chat_input[0].set_value("Why did the infeed stop?").run()
    assert asked == ["olga: Why did the infeed stop?"]
    page = text_of(app)
    assert "Offline diagnosis engine" in page
    assert "Ranked causes" in page
    assert "[1] Infeed Conveyor IC-1 Operating and Maintenance Manual, Troubleshooting, lines 104-109" in page
    assert "Proposed change: infeed.speed_sp" in page
    assert "someone else must approve it" in page
    assert not app.exception
