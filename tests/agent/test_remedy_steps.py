"""Remedies read as ordered steps with conditions, and those conditions judged against a live cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.alarms import ActiveAlarm
from connectors.cache import Availability, LiveCache, TagInfo
from connectors.line import LineDefinition
from copilot.agent.offline.conditions import JudgedStep, State, judge, resolve
from copilot.agent.offline.observe import observe
from knowledge.citations import RecordHit
from knowledge.steps import ConditionKind, StepKind, moves, parse_steps

CLUTCH = (
    "Run the head torque test to find the heads that release early. As a stopgap, raise `capper.torque_sp` by "
    "0.1 N·m, one step, no supervisor needed, provided the mean torque stays below 2.35 N·m. Lock out and replace "
    "the worn clutches per wi-replace-capper-clutch.docx at the next planned stop, or at once if "
    "`capper.reject_rate` exceeds 1 %."
)
BEARING = (
    "Reduce `line.speed_sp` by 60 bottles/min, a full step that needs the shift supervisor's approval as well as "
    "the operator's, and plan a stop. If `filler.bearing_temp` reaches 75 °C, stop the filler. Lock out, let the "
    "bearing cool and regrease it. If vibration stays above 3 mm/s, replace the bearing."
)
AIR = (
    "Check `air.header_pressure` and the compressor. Do not change `capper.torque_sp`; the heads are not at fault. "
    "If air cannot be restored quickly, reduce `line.speed_sp` by 30 bottles/min."
)


def _record(remedy: str, equipment: str, related: tuple[str, ...]) -> RecordHit:
    return RecordHit(
        kind="symptom",
        code="",
        symptom="test symptom",
        cause="test cause",
        remedy=remedy,
        related_tags=related,
        source="manual.md",
        title="Manual",
        section="Troubleshooting",
        page=None,
        equipment=equipment,
        doc_type="manual",
        score=1.0,
    )


def _cache(line: LineDefinition, values: dict[str, list[float]], *, every_s: float = 1.0) -> LiveCache:
    """A live cache holding each tag's samples, the last one now; every other tag one in-band reading."""
    cache = LiveCache([TagInfo(name=t.name, unit=t.unit, update_interval_s=3600) for t in line.tags])
    cache.set_availability(Availability.AVAILABLE, "test")
    now = datetime.now(UTC)
    for tag in line.tags:
        series = values.get(tag.name)
        if series is None:
            middle = (tag.normal.low + tag.normal.high) / 2 if tag.normal else 0.0
            series = [False] if not tag.data_type.is_numeric else [middle]  # type: ignore[list-item]
        for i, value in enumerate(series):
            at = now - timedelta(seconds=every_s * (len(series) - 1 - i))
            cache.update(tag.name, value, source_time=at, server_time=at, status_code=0, status="Good")
    return cache


def _judged(
    line: LineDefinition, remedy: str, record: RecordHit, cache: LiveCache, alarms: tuple[ActiveAlarm, ...] = ()
) -> list[JudgedStep]:
    now = datetime.now(UTC)
    observation = observe(line, cache, list(alarms), now=now)
    return [judge(step, record, line, observation, cache, now) for step in parse_steps(remedy)]


def test_a_remedy_becomes_ordered_steps_with_their_conditions() -> None:
    steps = parse_steps(CLUTCH)
    assert [s.kind for s in steps] == [StepKind.INSPECT, StepKind.ADJUST, StepKind.REPLACE]
    assert [s.order for s in steps] == [1, 2, 3]
    stopgap, replace = steps[1], steps[2]
    assert (stopgap.tag, stopgap.how, stopgap.amount) == ("capper.torque_sp", "by", pytest.approx(0.1))
    assert stopgap.condition is not None
    assert stopgap.condition.kind is ConditionKind.THRESHOLD
    assert (stopgap.condition.subject, stopgap.condition.op, stopgap.condition.value) == ("the mean torque", "<", 2.35)
    assert stopgap.condition.lasting
    assert replace.urgent
    assert replace.condition is not None
    assert (replace.condition.tag, replace.condition.op, replace.condition.value) == ("capper.reject_rate", ">", 1.0)
    assert replace.condition.unit == "%"


