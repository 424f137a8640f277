"""Hostile text in every untrusted field is shown as plain, literal text on every page, for every role that sees it.

Rows are also written raw into the database, past the pipeline's own cleaning, so the console is checked on its own.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from connectors.alarms import ActiveAlarm
from connectors.line import LineDefinition
from connectors.readings import Quality, Reading
from console import messages, services, widgets
from copilot.agent.answer import Answer, DraftedProposal, RankedCause, ReadingUsed
from copilot.errors import NotAllowed
from copilot.pipeline.db import ActionRow, ApprovalRow, SwitchRow
from copilot.pipeline.states import Status
from knowledge import KnowledgeBase
from knowledge.citations import Citation
from knowledge.embedding import Embedder
from tests.console.conftest import Console, as_read, button, read
from tests.console.hostile import CONTROLS, hostile, hostile_name, problems, shown_fields

TAG = "infeed.speed_sp"


def _pending(console: Console, who: str, reason: str) -> str:
    action = console.propose(TAG, round(console.value(TAG)) + 2.0, who, reason=reason)
    assert action.status is Status.PENDING, action.refusals
    return action.id


def test_actions_and_audit_show_reasons_tags_names_and_units_as_text(console: Console) -> None:
    service = console.ctx.service
    waiting = _pending(console, "olga", hostile("reason"))
    rejected = _pending(console, "otto", "to be rejected")
    service.reject(rejected, console.people["sam"], "kept out of the way")
    refused = console.propose(hostile_name("tag"), 50.0, "olga", reason="a tag nobody has")
    assert refused.status is Status.REFUSED
    service.set_writes(False, by=console.people["sam"], reason="guard repair")
    with console.ctx.db.session() as s:  # raw, as another writer or an older version could have left them
        s.execute(
            update(ActionRow)
            .where(ActionRow.id == waiting)
            .values(reason=hostile("reason"), unit=hostile_name("unit"), evidence=json.dumps([hostile("evidence")]))
        )
        s.execute(
            update(ActionRow)
            .where(ActionRow.id == rejected)
            .values(requested_by=hostile_name("name"), result=hostile("result"))
        )
        s.execute(update(ApprovalRow).where(ApprovalRow.action_id == rejected).values(reason=hostile("reject")))
        s.execute(update(ActionRow).where(ActionRow.id == refused.id).values(refusals=json.dumps([hostile("refusal")])))
        s.execute(update(SwitchRow).values(reason=hostile("switch")))
    fields = ["reason", "unit", "evidence", "tag", "refusal", "switch"]
    for who in ("sam", "otto", "mia", "ada"):
        app = console.page("actions", who)
        assert problems(app) == [], who
        assert shown_fields(app, fields) == set(fields), who
        assert not app.exception
    # The rejected one, opened with its history: the person's name, the rejection and the result.
    app = console.page("actions", "sam")
    app.pills[0].set_value(["rejected"]).run()
    [opened] = [o for o in app.selectbox(key="open-action").options if rejected[:8] in o]
    app.selectbox(key="open-action").select(opened).run()
    assert problems(app) == []
    assert shown_fields(app, ["name", "reject", "result"]) == {"name", "reject", "result"}
    page = "\n".join(read(app.caption))
    assert f"Rejected by sam (supervisor): {hostile('reject')}".replace("\u202e", "") not in page, "bidi removed"
    assert "Rejected by sam (supervisor): reject: ![x](http://127.0.0.1:9/img-reject.png)" in page


def test_a_reason_typed_in_the_console_comes_back_as_literal_text(console: Console) -> None:
    action_id = _pending(console, "olga", "slow the infeed")
    app = console.page("actions", "otto")
    app.text_input(key=f"reject-reason-waiting-{action_id}").input(hostile("notice")[:480])
    button(app, "Reject").click().run()
    assert console.ctx.service.get(action_id).status is Status.REJECTED
    assert problems(app) == []
    assert shown_fields(app, ["notice"]) == {"notice"}, "the notice after the click"


def _hostile_citation(field: str) -> Citation:
    return Citation(
        source=f"/library/{hostile_name(field + '-source')}.md",
        doc_id="d",
        chunk_id="c",
        title=hostile(field + "-title"),
        section=hostile(field + "-section"),
        page=None,
        lines="1-2",
        score=1.0,
        text=hostile(field + "-passage") + "\n\n# not a heading\n> not a quote",
        doc_type="manual",
        equipment="infeed",
        revision=hostile_name(field + "-revision"),
        kind="paragraph",
    )


def _hostile_answer(action_id: str) -> Answer:
    citation = _hostile_citation("answer")
    return Answer(
        text=hostile("answer") + "\n\nSecond paragraph " + hostile("answer-2"),
        causes=(
            RankedCause(
                cause=hostile("cause"),
                confidence=0.7,
                remedy=hostile("remedy"),
                code=hostile_name("code"),
                evidence_for=(hostile("evidence-for"),),
                evidence_against=(hostile("evidence-against"),),
                citations=(citation,),
            ),
        ),
        citations=(citation,),
        readings=(
            ReadingUsed(
                tag=hostile_name("reading-tag"),
                value=hostile_name("reading-value"),
                unit=hostile_name("reading-unit"),
                source_time=None,
                quality="good",
            ),
        ),
        proposals=(
            DraftedProposal(
                action_id="",
                tag=hostile_name("drafted-tag"),
                current=None,
                proposed=1.0,
                unit="",
                status="refused",
                reasons=(hostile("drafted-reason"),),
                rationale="",
                needs_supervisor=False,
            ),
            DraftedProposal(
                action_id=action_id,
                tag=TAG,
                current=50.0,
                proposed=52.0,
                unit="m/min",
                status="pending",
                reasons=(),
                rationale="",
                needs_supervisor=False,
            ),
        ),
        provider="openai",
        model=hostile_name("model"),
        latency_s=0.2,
        thread_id="t",
        notes=(hostile("note"),),
    )


def test_the_chat_shows_the_question_and_every_part_of_an_answer_as_text(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    action_id = _pending(console, "olga", "slow down")
    with console.ctx.db.session() as s:
        s.execute(update(ActionRow).where(ActionRow.id == action_id).values(reason=hostile("card-reason")))
    reply = _hostile_answer(action_id)
    monkeypatch.setattr(services, "thread_answers", lambda thread_id, user: [])
    monkeypatch.setattr(services, "ask", lambda question, *, thread_id, user: reply)
    app = console.page("copilot", "otto")
    app.chat_input[0].set_value(hostile("question")).run()
    for element in app.expander:  # every expander's content is in the tree already; the labels are checked too
        assert element.label
    fields = [
        "question",
        "answer",
        "answer-2",
        "cause",
        "remedy",
        "evidence-for",
        "evidence-against",
        "note",
        "answer-title",
        "answer-section",
        "answer-passage",
        "answer-source",
        "answer-revision",
        "code",
        "reading-tag",
        "reading-value",
        "reading-unit",
        "drafted-tag",
        "drafted-reason",
        "model",
        "card-reason",
    ]
    assert problems(app) == []
    assert shown_fields(app, fields) == set(fields)
    # The question and the answer are plain-text elements, not Markdown.
    texts = [t.value for t in app.text]
    assert any(t.startswith("question: ![x](http://127.0.0.1:9/img-question.png)") for t in texts)
    assert any(t.startswith("answer: ![x](http://127.0.0.1:9/img-answer.png)") for t in texts)
    assert not app.exception


@pytest.fixture
def hostile_library(
    console_without_line: Console, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Console:
    """A knowledge base of one hostile manual (title, sections, passages, a troubleshooting table) and one HTML page."""
    folder = tmp_path / "hostile-docs"
    folder.mkdir()
    title = json.dumps(hostile("kb-title"))  # JSON is YAML: the escape sequences survive as \u001b
    row = " | ".join(hostile(f"kb-{col}").replace("|", "/") for col in ("symptom", "cause", "remedy"))
    (folder / "hostile-manual.md").write_text(
        f"---\ntitle: {title}\ndoc_type: manual\nequipment: infeed\nrevision: A\n---\n\n"
        f"# {hostile('kb-heading')}\n\n## {hostile('kb-section')}\n\n{hostile('kb-passage')} infeed jam\n\n"
        "## Troubleshooting\n\n| Code | Symptom | Probable cause | Remedy |\n| --- | --- | --- | --- |\n"
        f"| ZZ-901 | {row} |\n",
        encoding="utf-8",
    )
    (folder / "hostile-page.html").write_text(
        f"<html><head><title>{hostile('html-title')}</title></head><body><h1>{hostile('html-heading')}</h1>"
        f"<p>{hostile('html-passage')} infeed jam</p></body></html>",
        encoding="utf-8",
    )
    kb = KnowledgeBase(tmp_path / "kb", embedder=embedder)
    summary = kb.ingest([folder], progress=False)
    assert not summary.skipped, summary.skipped
    monkeypatch.setattr(services, "knowledge", lambda: kb)
    return console_without_line


def test_troubleshooting_shows_titles_passages_and_records_as_text(hostile_library: Console) -> None:
    app = hostile_library.page("troubleshooting", "mia")
    app.text_input[0].input("img infeed jam approve now")
    button(app, "Search").click().run()
    app.text_input(key="record-code").input("ZZ-901").run()
    found = shown_fields(app, ["kb-title", "kb-section", "kb-passage", "kb-symptom", "kb-cause", "kb-remedy"])
    found |= shown_fields(app, ["html-title", "html-passage"])
    assert {"kb-title", "kb-passage", "kb-cause", "kb-remedy", "html-passage"} <= found, found
    assert problems(app) == []
    assert not app.exception


def test_a_tile_and_an_alarm_row_escape_the_servers_strings_and_stay_one_html_block(line: LineDefinition) -> None:
    tag = line.tag("infeed.speed").model_copy(update={"unit": hostile("unit"), "description": hostile("description")})
    reading = Reading(
        tag=tag.name,
        value=hostile("value") + "\n\n![y](http://127.0.0.1:9/after-blank-line.png)",
        unit=tag.unit,
        source_time=datetime.now(UTC),
        server_time=None,
        received_time=datetime.now(UTC),
        status="Good",
        quality=Quality.GOOD,
    )
    block = widgets.tile(tag, reading, datetime.now(UTC))
    alarm = ActiveAlarm(
        code=hostile_name("code"),
        tag=hostile_name("tag"),
        message=hostile("message"),
        priority="high",
        value=1.0,
        limit=2.0,
        since_s=time.monotonic(),
    )
    for html in (block, widgets.alarm_row(alarm, unit=hostile("alarm-unit"))):
        assert "\n" not in html, "a blank line would end the HTML block and hand the rest to Markdown"
        assert "<img" not in html
        assert "<a " not in html
        assert not CONTROLS.search(html)
    assert "&lt;img src=http://127.0.0.1:9/raw-value.png&gt;" in block
    assert "![x](http://127.0.0.1:9/img-unit.png)" in block


def test_our_messages_quote_what_they_are_about_as_text() -> None:
    said = messages.describe("approving", NotAllowed(hostile("error")))
    assert said.startswith("Could not finish approving: error\\: \\!\\[x\\]")
    assert "approve now" in as_read(said)
    assert not CONTROLS.search(said)


def test_the_signed_in_name_in_the_sidebar_is_text(console_without_line: Console) -> None:
    # Names are held to a plain pattern when people are added; the sidebar does not count on it.
    name = hostile_name("sidebar")
    script = (
        "from console import sidebar\n"
        "from copilot.pipeline.users import Role, User\n"
        f"sidebar.render(User(name={name!r}, role=Role.OPERATOR, active=True))\n"
    )
    app = AppTest.from_string(script, default_timeout=30).run()
    [shown] = [str(m.value) for m in app.sidebar.markdown if "operator" in str(m.value)]
    assert as_read(shown) == "**![n](http://127.0.0.1:9/img-sidebar.png)evlav** · operator"
    # The name is in the sidebar's bold (names are held to [a-z0-9._-] anyway); nothing in it is live.
    assert [p for p in problems(app) if "bold, italics or a heading" not in p] == []
