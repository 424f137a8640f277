"""The shift handover from evidence: nothing open left out, every item traced to its record, two signatures."""

from __future__ import annotations

import uuid

import pytest

from connectors.line import LineDefinition
from copilot.pipeline import alarms, audit, diagnosis_log, handover
from copilot.pipeline.alarms import Observation
from copilot.pipeline.db import ActionRow, Database
from copilot.pipeline.handover import HandoverRefused
from copilot.pipeline.shifts import shift_start
from copilot.pipeline.states import Status
from copilot.pipeline.users import User
from tests.copilot.conftest import FakeClock


def seen(code: str, tag: str) -> Observation:
    return Observation(code=code, tag=tag, priority="high", message=f"{code} message", value=1.0)


def action(db: Database, status: Status, *, at: float, tag: str = "capper.torque_sp", result: str = "") -> str:
    action_id = str(uuid.uuid4())
    with db.session() as s:
        s.add(
            ActionRow(
                id=action_id,
                tag=tag,
                old_value=2.2,
                new_value=2.3,
                unit="N·m",
                reason=f"{status.value} case",
                requested_by="olga",
                status=status.value,
                created_at=at,
                expires_at=at + 300,
                result=result,
                finished_at=at + 10 if status.final or status is Status.UNVERIFIED else None,
            )
        )
    return action_id


@pytest.fixture
def seeded(db: Database, people: dict[str, User], clock: FakeClock, line: LineDefinition) -> dict[str, str]:
    """One of every kind a handover must carry, in the shift that holds the clock's time."""
    start = shift_start(line.line, clock())
    now = clock()
    alarms.observe(
        db,
        {
            o.code: o
            for o in (
                seen("INF-101", "infeed.jam_detected"),
                seen("CAP-301", "capper.reject_rate"),
                seen("FIL-206", "filler.bearing_temp"),
            )
        },
        now=now - 50,
    )
    alarms.shelve(db, "CAP-301", by=people["olga"], seconds=3600, reason="clutch on order", now=now - 40)
    alarms.take_out_of_service(db, "FIL-206", by=people["sam"], reason="probe replaced", now=now - 30)
    ids = {
        "pending": action(db, Status.PENDING, at=now - 20),
        "unverified": action(db, Status.UNVERIFIED, at=start - 7200, result="read back timed out"),  # older shift
        "succeeded": action(db, Status.SUCCEEDED, at=now - 600),
        "rejected": action(db, Status.REJECTED, at=now - 500),
    }
    diagnosis_log.note(
        db,
        person="olga",
        question="why are caps loose?",
        cause="worn capper clutches",
        confidence=0.82,
        abstained=False,
        at=now - 100,
    )
    return ids


def test_every_open_thing_is_in_the_draft_with_its_record(
    db: Database, seeded: dict[str, str], clock: FakeClock, line: LineDefinition
) -> None:
    start = shift_start(line.line, clock())
    drafted = handover.draft(db, line.line, start, now=clock())
    kinds = {(i.kind, i.ref.split()[0]) for i in drafted.items}
    assert ("alarm open", "journal") in kinds
    assert ("alarm shelved", "journal") in kinds
    assert ("alarm out of service", "journal") in kinds
    by_ref = {i.ref: i for i in drafted.items}
    for key, kind in (
        ("pending", "action pending"),
        ("unverified", "action unverified"),
        ("succeeded", "action succeeded"),
        ("rejected", "action rejected"),
    ):
        assert by_ref[f"action {seeded[key][:8]}"].kind == kind, key
    assert "check it on the line (read back timed out)" in by_ref[f"action {seeded['unverified'][:8]}"].text
    shelved = next(i for i in drafted.items if i.kind == "alarm shelved")
    assert "CAP-301" in shelved.text
    assert "olga" in shelved.text
    assert "clutch on order" in shelved.text
    [diagnosis] = [i for i in drafted.items if i.kind == "diagnosis"]
    assert 'olga asked "why are caps loose?": worn capper clutches (0.82)' in diagnosis.text
    for item in drafted.items:
        if item.ref.startswith("journal #"):
            seq = int(item.ref.split("#")[1])
            assert any(e.seq == seq for e in alarms.journal(db)), f"{item.ref} is a real journal line"
    assert set(drafted.figures) == {"this_shift", "previous_shift"}


def test_two_people_sign_the_same_text_once_each_and_the_audit_keeps_it(
    db: Database, seeded: dict[str, str], people: dict[str, User], clock: FakeClock, line: LineDefinition
) -> None:
    start = shift_start(line.line, clock())
    shown = handover.draft(db, line.line, start, now=clock())
    with pytest.raises(HandoverRefused, match="not signed out yet"):
        handover.sign(db, line.line, start, person=people["otto"], side="incoming", digest=shown.digest, now=clock())
    with pytest.raises(HandoverRefused, match="does not sign handovers"):
        handover.sign(db, line.line, start, person=people["mia"], side="outgoing", digest=shown.digest, now=clock())
    out = handover.sign(db, line.line, start, person=people["olga"], side="outgoing", digest=shown.digest, now=clock())
    assert out.signed_out_by == "olga"
    with pytest.raises(HandoverRefused, match="already signed out by olga"):
        handover.sign(db, line.line, start, person=people["oleg"], side="outgoing", digest=shown.digest, now=clock())

    # The line moves on after the signature: the handover stays the text olga signed.
    alarms.observe(db, {"LIN-801": seen("LIN-801", "line.state")}, now=clock() + 5)
    later = handover.draft(db, line.line, start, now=clock() + 10)
    assert later.digest == shown.digest
    assert not any("LIN-801" in i.text for i in later.items)
    with pytest.raises(HandoverRefused, match="signed it out"):
        handover.sign(db, line.line, start, person=people["olga"], side="incoming", digest=shown.digest, now=clock())
    with pytest.raises(HandoverRefused, match="not the handover that was signed out"):
        handover.sign(db, line.line, start, person=people["otto"], side="incoming", digest="0" * 64, now=clock())
    both = handover.sign(db, line.line, start, person=people["otto"], side="incoming", digest=shown.digest, now=clock())
    assert (both.signed_out_by, both.signed_in_by) == ("olga", "otto")
    with db.reader() as s:
        trail = [(e.event, e.actor) for e in audit.entries(s)]
        assert audit.verify(s).ok
    assert ("handover_signed_out", "olga") in trail
    assert ("handover_signed_in", "otto") in trail


def test_a_draft_that_changed_since_it_was_read_is_not_signed(
    db: Database, seeded: dict[str, str], people: dict[str, User], clock: FakeClock, line: LineDefinition
) -> None:
    start = shift_start(line.line, clock())
    read = handover.draft(db, line.line, start, now=clock())
    action(db, Status.PENDING, at=clock() + 1, tag="line.speed_sp")  # a new proposal arrives before the signature
    with pytest.raises(HandoverRefused, match="changed since you read it"):
        handover.sign(db, line.line, start, person=people["olga"], side="outgoing", digest=read.digest, now=clock() + 2)