def test_no_sentence_is_dropped_and_unclear_conditions_are_kept_for_a_person() -> None:
    steps = parse_steps(AIR)
    assert [s.kind for s in steps] == [StepKind.INSPECT, StepKind.AVOID, StepKind.OTHER, StepKind.ADJUST]
    assert "".join(s.text for s in steps).replace(" ", "") == AIR.replace(" ", "")
    cut = steps[-1]
    assert cut.amount == -30
    assert cut.condition is not None
    assert cut.condition.kind is ConditionKind.UNCLEAR
    assert cut.condition.text.startswith("If air cannot be restored")
    assert steps[1].tags == ("capper.torque_sp",)


def test_trends_bands_until_and_it_are_read() -> None:
    (trend,) = [s for s in parse_steps("Close the product supply valve by hand if the level keeps rising.")]
    assert trend.kind is StepKind.STOP
    assert trend.condition is not None
    assert trend.condition.kind is ConditionKind.TREND
    assert (trend.condition.subject, trend.condition.direction) == ("the level", "rising")
    until = parse_steps("Until the product is below 10 °C again, lower `chiller.supply_temp_sp` by 1 °C, one step.")
    assert until[0].condition is not None
    assert (until[0].condition.op, until[0].condition.value) == (">=", 10.0), "until below 10 means while at 10 or more"
    it = parse_steps("Check `filler.motor_current`; if it is above 32 A, look for mechanical drag.")
    assert it[1].condition is not None
    assert it[1].condition.tag == "filler.motor_current"
    band = parse_steps("Switch strainer baskets if `chiller.filter_dp` is high.")[0].condition
    assert band is not None
    assert (band.kind, band.tag, band.direction) == (
        ConditionKind.BAND,
        "chiller.filter_dp",
        "high",
    )


def test_moves_counts_only_unconditional_changes() -> None:
    assert moves(BEARING) == {"line.speed_sp": "down"}
    assert moves(AIR) == {}, "a change under a condition is not the remedy's direction"


def test_a_met_threshold_is_said_with_its_value_and_an_unmet_one_too(line: LineDefinition) -> None:
    record = _record(CLUTCH, "capper", ("capper.torque", "capper.reject_rate", "capper.torque_sp"))
    hot = _judged(line, CLUTCH, record, _cache(line, {"capper.reject_rate": [2.5] * 5, "capper.torque": [2.1] * 70}))
    assert hot[0].state is State.MET
    assert not hot[0].conditional
    assert hot[1].state is State.MET, hot[1].detail  # the mean torque stayed below 2.35 all minute
    assert "capper.torque" in hot[1].detail
    assert hot[2].state is State.MET
    assert "capper.reject_rate 2.5 %" in hot[2].detail
    assert "> 1 %" in hot[2].detail
    calm = _judged(line, CLUTCH, record, _cache(line, {"capper.reject_rate": [0.5] * 5, "capper.torque": [2.1] * 70}))
    assert calm[2].state is State.NOT_MET
    assert "not > 1 %" in calm[2].detail
    spiky = _judged(line, CLUTCH, record, _cache(line, {"capper.torque": [2.1] * 30 + [2.5] + [2.1] * 30}))
    assert spiky[1].state is State.NOT_MET, "one reading above 2.35 in the minute: it did not stay below"


def test_a_subject_in_words_is_found_by_unit_and_name(line: LineDefinition) -> None:
    record = _record(BEARING, "filler", ("filler.bearing_temp", "filler.vibration", "line.speed_sp"))
    steps = parse_steps(BEARING)
    vibration = steps[-1]
    assert vibration.condition is not None
    tag, why = resolve(vibration.condition, record, line)
    assert tag is not None, why
    assert tag.name == "filler.vibration"
    judged = _judged(
        line,
        BEARING,
        record,
        _cache(line, {"filler.bearing_temp": [85.6] * 5, "filler.vibration": [3.6] * 70}),
    )
    stop, replace = judged[1], judged[3]
    assert stop.step.kind is StepKind.STOP
    assert stop.state is State.MET
    assert "filler.bearing_temp 85.6 °C" in stop.detail
    assert replace.step.kind is StepKind.REPLACE
    assert replace.state is State.MET


