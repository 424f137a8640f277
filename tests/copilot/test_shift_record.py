"""The shift record from kept counters, the alarm journal and written changes, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.line import LineDefinition
from copilot.pipeline import alarms
from copilot.pipeline.alarms import Observation
from copilot.pipeline.db import ActionRow, Database
from copilot.pipeline.shift_record import record_sample, shift_record
from copilot.pipeline.shifts import shift_end, shift_start
from copilot.pipeline.states import Status
from tests.copilot.conftest import FakeClock


def keep_an_hour(
    db: Database,
    line: LineDefinition,
    start: float,
    *,
    stopped: range = range(0),
    rejects: Callable[[int], float] | float = 10.0,
) -> None:
    """Counters every minute for an hour: 590 good and `rejects` rejected a minute, 2.5 kWh a minute; none while
    stopped (the minutes in `stopped`), when only 1 kWh a minute is drawn."""
    production = line.line.production
    assert production is not None
    good = rejected = energy = 0.0
    for minute in range(61):
        running = minute not in stopped
        values = {
            production.good: good,
            production.rejected: rejected,
            production.energy_kwh: energy,
            production.state: 1 if running else 2,
        }
        assert record_sample(db, production, values, now=start + 60 * minute)
        if running:
            good, rejected, energy = (
                good + 590,
                rejected + (rejects(minute) if callable(rejects) else rejects),
                energy + 2.5,
            )
        else:
            energy += 1.0


def test_oee_units_and_energy_per_thousand_good(db: Database, line: LineDefinition, clock: FakeClock) -> None:
    start = shift_start(line.line, clock())
    keep_an_hour(db, line, start, stopped=range(20, 30))
    record = shift_record(db, line.line, start, now=start + 3600)
    assert record.samples == 61
    assert record.good == 590 * 50
    assert record.rejected == 10 * 50
    assert record.availability == pytest.approx(50 / 60)
    assert record.performance == pytest.approx(1.0), "600 a minute while running is the nameplate rate"
    assert record.quality == pytest.approx(590 / 600)
    assert record.oee == pytest.approx(50 / 60 * 590 / 600)
    assert record.energy_kwh == pytest.approx(2.5 * 50 + 1.0 * 10)
    assert record.kwh_per_1000_good == pytest.approx(1000 * 135 / (590 * 50))
    assert record.until == start + 3600
    assert record.end == shift_end(line.line, start)
    assert record.until < record.end, "the shift is still under way"


def test_a_counter_reset_counts_again_from_zero(db: Database, line: LineDefinition, clock: FakeClock) -> None:
    production = line.line.production
    assert production is not None
    start = shift_start(line.line, clock())
    for n, good in enumerate([1000.0, 1590.0, 300.0, 890.0]):  # reset to 0 between the 2nd and 3rd sample
        record_sample(db, production, {production.good: good, production.rejected: 0.0}, now=start + 60 * n)
    record = shift_record(db, line.line, start, now=start + 600)
    assert record.good == 590 + 300 + 590


def test_a_second_console_within_the_period_and_a_missing_counter_keep_nothing(
    db: Database, line: LineDefinition, clock: FakeClock
) -> None:
    production = line.line.production
    assert production is not None
    values = {production.good: 5.0, production.rejected: 1.0}
    assert record_sample(db, production, values, now=clock())
    assert not record_sample(db, production, values, now=clock() + 30), "another console kept it 30 s ago"
    assert not record_sample(db, production, {production.good: 5.0}, now=clock() + 120), "no reject counter reading"
    assert record_sample(db, production, values, now=clock() + 60)


def test_a_change_is_shown_with_production_before_and_after_it(
    db: Database, line: LineDefinition, clock: FakeClock
) -> None:
    start = shift_start(line.line, clock())
    # Rejects halve from 10 to 5 a minute once the torque was raised at minute 30.
    keep_an_hour(db, line, start, rejects=lambda minute: 10.0 if minute < 30 else 5.0)
    with db.session() as s:
        s.add(
            ActionRow(
                id="a1b2c3d4-0000-0000-0000-000000000001",
                tag="capper.torque_sp",
                old_value=2.2,
                new_value=2.3,
                unit="N·m",
                reason="caps loose",
                requested_by="olga",
                status=Status.SUCCEEDED.value,
                created_at=start + 1700,
                expires_at=start + 2000,
                write_started_at=start + 1800,
                finished_at=start + 1801,
            )
        )
    record = shift_record(db, line.line, start, now=start + 3600)
    [change] = record.changes
    assert (change.tag, change.by, change.written_at) == ("capper.torque_sp", "olga", start + 1800)
    assert change.before.reject_pct == pytest.approx(100 * 10 / 600)
    assert change.after.reject_pct == pytest.approx(100 * 5 / 595)
    assert change.before.complete
    assert change.after.complete
    assert change.before.reject_pct_spread == pytest.approx(0.0)
    assert change.after.kwh_per_1000_good == pytest.approx(1000 * 2.5 / 590)


def test_the_alarm_load_of_the_shift(db: Database, line: LineDefinition, clock: FakeClock) -> None:
    start = shift_start(line.line, clock())
    seen = Observation(code="INF-101", tag="infeed.jam_detected", priority="high", message="jam", value=1.0)
    for n in range(3):
        alarms.observe(db, {"INF-101": seen}, now=start + 100 + 300 * n)
        alarms.observe(db, {}, now=start + 200 + 300 * n)
    alarms.observe(db, {"INF-101": seen}, now=start + 1900)
    record = shift_record(db, line.line, start, now=start + 3600)
    assert record.alarms.annunciated == 4
    assert record.alarms.per_hour == pytest.approx(4.0)
    assert record.alarms.most_frequent == (("INF-101", 4),)
    assert record.standing == ("INF-101",)
    assert record.samples == 0
    assert record.oee is None, "no counters kept: no figure rather than a made-up one"
