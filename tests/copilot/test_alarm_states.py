"""An alarm's states and moves as ISA-18.2 draws them, and who may make each move."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.errors import AlarmRefused
from copilot.pipeline import alarm_states
from copilot.pipeline.alarm_states import AlarmState, AlarmStatus, JournalEvent
from copilot.pipeline.states import Role

T0 = 1_900_000_000.0


def fresh() -> AlarmStatus:
    return AlarmStatus(code="FIL-206", tag="filler.bearing_temp", priority="high", message="bearing hot")


def active() -> AlarmStatus:
    move = alarm_states.activate(fresh(), value=81.0, now=T0)
    assert move is not None
    return move.after


def ack(
    status: AlarmStatus, *, role: Role = Role.OPERATOR, occurrence: int | None = None, now: float = T0
) -> alarm_states.Move:
    return alarm_states.acknowledge(status, role=role, person="olga", occurrence=occurrence, now=now)


def test_an_alarm_acknowledged_while_active_is_normal_once_its_condition_clears() -> None:
    status = active()
    assert status.state(T0) is AlarmState.UNACKED
    assert status.occurrence == 1
    acked = ack(status).after
    assert acked.state(T0) is AlarmState.ACKED
    cleared = alarm_states.clear(acked, value=70.0, now=T0 + 5)
    assert cleared is not None
    assert cleared.event is JournalEvent.RETURNED
    assert cleared.after.state(T0 + 5) is AlarmState.NORMAL


def test_an_alarm_that_cleared_unseen_waits_for_its_acknowledgement() -> None:
    cleared = alarm_states.clear(active(), value=70.0, now=T0 + 5)
    assert cleared is not None
    assert cleared.after.state(T0 + 5) is AlarmState.RTN_UNACKED
    assert ack(cleared.after, now=T0 + 6).after.state(T0 + 6) is AlarmState.NORMAL


def test_moves_the_journal_already_has_are_not_made_twice() -> None:
    status = active()
    assert alarm_states.activate(status, value=82.0, now=T0 + 1) is None, "a second console saw the same activation"
    assert alarm_states.clear(fresh(), value=20.0, now=T0) is None
    with pytest.raises(AlarmRefused, match="nothing to acknowledge"):
        ack(ack(status).after)


def test_an_acknowledgement_names_the_occurrence_it_saw() -> None:
    first = active()
    again = alarm_states.activate(alarm_states.clear(first, value=70.0, now=T0 + 1).after, value=80.0, now=T0 + 2)  # type: ignore[union-attr]
    assert again is not None
    assert again.after.occurrence == 2
    with pytest.raises(AlarmRefused, match="activated again since you saw it"):
        ack(again.after, occurrence=1, now=T0 + 3)
    assert ack(again.after, occurrence=2, now=T0 + 3).after.state(T0 + 3) is AlarmState.ACKED


@pytest.mark.parametrize("role", [Role.MAINTENANCE, Role.ADMIN])
def test_only_the_operator_position_acknowledges_and_shelves(role: Role) -> None:
    with pytest.raises(AlarmRefused, match="may not acknowledge"):
        ack(active(), role=role)
    with pytest.raises(AlarmRefused, match="may not shelve"):
        alarm_states.shelve(active(), role=role, person="mia", seconds=600, reason="sensor swap", now=T0)


def test_out_of_service_is_a_supervisors_decision_with_a_reason() -> None:
    with pytest.raises(AlarmRefused, match="a supervisor may"):
        alarm_states.take_out_of_service(active(), role=Role.OPERATOR, person="olga", reason="broken probe", now=T0)
    with pytest.raises(AlarmRefused, match="say why"):
        alarm_states.take_out_of_service(active(), role=Role.SUPERVISOR, person="sam", reason="  ", now=T0)
    removed = alarm_states.take_out_of_service(
        active(), role=Role.SUPERVISOR, person="sam", reason="broken probe", now=T0
    )
    assert removed.after.state(T0) is AlarmState.OUT_OF_SERVICE
    assert not removed.after.state(T0).annunciated
    back = alarm_states.return_to_service(removed.after, role=Role.SUPERVISOR, person="sam", now=T0 + 60)
    assert back.after.state(T0 + 60) is AlarmState.UNACKED, "still active: it comes back needing a person"


@pytest.mark.parametrize(("seconds", "reason"), [(0, "x"), (-5, "x"), (13 * 3600, "x"), (600, "")])
def test_a_shelf_has_a_reason_and_a_bounded_time(seconds: float, reason: str) -> None:
    with pytest.raises(AlarmRefused):
        alarm_states.shelve(active(), role=Role.OPERATOR, person="olga", seconds=seconds, reason=reason, now=T0)


def test_a_shelf_that_runs_out_brings_an_active_alarm_back_unacknowledged() -> None:
    acked = ack(active()).after
    shelved = alarm_states.shelve(
        acked, role=Role.OPERATOR, person="olga", seconds=600, reason="probe cleaning", now=T0
    ).after
    assert shelved.state(T0 + 599) is AlarmState.SHELVED
    assert alarm_states.end_shelf(shelved, now=T0 + 599) is None
    # Already shown as back before the journal records the end: a banner must not wait for the watcher.
    assert shelved.state(T0 + 600) is AlarmState.UNACKED
    ended = alarm_states.end_shelf(shelved, now=T0 + 600)
    assert ended is not None
    assert ended.event is JournalEvent.SHELF_ENDED
    assert ended.after.state(T0 + 600) is AlarmState.UNACKED
    with pytest.raises(AlarmRefused, match="already shelved"):
        alarm_states.shelve(shelved, role=Role.OPERATOR, person="oleg", seconds=60, reason="again", now=T0 + 1)


def test_a_shelved_alarm_that_cleared_comes_back_normal() -> None:
    shelved = alarm_states.shelve(
        active(), role=Role.OPERATOR, person="olga", seconds=600, reason="probe", now=T0
    ).after
    cleared = alarm_states.clear(shelved, value=60.0, now=T0 + 10)
    assert cleared is not None
    assert cleared.after.state(T0 + 10) is AlarmState.SHELVED
    back = alarm_states.unshelve(cleared.after, role=Role.SUPERVISOR, person="sam", now=T0 + 20)
    assert back.after.state(T0 + 20) is AlarmState.NORMAL


MOVES = st.sampled_from(["activate", "clear", "ack", "shelve", "unshelve", "oos", "in_service", "wait"])


@settings(max_examples=300, deadline=None)
@given(st.lists(MOVES, max_size=25))
def test_any_sequence_keeps_the_rules(steps: list[str]) -> None:
    status, now = fresh(), T0
    for step in steps:
        now += 100
        before = status.state(now)
        try:
            move = _apply(step, status, now)
        except AlarmRefused:
            continue
        if move is None:
            continue
        if move.event is JournalEvent.ACKNOWLEDGED:
            assert before.needs_ack, "only an alarm waiting for a person is acknowledged"
        status = move.after
        state = status.state(now)
        # The state and the condition never contradict each other.
        if move.event is JournalEvent.ACKNOWLEDGED:
            assert not state.needs_ack, "an acknowledged alarm is not waiting for a person any more"
        if state in (AlarmState.UNACKED, AlarmState.ACKED):
            assert status.active
        if state in (AlarmState.NORMAL, AlarmState.RTN_UNACKED):
            assert not status.active
        if move.event in (JournalEvent.UNSHELVED, JournalEvent.SHELF_ENDED, JournalEvent.IN_SERVICE):
            assert state is (AlarmState.UNACKED if status.active else AlarmState.NORMAL)


def _apply(step: str, s: AlarmStatus, now: float) -> alarm_states.Move | None:
    if step == "activate":
        return alarm_states.activate(s, value=80.0, now=now)
    if step == "clear":
        return alarm_states.clear(s, value=60.0, now=now)
    if step == "ack":
        return ack(s, now=now)
    if step == "shelve":
        return alarm_states.shelve(s, role=Role.OPERATOR, person="o", seconds=250, reason="r", now=now)
    if step == "unshelve":
        return alarm_states.unshelve(s, role=Role.OPERATOR, person="o", now=now)
    if step == "oos":
        return alarm_states.take_out_of_service(s, role=Role.SUPERVISOR, person="s", reason="r", now=now)
    if step == "in_service":
        return alarm_states.return_to_service(s, role=Role.SUPERVISOR, person="s", now=now)
    return alarm_states.end_shelf(s, now=now)