def test_what_no_reading_can_settle_is_a_check_never_met(line: LineDefinition) -> None:
    record = _record(AIR, "capper", ("air.header_pressure",))
    judged = _judged(line, AIR, record, _cache(line, {}))
    assert judged[-1].state is State.CHECK
    nameless = _record("Stop the filler if the gizmo keeps rising.", "filler", ("filler.bearing_temp",))
    (unknown,) = _judged(line, "Stop the filler if the gizmo keeps rising.", nameless, _cache(line, {}))
    assert unknown.state is State.CHECK
    assert "gizmo" in unknown.detail


def test_an_unusable_reading_leaves_the_condition_for_a_person(line: LineDefinition) -> None:
    record = _record(CLUTCH, "capper", ("capper.reject_rate",))
    cache = _cache(line, {"capper.reject_rate": [2.5]})
    at = datetime.now(UTC)
    cache.update(
        "capper.reject_rate", 2.5, source_time=at, server_time=at, status_code=0x80000000, status="BadSensorFailure"
    )
    judged = _judged(line, CLUTCH, record, cache)
    assert judged[2].state is State.CHECK
    assert "capper.reject_rate cannot be judged" in judged[2].detail


def test_a_trend_is_met_only_when_it_moves_the_way_the_words_say(line: LineDefinition) -> None:
    remedy = "Stop the filler if the temperature keeps rising."
    record = _record(remedy, "filler", ("filler.bearing_temp",))
    rising = _judged(line, remedy, record, _cache(line, {"filler.bearing_temp": [70 + i * 0.2 for i in range(60)]}))
    assert rising[0].state is State.MET, rising[0].detail
    assert "rose by" in rising[0].detail
    flat = _judged(
        line, remedy, record, _cache(line, {"filler.bearing_temp": [80.0 + (i % 2) * 0.1 for i in range(60)]})
    )
    assert flat[0].state is State.NOT_MET
    falling = _judged(line, remedy, record, _cache(line, {"filler.bearing_temp": [90 - i * 0.2 for i in range(60)]}))
    assert falling[0].state is State.NOT_MET


def test_an_alarm_condition_is_read_from_the_active_alarms(line: LineDefinition) -> None:
    remedy = "Stop the filler at once if FIL-206 is active."
    (step,) = parse_steps(remedy)
    assert step.condition is not None
    assert step.condition.kind is ConditionKind.ALARM
    record = _record(remedy, "filler", ())
    alarm = ActiveAlarm(
        code="FIL-206", tag="filler.bearing_temp", priority="high", message="hot", value=80.0, limit=75.0, since_s=3.0
    )
    (met,) = _judged(line, remedy, record, _cache(line, {}), alarms=(alarm,))
    assert met.state is State.MET
    (quiet,) = _judged(line, remedy, record, _cache(line, {}))
    assert quiet.state is State.NOT_MET


def test_a_word_in_the_tags_name_beats_one_in_a_description(line: LineDefinition) -> None:
    remedy = "Until the product is below 10 °C again, lower `chiller.supply_temp_sp` by 1 °C, one step."
    record = _record(remedy, "chiller", ("chiller.supply_temp", "chiller.return_temp", "filler.product_temp"))
    (step,) = parse_steps(remedy)
    assert step.condition is not None
    tag, why = resolve(step.condition, record, line)
    assert tag is not None, why
    assert tag.name == "filler.product_temp"
    (warm,) = _judged(line, remedy, record, _cache(line, {"filler.product_temp": [12.5]}))
    assert warm.state is State.MET
    assert "filler.product_temp 12.5 °C (>= 10 °C)" in warm.detail
    (cool,) = _judged(line, remedy, record, _cache(line, {"filler.product_temp": [8.0]}))
    assert cool.state is State.NOT_MET
