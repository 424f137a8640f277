"""Actions and audit over a real line and database: who may decide, rejections, filters, the switch, the chain."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from copilot.pipeline.db import ActionRow, AuditRow
from copilot.pipeline.states import Status
from tests.console.conftest import Console, button, labels, read, text_of

TAG = "infeed.speed_sp"


def small_change(console: Console, who: str = "olga") -> str:
    """A change within the approval threshold (one approval), pending."""
    action = console.propose(TAG, round(console.value(TAG)) + 2.0, who)
    assert action.status is Status.PENDING, action.refusals
    return action.id


def table(app: AppTest) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = app.dataframe[0].value.to_dict("records")
    return rows


@pytest.mark.parametrize(
    ("who", "may_decide", "says", "audits"),
    [
        ("olga", False, "You asked for this change: someone else must approve it.", False),
        ("otto", True, None, False),
        ("sam", True, None, True),
        ("mia", False, "A maintenance cannot approve changes; an operator or a supervisor can.", False),
        ("ada", False, "An admin cannot approve changes; an operator or a supervisor can.", True),
    ],
)
def test_what_each_role_sees_and_may_click_on_a_pending_change(
    console: Console, who: str, may_decide: bool, says: str | None, audits: bool
) -> None:
    small_change(console)
    app = console.page("actions", who)
    page = text_of(app)
    assert "Waiting for a decision (1)" in page
    assert f"**Proposed change:** {TAG} · ○ waiting for approval" in page
    assert "1 approval needed; given: none yet" in page
    assert "allowed 30 to 70 m/min, at most ±8 per change" in page
    assert ("Approve" in labels(app)) is may_decide
    assert ("Reject" in labels(app)) is may_decide
    assert ("Withdraw" in labels(app)) is (who == "olga"), "only the requester may withdraw"
    if says is not None:
        assert says in read(app.info)
    assert ("Audit trail" in page) is audits
    assert ("Export audit trail (CSV)" in [d.label for d in app.get("download_button")]) is audits
    assert any(b.startswith("Switch writes") for b in labels(app)) is audits
    assert not app.exception


def test_a_rejection_needs_a_reason_and_is_kept_with_it(console: Console) -> None:
    action_id = small_change(console)
    app = console.page("actions", "otto")
    button(app, "Reject").click().run()
    assert "Say why first: a rejection needs a reason." in read(app.error)
    assert console.ctx.service.get(action_id).status is Status.PENDING

    app.text_input(key=f"reject-reason-waiting-{action_id}").input("changeover at noon, not now")
    button(app, "Reject").click().run()
    assert console.ctx.service.get(action_id).status is Status.REJECTED
    page = text_of(app)
    assert f"{TAG}: Rejected: changeover at noon, not now" in read(app.success)
    assert "Waiting for a decision (0)" in page
    assert f"**Proposed change:** {TAG} · ✗ rejected" in page
    assert "Rejected by otto (operator): changeover at noon, not now" in page
    assert [r["status"] for r in table(app)] == ["rejected"]
    history = app.dataframe[1].value
    assert list(history["event"]) == ["proposed", "rejected"]
    assert list(history["by"]) == ["olga", "otto"]
    assert "Approve" not in labels(app)


def test_the_requester_may_withdraw_a_change_with_a_reason(console: Console) -> None:
    action_id = small_change(console)
    app = console.page("actions", "olga")
    app.text_input(key=f"withdraw-reason-waiting-{action_id}").input("asked by mistake")
    button(app, "Withdraw").click().run()
    assert console.ctx.service.get(action_id).status is Status.WITHDRAWN
    assert f"{TAG}: Withdrawn: asked by mistake" in read(app.success)


def test_refusals_show_every_reason_and_filters_narrow_the_list(console: Console) -> None:
    refused = console.propose(TAG, 79.0, "olga", reason="run faster")
    assert refused.status is Status.REFUSED
    torque = console.propose("capper.torque_sp", round(console.value("capper.torque_sp"), 2) + 0.05, "sam")
    assert torque.status is Status.PENDING, torque.refusals
    old = small_change(console, "otto")
    with console.ctx.db.session() as s:  # proposed two days ago, so only a wider time window shows it
        s.execute(update(ActionRow).where(ActionRow.id == old).values(created_at=time.time() - 2 * 86400))

    app = console.page("actions", "sam")
    assert "2 of 3 actions" in text_of(app), "the last 24 h by default"
    assert sorted(r["tag"] for r in table(app)) == ["capper.torque_sp", TAG]

    opener = app.selectbox(key="open-action")
    [label] = [o for o in opener.options if f"· {TAG} · refused ·" in o]
    opener.select(label).run()
    page = text_of(app)
    assert "✗ refused by the rules" in page
    refusals = [e for e in read(app.error) if e.startswith("Refused by the rules:")]
    assert len(refusals) == 1
    assert all(f"- {reason}" in refusals[0] for reason in refused.refusals)

    app.pills[0].set_value(["refused"]).run()
    assert [(r["tag"], r["status"]) for r in table(app)] == [(TAG, "refused")]
    app.pills[0].set_value(["pending", "refused"]).run()
    app.selectbox[1].select("capper.torque_sp").run()
    assert [r["tag"] for r in table(app)] == ["capper.torque_sp"]
    app.selectbox[1].select("any tag").run()
    app.selectbox[2].select("olga").run()
    assert [r["requested by"] for r in table(app)] == ["olga"]
    app.selectbox[2].select("anyone").run()
    app.selectbox[0].select("last 7 days").run()
    assert "3 of 3 actions" in text_of(app)
    assert not app.exception


def test_the_write_switch_needs_a_reason_and_holds_every_approval(console: Console) -> None:
    app = console.page("actions", "sam")
    page = text_of(app)
    assert "Nothing waits for a decision." in page
    assert "No action has been proposed yet." in page
    assert "Writes are **ON**: approved changes are written to the line." in page
    button(app, "Switch writes OFF").click().run()
    assert "Switching writes needs a reason: say why, for the audit trail." in read(app.error)
    assert console.ctx.service.writes_enabled()[0] is True

    app.text_input[-1].input("filler guard being repaired")
    button(app, "Switch writes OFF").click().run()
    assert console.ctx.service.writes_enabled() == (False, "switched off by sam: filler guard being repaired")
    assert "Writes switched OFF: filler guard being repaired" in read(app.success)
    assert "Writes are **OFF**" in text_of(app)
    assert "Switch writes ON" in labels(app)

    small_change(console)
    operator = console.page("actions", "otto")
    warnings = read(operator.warning)
    assert any(w.startswith("Writes to the line are OFF: nothing is written") for w in warnings)
    assert any(w.startswith("Writes to the line are switched off (switched off by sam") for w in warnings)
    assert "Approve" not in labels(operator), "an approval now could only record a failed write"
    assert "Reject" in labels(operator)
    assert "Switch writes ON" not in labels(operator)


def test_the_audit_chain_is_verified_and_a_broken_one_names_its_entry(console: Console) -> None:
    small_change(console)
    app = console.page("actions", "ada")
    with console.ctx.db.session() as s:
        entries = s.query(AuditRow).count()
    assert f"✓ Audit chain verified: {entries} entries, none edited, dropped or moved." in read(app.success)
    assert [d.label for d in app.get("download_button")] == ["Export audit trail (CSV)"]

    with console.ctx.db.session() as s:  # someone edits an entry behind the co-pilot's back
        s.execute(update(AuditRow).where(AuditRow.event == "proposed").values(actor="mallory"))
        broken = s.query(AuditRow.seq).filter(AuditRow.event == "proposed").scalar()
    app.run()
    [error] = [e for e in read(app.error) if "Audit chain" in e]
    assert error.startswith(f"✗ Audit chain broken at entry {broken}: ")
    assert "Keep the database as it is (make a copy)" in error


def test_an_approval_comment_is_kept_with_it(own_console: Console) -> None:
    console = own_console  # the approval writes to the line
    action_id = small_change(console)
    app = console.page("actions", "otto")
    [comment] = [t for t in app.text_input if t.label == "Comment (optional)"]
    comment.input("bowl checked at the HMI")
    button(app, "Approve").click().run(timeout=60)
    approvals = [a for a in console.ctx.service.get(action_id).approvals if a.decision == "approve"]
    assert [(a.user, a.reason) for a in approvals] == [("otto", "bowl checked at the HMI")]
    assert not app.exception


def test_a_supervisor_browses_the_audit_trail_by_event_person_and_words(console: Console) -> None:
    from copilot.pipeline import audit

    sam = console.people["sam"]
    console.ctx.service.set_writes(False, by=sam, reason="CIP in progress")
    console.ctx.service.set_writes(True, by=sam, reason="CIP finished")
    app = console.page("actions", "sam")
    assert not any(d.label == "Export these entries (CSV)" for d in app.get("download_button")), "read on demand"
    app.toggle(key="audit-browse").set_value(True).run()
    app.multiselect(key="audit-events").select("kill_switch_on").run()
    rows = app.dataframe[-1].value.to_dict("records")
    assert [r["event"] for r in rows] == ["kill_switch_on"]
    with console.ctx.db.reader() as s:
        [entry] = [e for e in audit.entries(s) if e.event == "kill_switch_on"]
    assert (rows[0]["#"], rows[0]["hash"], rows[0]["follows"]) == (entry.seq, entry.hash[:12], entry.prev_hash[:12])
    app.multiselect(key="audit-events").unselect("kill_switch_on").run()
    app.text_input(key="audit-search").input("cip finished").run()
    assert [r["event"] for r in app.dataframe[-1].value.to_dict("records")] == ["kill_switch_off"]
    app.text_input(key="audit-person").input("nobody").run()
    assert app.dataframe[-1].value.empty
    assert any(str(c.value).startswith("0 of ") for c in app.caption)
    assert not app.exception
