"""The alarm journal on SQLite and PostgreSQL: recorded once, kept over a restart, people's acts audited and raced."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from copilot.errors import AlarmNotFound, AlarmRefused, NotAllowed
from copilot.pipeline import alarms, audit, users
from copilot.pipeline.alarm_states import AlarmState, JournalEvent
from copilot.pipeline.alarms import Observation
from copilot.pipeline.db import Database
from copilot.pipeline.users import User
from tests.copilot.conftest import FakeClock

HOT = Observation(code="FIL-206", tag="filler.bearing_temp", priority="high", message="bearing hot", value=81.0)
JAM = Observation(code="INF-101", tag="infeed.jam", priority="urgent", message="infeed jam", value=1.0)


def events(db: Database, code: str | None = None) -> list[str]:
    return [e.event for e in alarms.journal(db, code=code)]


def test_two_consoles_seeing_one_activation_record_it_once(db: Database, clock: FakeClock) -> None:
    assert [e.event for e in alarms.observe(db, {"FIL-206": HOT}, now=clock())] == ["activated"]
    assert alarms.observe(db, {"FIL-206": HOT}, now=clock() + 0.5) == [], "the second console finds it recorded"
    [shown] = alarms.alarms(db, now=clock())
    assert (shown.code, shown.state, shown.status.occurrence) == ("FIL-206", AlarmState.UNACKED, 1)
    clock.advance(30)
    assert [e.event for e in alarms.observe(db, {}, now=clock())] == ["returned to normal"]
    [shown] = alarms.alarms(db, now=clock())
    assert shown.state is AlarmState.RTN_UNACKED, "cleared before anyone saw it: it waits for a person"


def test_the_journal_and_the_states_outlive_a_restart(db_url: str, db: Database, clock: FakeClock) -> None:
    alarms.observe(db, {"FIL-206": HOT, "INF-101": JAM}, now=clock())
    db.dispose()
    reopened = Database(db_url, create=False)
    try:
        assert {a.code: a.state for a in alarms.alarms(reopened, now=clock())} == {
            "INF-101": AlarmState.UNACKED,
            "FIL-206": AlarmState.UNACKED,
        }
        assert [a.code for a in alarms.alarms(reopened, now=clock())] == ["INF-101", "FIL-206"], "urgent first"
        assert len(alarms.journal(reopened)) == 2
    finally:
        reopened.dispose()


def test_people_acts_are_journaled_and_audited(db: Database, people: dict[str, User], clock: FakeClock) -> None:
    alarms.observe(db, {"FIL-206": HOT}, now=clock())
    done = alarms.acknowledge(db, "FIL-206", by=people["olga"], occurrence=1, now=clock() + 5)
    assert done.state is AlarmState.ACKED
    shelved = alarms.shelve(
        db, "FIL-206", by=people["sam"], seconds=600, reason="probe being cleaned", now=clock() + 10
    )
    assert shelved.state is AlarmState.SHELVED
    assert events(db) == ["activated", "acknowledged", "shelved"]
    [ack_line] = [e for e in alarms.journal(db) if e.event == "acknowledged"]
    assert (ack_line.actor, ack_line.occurrence, ack_line.state) == ("olga", 1, "acknowledged")
    with db.reader() as s:
        trail = [(e.event, e.actor, e.details.get("alarm"), e.details.get("reason")) for e in audit.entries(s)]
        assert audit.verify(s).ok
    assert ("alarm_acknowledged", "olga", "FIL-206", None) in trail
    assert ("alarm_shelved", "sam", "FIL-206", "probe being cleaned") in trail


def test_a_shelf_that_runs_out_is_journaled_and_the_alarm_needs_a_person_again(
    db: Database, people: dict[str, User], clock: FakeClock
) -> None:
    alarms.observe(db, {"FIL-206": HOT}, now=clock())
    alarms.acknowledge(db, "FIL-206", by=people["olga"], occurrence=None, now=clock())
    alarms.shelve(db, "FIL-206", by=people["olga"], seconds=300, reason="probe cleaning", now=clock())
    clock.advance(299)
    assert alarms.observe(db, {"FIL-206": HOT}, now=clock()) == []
    clock.advance(1)
    assert [e.event for e in alarms.observe(db, {"FIL-206": HOT}, now=clock())] == ["shelf ended"]
    [shown] = alarms.alarms(db, now=clock())
    assert shown.state is AlarmState.UNACKED
    assert events(db)[-1] == JournalEvent.SHELF_ENDED.value


def test_an_act_on_an_expired_shelf_records_its_end_first(
    db: Database, people: dict[str, User], clock: FakeClock
) -> None:
    alarms.observe(db, {"FIL-206": HOT}, now=clock())
    alarms.shelve(db, "FIL-206", by=people["olga"], seconds=60, reason="probe cleaning", now=clock())
    alarms.acknowledge(db, "FIL-206", by=people["oleg"], occurrence=1, now=clock() + 61)
    assert events(db) == ["activated", "shelved", "shelf ended", "acknowledged"]
    [shown] = alarms.alarms(db, now=clock() + 62)
    assert shown.state is AlarmState.ACKED


def test_the_role_held_now_decides(db: Database, people: dict[str, User], clock: FakeClock) -> None:
    alarms.observe(db, {"FIL-206": HOT}, now=clock())
    users.deactivate(db, "oleg", admin=people["ada"], at=clock())
    with pytest.raises(NotAllowed, match="no active user"):
        alarms.acknowledge(db, "FIL-206", by=people["oleg"], occurrence=1, now=clock())
    with pytest.raises(AlarmRefused, match="a supervisor may"):
        alarms.take_out_of_service(db, "FIL-206", by=people["olga"], reason="broken", now=clock())
    with pytest.raises(AlarmNotFound, match="alarms list"):
        alarms.acknowledge(db, "NOPE-1", by=people["olga"], occurrence=1, now=clock())
    assert events(db) == ["activated"], "nothing refused reached the journal"


def test_alarms_chattering_within_a_minute_are_named(db: Database, clock: FakeClock) -> None:
    for _ in range(3):
        alarms.observe(db, {"FIL-206": HOT}, now=clock())
        clock.advance(5)
        alarms.observe(db, {}, now=clock())
        clock.advance(5)
    [shown] = alarms.alarms(db, now=clock())
    assert shown.chattering
    clock.advance(120)
    [later] = alarms.alarms(db, now=clock())
    assert not later.chattering


def _acknowledge_at_once(url: str, name: str, start: Barrier, out: Queue[tuple[str, str]]) -> None:
    db = Database(url, create=False)
    person = users.get_user(db, name)
    start.wait(timeout=60)
    try:
        alarms.acknowledge(db, "FIL-206", by=person, occurrence=1, now=1_900_000_100.0)
        out.put((name, "done"))
    except AlarmRefused as err:
        out.put((name, str(err)))
    finally:
        db.dispose()


@pytest.mark.slow
def test_people_acknowledging_at_the_same_moment_from_their_own_processes_record_one_acknowledgement(
    db_url: str, db: Database, people: dict[str, User], clock: FakeClock, tmp_path: Path
) -> None:
    alarms.observe(db, {"FIL-206": HOT}, now=clock())
    names = ["olga", "oleg", "otto", "sam"]
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(len(names)), context.Queue()
    racers = [context.Process(target=_acknowledge_at_once, args=(db_url, n, start, out)) for n in names]
    for racer in racers:
        racer.start()
    results = dict(out.get(timeout=120) for _ in names)
    for racer in racers:
        racer.join(timeout=30)
    assert sorted(results.values()).count("done") == 1, results
    assert all("nothing to acknowledge" in r for r in results.values() if r != "done"), results
    assert events(db).count("acknowledged") == 1
    with db.reader() as s:
        assert [e.event for e in audit.entries(s)].count("alarm_acknowledged") == 1


def test_an_alarm_whose_tag_has_no_good_reading_is_neither_raised_nor_cleared(db: Database, clock: FakeClock) -> None:
    alarms.observe(db, {"FIL-206": HOT}, now=clock())
    clock.advance(1)
    # Just reconnected: the bearing temperature has no reading yet, the jam tag has one and is clear.
    assert alarms.observe(db, {}, now=clock(), unjudged={"FIL-206"}) == []
    [shown] = alarms.alarms(db, now=clock())
    assert shown.state is AlarmState.UNACKED
    assert [e.event for e in alarms.observe(db, {}, now=clock())] == ["returned to normal"]
