"""The shift record: OEE, good and rejected units, energy per 1,000 good, the alarm load, and each change's effect.

Everything comes from what the database kept: the production samples (the line's own counters, see
line.production), the alarm journal and the actions. A counter that drops (a reset at shift change, a PLC
restart) is taken as counting again from zero, never as negative production.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import select

from connectors.line import LineInfo, Production
from copilot.pipeline import alarm_history
from copilot.pipeline.alarm_history import AlarmLoad
from copilot.pipeline.alarms import alarms, journal
from copilot.pipeline.db import ActionRow, Database, ProductionSampleRow
from copilot.pipeline.shifts import shift_end, shift_id
from copilot.pipeline.states import Status

WINDOW_S = 15 * 60.0  # before and after a change: same-length windows around its write


@dataclass(frozen=True, kw_only=True)
class Sample:
    at: float
    good: float
    rejected: float
    energy_kwh: float | None
    running: bool | None


@dataclass(frozen=True, kw_only=True)
class Window:
    """Production over one window: totals, and the spread of the per-interval figures inside it."""

    start: float
    end: float
    good: float
    rejected: float
    energy_kwh: float | None
    reject_pct: float | None
    reject_pct_spread: float | None
    kwh_per_1000_good: float | None
    kwh_per_1000_good_spread: float | None
    complete: bool  # samples cover the whole window


@dataclass(frozen=True, kw_only=True)
class ChangeEffect:
    action_id: str
    tag: str
    old_value: float | None
    new_value: float
    unit: str
    by: str
    written_at: float
    before: Window
    after: Window


@dataclass(frozen=True, kw_only=True)
class ShiftRecord:
    id: str
    start: float
    end: float
    until: float  # the end, or now for the shift under way
    unit: str
    samples: int
    good: float
    rejected: float
    quality: float | None
    availability: float | None
    performance: float | None
    oee: float | None
    energy_kwh: float | None
    kwh_per_1000_good: float | None
    alarms: AlarmLoad
    standing: tuple[str, ...]  # alarms still active at the end of the span
    stale: tuple[str, ...]  # active for more than 24 h
    changes: tuple[ChangeEffect, ...]


def record_sample(db: Database, production: Production, values: Mapping[str, object], *, now: float) -> bool:
    """Keep the counters now, unless another console kept them less than a sampling period ago; True if kept."""
    good, rejected = values.get(production.good), values.get(production.rejected)
    if not isinstance(good, int | float) or not isinstance(rejected, int | float):
        return False  # no good reading of the counters: nothing to keep, rather than a false zero
    energy = values.get(production.energy_kwh) if production.energy_kwh else None
    state = values.get(production.state) if production.state else None
    latest = select(ProductionSampleRow.at).order_by(ProductionSampleRow.at.desc()).limit(1)
    with db.reader() as s:
        last = s.execute(latest).scalar()
    if last is not None and now - last < 0.9 * production.sample_s:
        return False  # the usual case, every second: no write lock taken to learn it is not due
    with db.session() as s:
        # Again under the write lock: another console may have kept it since the look above.
        last = s.execute(latest).scalar()
        if last is not None and now - last < 0.9 * production.sample_s:
            return False
        s.add(
            ProductionSampleRow(
                at=now,
                good=float(good),
                rejected=float(rejected),
                energy_kwh=float(energy) if isinstance(energy, int | float) else None,
                running=(int(state) in production.running) if isinstance(state, int | float) else None,
            )
        )
    return True


def samples(db: Database, *, since: float, until: float) -> list[Sample]:
    with db.reader() as s:
        rows = s.execute(
            select(ProductionSampleRow)
            .where(ProductionSampleRow.at >= since, ProductionSampleRow.at <= until)
            .order_by(ProductionSampleRow.at)
        ).scalars()
        return [
            Sample(at=r.at, good=r.good, rejected=r.rejected, energy_kwh=r.energy_kwh, running=r.running) for r in rows
        ]


def _increase(before: float, after: float) -> float:
    # A counter that went down was reset: what it shows now was counted since.
    return after - before if after >= before else after


def _energy(a: Sample, b: Sample) -> float | None:
    if a.energy_kwh is None or b.energy_kwh is None:
        return None
    return _increase(a.energy_kwh, b.energy_kwh)


def window(points: Sequence[Sample], start: float, end: float) -> Window:
    inside = [p for p in points if start <= p.at <= end]
    pairs = list(pairwise(inside))
    good = sum(_increase(a.good, b.good) for a, b in pairs)
    rejected = sum(_increase(a.rejected, b.rejected) for a, b in pairs)
    used = [(e, _increase(a.good, b.good)) for a, b in pairs if (e := _energy(a, b)) is not None]
    energy = sum(e for e, _good in used) if used else None
    reject_each = [
        100.0 * r / (g + r)
        for a, b in pairs
        if (g := _increase(a.good, b.good)) + (r := _increase(a.rejected, b.rejected)) > 0
    ]
    energy_each = [1000.0 * e / g for e, g in used if g > 0]
    span = inside[-1].at - inside[0].at if len(inside) > 1 else 0.0
    step = max((b.at - a.at for a, b in pairs), default=0.0)
    return Window(
        start=start,
        end=end,
        good=good,
        rejected=rejected,
        energy_kwh=energy,
        reject_pct=100.0 * rejected / (good + rejected) if good + rejected > 0 else None,
        reject_pct_spread=statistics.stdev(reject_each) if len(reject_each) > 1 else None,
        kwh_per_1000_good=1000.0 * energy / good if energy is not None and good > 0 else None,
        kwh_per_1000_good_spread=statistics.stdev(energy_each) if len(energy_each) > 1 else None,
        complete=bool(pairs) and span >= (end - start) - 1.5 * step,
    )


def _oee(points: Sequence[Sample], production: Production) -> tuple[float | None, float | None]:
    """Availability (share of sampled time running) and performance (units made against the ideal rate)."""
    pairs = list(pairwise(points))
    judged = [(a, b) for a, b in pairs if a.running is not None]
    if not judged:
        return None, None
    elapsed = sum(b.at - a.at for a, b in judged)
    running = sum(b.at - a.at for a, b in judged if a.running)
    made = sum(_increase(a.good, b.good) + _increase(a.rejected, b.rejected) for a, b in judged if a.running)
    availability = running / elapsed if elapsed > 0 else None
    performance = made / (production.ideal_rate_per_min * running / 60.0) if running > 0 else None
    return availability, performance


def changes(db: Database, points: Sequence[Sample], *, since: float, until: float) -> list[ChangeEffect]:
    """Every change written in the span, with production in the same-length windows before and after it."""
    with db.reader() as s:
        rows = s.execute(
            select(ActionRow)
            .where(
                ActionRow.status == Status.SUCCEEDED.value,
                ActionRow.finished_at >= since,
                ActionRow.finished_at < until,
            )
            .order_by(ActionRow.finished_at)
        ).scalars()
        written = [
            (r.id, r.tag, r.old_value, r.new_value, r.unit, r.requested_by, r.write_started_at or r.finished_at)
            for r in rows
        ]
    return [
        ChangeEffect(
            action_id=action_id,
            tag=tag,
            old_value=old,
            new_value=new,
            unit=unit,
            by=by,
            written_at=at,
            before=window(points, at - WINDOW_S, at),
            after=window(points, at, at + WINDOW_S),
        )
        for action_id, tag, old, new, unit, by, at in written
        if at is not None
    ]


def shift_record(db: Database, info: LineInfo, start: float, *, now: float) -> ShiftRecord:
    """The record of the shift that began at `start`, up to its end or to now if it is under way."""
    if info.production is None:
        raise ValueError(
            "the line definition has no `production:` block naming its counters, so there is no shift record; "
            "see docs/line-definition.md"
        )
    production = info.production
    end = shift_end(info, start)
    until = min(end, now)
    # One window more on each side, so a change near the shift's edge still has its before and after.
    points = samples(db, since=start - WINDOW_S, until=until + WINDOW_S)
    mine = [p for p in points if start <= p.at <= until]
    whole = window(mine, start, until)
    availability, performance = _oee(mine, production)
    total = whole.good + whole.rejected
    quality = whole.good / total if total > 0 else None
    oee = (
        availability * performance * quality
        if availability is not None and performance is not None and quality is not None
        else None
    )
    entries = journal(db, since=start - alarm_history.FLOOD_WINDOW_S, limit=50000)
    now_alarms = alarms(db, now=until, everything=False)
    load = alarm_history.load(
        entries, since=start, until=until, chattering=[a.code for a in now_alarms if a.chattering]
    )
    return ShiftRecord(
        id=shift_id(info, start),
        start=start,
        end=end,
        until=until,
        unit=production.unit,
        samples=len(mine),
        good=whole.good,
        rejected=whole.rejected,
        quality=quality,
        availability=availability,
        performance=performance,
        oee=oee,
        energy_kwh=whole.energy_kwh,
        kwh_per_1000_good=whole.kwh_per_1000_good,
        alarms=load,
        standing=tuple(a.code for a in now_alarms if a.status.active),
        stale=tuple(a.code for a in now_alarms if a.status.active and until - a.status.changed_at > 24 * 3600),
        changes=tuple(changes(db, points, since=start, until=until)),
    )
