"""The bottling line process model: a quiet healthy line, lagging setpoints, and every fault's signature."""

from __future__ import annotations

import pytest

from connectors.errors import TagNotFound, WriteRefused
from connectors.line import DataType, LineDefinition, Tag
from connectors.simulator import FAULTS, BottlingProcess, FaultSpec, UnknownFault

Values = dict[str, float | int | bool]

COUNTER_MARGIN = 5  # counters have no normal band: a fault must add at least this many counts


def run(process: BottlingProcess, seconds: float, dt: float = 1.0) -> Values:
    for _ in range(round(seconds / dt)):
        process.step(dt)
    return process.values()


def settled(line: LineDefinition, seed: int = 7) -> BottlingProcess:
    process = BottlingProcess(line, seed=seed)
    run(process, 120.0)
    return process


def outside_normal(line: LineDefinition, values: Values) -> list[tuple[str, object]]:
    return [(t.name, values[t.name]) for t in line.tags if t.normal and not t.normal.contains(float(values[t.name]))]


def breached(line: LineDefinition, values: Values) -> list[str]:
    return [alarm.code for tag, alarm in line.alarms() if alarm.breached(values[tag.name])]


def margin(tag: Tag) -> float:
    if tag.normal is not None and tag.normal.high > tag.normal.low:
        return 0.5 * (tag.normal.high - tag.normal.low)
    return COUNTER_MARGIN


def assert_typed_and_in_range(line: LineDefinition, values: Values) -> None:
    assert set(values) == {t.name for t in line.tags}
    for tag in line.tags:
        value = values[tag.name]
        if tag.data_type is DataType.BOOLEAN:
            assert type(value) is bool, tag.name
            continue
        assert type(value) is (int if tag.data_type.is_integer else float), (tag.name, value)
        assert tag.eu_range is not None
        assert tag.eu_range.contains(value), (tag.name, value)


def test_healthy_line_sits_in_its_normal_bands_without_alarms(line: LineDefinition) -> None:
    process = BottlingProcess(line, seed=0)
    values = run(process, 120.0)
    assert process.time_s == pytest.approx(120.0)
    assert outside_normal(line, values) == []
    assert breached(line, values) == []
    assert values["line.state"] == 1


