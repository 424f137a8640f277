"""Every refusal path of policy, each on its own, over a snapshot of the line built from the definition."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from connectors.line import LineDefinition
from connectors.readings import Quality, Reading
from copilot.pipeline.policy import LineSnapshot, check

TAG = "filler.bowl_level_sp"


def healthy(line: LineDefinition) -> LineSnapshot:
    now = datetime.now(UTC)
    readings = {}
    for tag in line.tags:
        if tag.data_type.is_numeric:
            band = tag.normal or tag.eu_range
            assert band is not None
            value: float | bool = (band.low + band.high) / 2
            if tag.setpoint is not None:
                value = (tag.setpoint.envelope.low + tag.setpoint.envelope.high) / 2
        else:
            value = True
        readings[tag.name] = Reading(
            tag=tag.name,
            value=value,
            unit=tag.unit,
            source_time=now,
            server_time=now,
            received_time=now,
            status="Good",
            quality=Quality.GOOD,
        )
    return LineSnapshot(available=True, readings=readings)


def current(line: LineDefinition, tag: str = TAG) -> float:
    value = healthy(line).readings[tag]
    assert value is not None
    assert isinstance(value.value, float)
    return value.value


def reasons(
    line: LineDefinition, value: object, *, tag: str = TAG, snapshot: LineSnapshot | None = None, recent: int = 0
) -> list[str]:
    return check(line, tag, value, snapshot or healthy(line), recent_changes=recent).reasons


def test_a_small_change_inside_everything_is_allowed(line: LineDefinition) -> None:
    assert reasons(line, current(line) + 1.0) == []


def test_unknown_tag_or_several_tags(line: LineDefinition) -> None:
    assert "not a tag" in reasons(line, 50.0, tag="filler.nope")[0]
    assert "not a tag" in reasons(line, 50.0, tag="filler.bowl_level_sp,capper.torque_sp")[0]


def test_safety_critical_tag(line: LineDefinition) -> None:
    tag = next(t.name for t in line.tags if t.safety_critical)
    assert any("safety-critical" in r for r in reasons(line, 1.0, tag=tag))


def test_measurement_is_not_a_setpoint(line: LineDefinition) -> None:
    assert any("measurement" in r for r in reasons(line, 50.0, tag="filler.bowl_level"))


def test_setpoint_not_marked_writable(line: LineDefinition) -> None:
    tag = next(t for t in line.tags if t.setpoint is not None and not t.setpoint.writable and not t.safety_critical)
    assert tag.setpoint is not None
    value = (tag.setpoint.envelope.low + tag.setpoint.envelope.high) / 2
    assert any("not marked writable" in r for r in reasons(line, value, tag=tag.name))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "55", True, None])
def test_value_must_be_a_finite_number(line: LineDefinition, value: object) -> None:
    assert any("not a finite number" in r for r in reasons(line, value))


def test_outside_eu_range(line: LineDefinition) -> None:
    eu = line.tag(TAG).eu_range
    assert eu is not None
    assert any("EURange" in r for r in reasons(line, eu.high + 1))


def test_outside_envelope_but_inside_eu_range(line: LineDefinition) -> None:
    sp = line.tag(TAG).setpoint
    eu = line.tag(TAG).eu_range
    assert sp is not None
    assert eu is not None
    value = sp.envelope.high + 1
    assert value <= eu.high
    found = reasons(line, value)
    assert any("envelope" in r for r in found)
    assert not any("EURange" in r for r in found)


def test_more_than_max_step(line: LineDefinition) -> None:
    sp = line.tag(TAG).setpoint
    assert sp is not None
    found = reasons(line, current(line) + sp.max_step + 0.5)
    assert any("maximum step" in r for r in found)


def test_rate_limit_per_tag(line: LineDefinition) -> None:
    sp = line.tag(TAG).setpoint
    assert sp is not None
    assert reasons(line, current(line) + 1, recent=sp.max_changes_per_hour - 1) == []
    assert any("times in the last hour" in r for r in reasons(line, current(line) + 1, recent=sp.max_changes_per_hour))


def test_line_unavailable(line: LineDefinition) -> None:
    snapshot = replace(healthy(line), available=False)
    assert any("unavailable" in r for r in reasons(line, current(line) + 1, snapshot=snapshot))


@pytest.mark.parametrize("quality", [Quality.STALE, Quality.BAD, Quality.UNCERTAIN, Quality.UNAVAILABLE])
def test_current_value_not_good(line: LineDefinition, quality: Quality) -> None:
    snap = healthy(line)
    readings = dict(snap.readings)
    reading = readings[TAG]
    assert reading is not None
    readings[TAG] = replace(reading, quality=quality)
    found = reasons(line, current(line) + 1, snapshot=LineSnapshot(available=True, readings=readings))
    assert any(f"current value of {TAG}" in r and quality.value in r for r in found)


@pytest.mark.parametrize("kind", ["related", "drives"])
def test_related_or_driven_measurement_stale(line: LineDefinition, kind: str) -> None:
    sp = line.tag(TAG).setpoint
    assert sp is not None
    others = sp.related if kind == "related" else sp.drives
    assert others, f"{TAG} has no {kind} tags to test with"
    snap = healthy(line)
    readings = dict(snap.readings)
    readings[others[0]] = None  # never received
    found = reasons(line, current(line) + 1, snapshot=LineSnapshot(available=True, readings=readings))
    assert any(others[0] in r for r in found)


def test_every_reason_is_reported_not_just_the_first(line: LineDefinition) -> None:
    snapshot = replace(healthy(line), available=False)
    found = reasons(line, 1e9, snapshot=snapshot, recent=99)
    assert len(found) >= 4  # EURange, envelope, step, rate, unavailable


def test_changes_are_summed_over_the_shift(line: LineDefinition) -> None:
    sp = line.tag(TAG).setpoint
    assert sp is not None
    start = current(line) - sp.max_step  # one full step was already written this shift
    now_value = current(line)
    allowed = check(line, TAG, now_value, healthy(line), recent_changes=1, shift_start_value=start).reasons
    assert allowed == []
    further = check(line, TAG, now_value + 0.5, healthy(line), recent_changes=1, shift_start_value=start).reasons
    assert len(further) == 1
    assert f"started this shift at {start:g}" in further[0]
    assert f"more than the {sp.max_step:g} one shift allows" in further[0]
    back = check(line, TAG, start + 0.5, healthy(line), recent_changes=1, shift_start_value=start).reasons
    assert back == [], "walking back toward the shift's value is always allowed"


def test_a_line_may_allow_more_per_shift_than_one_step(line: LineDefinition) -> None:
    sp = line.tag(TAG).setpoint
    assert sp is not None
    data = line.model_dump()
    (entry,) = [t for t in data["tags"] if t["name"] == TAG]
    entry["setpoint"]["max_shift_change"] = sp.max_step * 2
    wider = LineDefinition.model_validate(data)
    start = current(line) - sp.max_step
    value = current(line) + sp.max_step / 2
    assert check(wider, TAG, value, healthy(line), recent_changes=1, shift_start_value=start).reasons == []
    assert check(line, TAG, value, healthy(line), recent_changes=1, shift_start_value=start).reasons != []