def test_healthy_line_never_alarms_over_hours(line: LineDefinition) -> None:
    # Two hours: long enough for the label reel to run down and be spliced several times.
    process = BottlingProcess(line, seed=11)
    splices, reel = 0, float(process.values()["labeler.reel_remaining"])
    for _ in range(2 * 3600 // 5):
        process.step(5.0)
        values = process.values()
        assert breached(line, values) == [], process.time_s
        splices += float(values["labeler.reel_remaining"]) > reel
        reel = float(values["labeler.reel_remaining"])
    assert splices >= 3
    assert outside_normal(line, values) == []
    assert_typed_and_in_range(line, values)


@pytest.mark.parametrize("dt", [5.0, 0.05])
def test_values_keep_their_type_and_range_under_every_fault(line: LineDefinition, dt: float) -> None:
    process = BottlingProcess(line, seed=3)
    for spec in FAULTS:
        process.inject(spec.name)
    for _ in range(round(300 / dt)):
        process.step(dt)
        assert_typed_and_in_range(line, process.values())
    process.clear()
    assert_typed_and_in_range(line, run(process, 300.0, dt))


def test_same_seed_same_steps_same_values(line: LineDefinition) -> None:
    def scripted(seed: int) -> list[Values]:
        process = BottlingProcess(line, seed=seed)
        seen = []
        for i, dt in enumerate([0.05, 1.0, 5.0, 0.3] * 30):
            if i == 40:
                process.inject("conveyor_jam")
                process.set_setpoint("filler.bowl_level_sp", 55.0)
            process.step(dt)
            seen.append(process.values())
        return seen

    assert scripted(5) == scripted(5)
    assert scripted(5) != scripted(6)


@pytest.mark.parametrize(
    ("setpoint", "pv", "new", "tau"),
    [
        ("filler.bowl_level_sp", "filler.bowl_level", 60.0, 8.0),
        ("line.speed_sp", "line.speed", 660.0, 5.0),
        ("case_packer.glue_temp_sp", "case_packer.glue_temp", 178.0, 40.0),
        ("chiller.supply_temp_sp", "chiller.supply_temp", 6.5, 20.0),
    ],
)
def test_setpoint_moves_its_process_variable_with_lag(
    line: LineDefinition, setpoint: str, pv: str, new: float, tau: float
) -> None:
    spec = line.tag(setpoint).setpoint
    assert spec is not None
    assert pv in spec.drives
    process = settled(line)
    old = float(process.values()[pv])
    process.set_setpoint(setpoint, new)
    assert process.values()[setpoint] == new
    early = float(run(process, tau / 5, dt=tau / 50)[pv])
    assert old < early < old + 0.5 * (new - old), "the process variable jumped instead of lagging"
    late = float(run(process, 5 * tau, dt=0.5)[pv])
    assert late == pytest.approx(new, abs=0.05 * (new - old) + 0.5 * margin(line.tag(pv)) / 5)


def test_a_tag_the_model_does_not_know_still_gets_a_sensible_value(line: LineDefinition) -> None:
    def new_tag(name: str, ident: str, **fields: object) -> Tag:
        node = f"nsu={line.line.namespace_uri};s=Filler.{ident}"
        return Tag.model_validate({"name": name, "node": node, "equipment": "filler", **fields})

    extra = [
        new_tag("filler.new_level", "NewLevel", eu_range=[0, 10], normal=[4, 6]),
        new_tag("filler.new_count", "NewCount", data_type="UInt32", eu_range=[0, 1000]),
        new_tag("filler.new_flag", "NewFlag", data_type="Boolean"),
    ]
    bigger = line.model_copy(update={"tags": [*line.tags, *extra]})
    values = run(BottlingProcess(bigger, seed=2), 60.0)
    assert_typed_and_in_range(bigger, values)
    assert 4 <= float(values["filler.new_level"]) <= 6
    assert values["filler.new_count"] == 0
    assert values["filler.new_flag"] is False


def test_writing_something_that_is_not_a_setpoint_is_refused(line: LineDefinition) -> None:
    process = BottlingProcess(line)
    with pytest.raises(WriteRefused):
        process.set_setpoint("filler.bowl_level", 10.0)
    with pytest.raises(TagNotFound):
        process.set_setpoint("filler.no_such_tag", 10.0)


def test_counters_integrate_line_speed(line: LineDefinition) -> None:
    process = settled(line)
    before = process.values()
    after = run(process, 60.0)
    assert int(after["line.total_count"]) - int(before["line.total_count"]) == pytest.approx(600, abs=3)
    assert after["line.good_count"] + after["line.reject_count"] == after["line.total_count"]
    assert int(after["labeler.labels_applied"]) - int(before["labeler.labels_applied"]) == pytest.approx(600, abs=3)
    assert int(after["case_packer.cases_packed"]) - int(before["case_packer.cases_packed"]) == pytest.approx(25, abs=1)
    used_kwh = float(after["line.energy_kwh"]) - float(before["line.energy_kwh"])
    assert used_kwh == pytest.approx(float(after["line.power_kw"]) / 60.0, rel=0.05)


@pytest.mark.parametrize("spec", FAULTS, ids=lambda spec: spec.name)
def test_fault_shows_its_signature_against_a_healthy_twin(line: LineDefinition, spec: FaultSpec) -> None:
    healthy, faulty = settled(line), settled(line)
    faulty.inject(spec.name)
    assert faulty.active_faults == {spec.name}
    early = (run(healthy, 1.0), run(faulty, 1.0))
    run(healthy, 89.0)
    run(faulty, 89.0)
    # Then 30 s more, watching for frozen values.
    trail: list[tuple[Values, Values]] = []
    for _ in range(30):
        healthy.step(1.0)
        faulty.step(1.0)
        trail.append((healthy.values(), faulty.values()))
    good, bad = trail[-1]
    for symptom in spec.signature:
        tag = line.tag(symptom.tag)
        if symptom.direction == "frozen":
            assert {f[symptom.tag] for _, f in trail} == {bad[symptom.tag]}, symptom
            assert len({h[symptom.tag] for h, _ in trail}) > 1, "the healthy twin must be moving"
        elif symptom.direction in ("on", "off"):
            assert bad[symptom.tag] is (symptom.direction == "on"), symptom
            assert good[symptom.tag] is (symptom.direction == "off"), symptom
        else:
            sign = 1.0 if symptom.direction == "up" else -1.0
            moved = sign * (float(bad[symptom.tag]) - float(good[symptom.tag]))
            assert moved > margin(tag), (symptom, good[symptom.tag], bad[symptom.tag])
            # Faults develop through the dynamics: a second after injection the move was still smaller.
            assert sign * (float(early[1][symptom.tag]) - float(early[0][symptom.tag])) < moved, symptom
    if any(s.direction != "frozen" for s in spec.signature):
        assert breached(line, bad), f"{spec.name} developed without any alarm"
    assert breached(line, good) == []


@pytest.mark.parametrize("spec", FAULTS, ids=lambda spec: spec.name)
def test_clearing_a_fault_brings_the_healthy_line_back(line: LineDefinition, spec: FaultSpec) -> None:
    process = settled(line)
    process.inject(spec.name)
    run(process, 90.0)
    process.clear(spec.name)
    assert process.active_faults == frozenset()
    values = run(process, 600.0)
    assert outside_normal(line, values) == []
    assert breached(line, values) == []


def test_clear_without_a_name_clears_every_fault(line: LineDefinition) -> None:
    process = settled(line)
    process.inject("conveyor_jam")
    process.inject("frozen_sensor")
    assert process.active_faults == {"conveyor_jam", "frozen_sensor"}
    process.clear()
    assert process.active_faults == frozenset()
    values = [run(process, 1.0)["filler.bowl_level"] for _ in range(5)]
    assert len(set(values)) > 1, "the bowl level sensor must come back to life"


def test_unknown_fault_is_refused_and_names_the_known_ones(line: LineDefinition) -> None:
    process = BottlingProcess(line)
    with pytest.raises(UnknownFault, match="conveyor_jam") as caught:
        process.inject("gremlins")
    assert "gremlins" in str(caught.value)
    with pytest.raises(UnknownFault):
        process.clear("gremlins")
    assert process.active_faults == frozenset()


def test_the_catalogue_names_real_tags_and_unique_faults(line: LineDefinition) -> None:
    names = [spec.name for spec in FAULTS]
    assert len(names) == len(set(names)) >= 9
    equipment = {e.id for e in line.equipment}
    for spec in FAULTS:
        assert spec.equipment in equipment
        for symptom in spec.signature:
            tag = line.tag(symptom.tag)
            assert (tag.data_type is DataType.BOOLEAN) == (symptom.direction in ("on", "off")), symptom
