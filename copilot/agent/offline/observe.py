"""What the line shows right now: readings judged against their normal bands, trends, frozen values and alarms."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from connectors.alarms import ActiveAlarm
from connectors.cache import LiveCache
from connectors.line import Band, LineDefinition, Tag
from connectors.readings import Reading

# A value must leave its normal band by this share of the band's width to count: measurement noise sits at the
# edges of a band all day, and an answer built on noise is worse than no answer.
BAND_MARGIN = 0.05
# A float measurement that moved before and then repeats exactly this many samples in a row, over at least
# FROZEN_MIN_S, is frozen: live transmitters always carry some noise in their last digits.
FROZEN_MIN_SAMPLES = 8
FROZEN_MIN_S = 3.0
# A trend counts as a deviation when, over the window, it moved by this share of the band toward a limit.
TREND_SHARE = 0.5


@dataclass(frozen=True, kw_only=True)
class Trend:
    """A tag over a window: the figures a person reads off a trend chart."""

    tag: str
    unit: str
    window_s: float
    samples: int
    good_samples: int
    minimum: float | None
    maximum: float | None
    mean: float | None
    slope_per_min: float | None
    above_high_s: float  # time above the normal band's top
    below_low_s: float
    first: float | None
    last: float | None


@dataclass(frozen=True, kw_only=True)
class Deviation:
    """A tag away from normal, and how: up or down out of its band, on (an alarm flag), frozen, or trending."""

    tag: str
    direction: str  # up, down, on, frozen
    value: float | bool
    detail: str
    weight: float  # 1 for a value out of band or a flag on, less for a trend still inside its band


@dataclass(frozen=True, kw_only=True)
class Observation:
    """The whole line at one moment, as the diagnosis sees it."""

    at: datetime
    available: bool
    availability_reason: str
    readings: dict[str, Reading | None]
    deviations: dict[str, Deviation]
    in_band: frozenset[str]  # fresh, GOOD and inside the normal band: evidence against causes that need them out
    unusable: dict[str, str]  # tag -> why it cannot be used (no reading, stale, bad quality, line unavailable)
    alarms: tuple[ActiveAlarm, ...]
    # Deviations that an approved, executed change explains, with why: not faults, and not evidence of one.
    on_purpose: dict[str, str] = field(default_factory=dict)


def band_text(band: Band | None, unit: str) -> str | None:
    if band is None:
        return None
    return f"{band.low:g} to {band.high:g}{(' ' + unit) if unit else ''}"


def trend(cache: LiveCache, tag: Tag, *, window_s: float, now: datetime | None = None) -> Trend:
    """Min, max, mean, slope and time outside the normal band over the last `window_s`, GOOD samples only."""
    now = now or datetime.now(UTC)
    frame = cache.history(tag.name, since=now - timedelta(seconds=window_s))
    good = frame[frame["good"]]
    values = good["value"].to_numpy(dtype=float)
    times = np.array([stamp.timestamp() for stamp in good.index], dtype=float)
    above = below = 0.0
    if tag.normal is not None and len(values) > 1:
        gaps = np.diff(times)  # each sample holds until the next one arrives
        above = float(gaps[values[:-1] > tag.normal.high].sum())
        below = float(gaps[values[:-1] < tag.normal.low].sum())
    slope = None
    if len(values) >= 3 and times[-1] - times[0] > 0:
        slope = float(np.polyfit(times - times[0], values, 1)[0]) * 60.0
    return Trend(
        tag=tag.name,
        unit=tag.unit,
        window_s=window_s,
        samples=len(frame),
        good_samples=len(good),
        minimum=float(values.min()) if len(values) else None,
        maximum=float(values.max()) if len(values) else None,
        mean=float(values.mean()) if len(values) else None,
        slope_per_min=slope,
        above_high_s=round(above, 1),
        below_low_s=round(below, 1),
        first=float(values[0]) if len(values) else None,
        last=float(values[-1]) if len(values) else None,
    )


def _frozen(cache: LiveCache, tag: Tag, now: datetime) -> bool:
    if tag.data_type.is_integer or not tag.data_type.is_numeric or tag.setpoint is not None:
        return False  # counts, flags and setpoints hold still on a healthy line
    frame = cache.history(tag.name, since=now - timedelta(seconds=600))
    values = frame["value"].to_numpy(dtype=float)
    tail = values[-FROZEN_MIN_SAMPLES:]
    if len(tail) < FROZEN_MIN_SAMPLES or not bool(np.all(tail == tail[-1])):
        return False
    # It must have been alive before: a value that never moved is a constant of the process, not a dead sensor.
    if not bool(np.any(values[:-FROZEN_MIN_SAMPLES] != tail[-1])):
        return False
    span = float((frame.index[-1] - frame.index[-FROZEN_MIN_SAMPLES]).total_seconds())
    return span >= FROZEN_MIN_S


def _deviation(cache: LiveCache, tag: Tag, reading: Reading, now: datetime, window_s: float) -> Deviation | None:
    value = reading.value
    if isinstance(value, bool):
        flagged = value and any(a.kind.value == "on" for a in tag.alarms)
        return Deviation(tag=tag.name, direction="on", value=True, detail="on", weight=1.0) if flagged else None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if _frozen(cache, tag, now):
        detail = f"has repeated exactly {tag.shown(value)} for its last samples"
        return Deviation(tag=tag.name, direction="frozen", value=float(value), detail=detail, weight=1.0)
    band = tag.normal
    if band is None:
        return None
    margin = BAND_MARGIN * (band.high - band.low)
    shown = tag.shown(value)
    normal = band_text(band, tag.unit)
    if value > band.high + margin:
        return Deviation(
            tag=tag.name,
            direction="up",
            value=float(value),
            detail=f"{shown}, above normal {normal}",
            weight=1.0,
        )
    if value < band.low - margin:
        return Deviation(
            tag=tag.name,
            direction="down",
            value=float(value),
            detail=f"{shown}, below normal {normal}",
            weight=1.0,
        )
    # Still inside its band, but moving fast toward a limit: an early sign worth half the weight.
    moved = trend(cache, tag, window_s=window_s, now=now)
    if moved.first is None or moved.last is None or moved.good_samples < 5:
        return None
    change = moved.last - moved.first
    width = band.high - band.low
    if width > 0 and abs(change) >= TREND_SHARE * width:
        direction = "up" if change > 0 else "down"
        moving = "rising" if change > 0 else "falling"
        detail = f"{shown}, {moving} by {tag.shown(abs(change))} in the last {window_s:g} s (normal {normal})"
        return Deviation(tag=tag.name, direction=direction, value=float(value), detail=detail, weight=0.5)
    return None


def observe(
    line: LineDefinition,
    cache: LiveCache,
    alarms: list[ActiveAlarm],
    *,
    window_s: float = 120.0,
    now: datetime | None = None,
) -> Observation:
    """Judge every tag of the line; nothing that is not fresh and GOOD is taken as evidence either way."""
    now = now or datetime.now(UTC)
    readings = cache.readings()
    deviations: dict[str, Deviation] = {}
    in_band: set[str] = set()
    unusable: dict[str, str] = {}
    for tag in line.tags:
        reading = readings.get(tag.name)
        if reading is None:
            unusable[tag.name] = "no reading yet"
            continue
        if not reading.usable:
            unusable[tag.name] = f"{reading.quality.value} ({reading.status})"
            continue
        found = _deviation(cache, tag, reading, now, window_s)
        if found is not None:
            deviations[tag.name] = found
        elif tag.normal is not None or not tag.data_type.is_numeric:
            in_band.add(tag.name)
    return Observation(
        at=now,
        available=cache.availability.value == "available",
        availability_reason=cache.availability_reason,
        readings=readings,
        deviations=deviations,
        in_band=frozenset(in_band),
        unusable=unusable,
        alarms=tuple(alarms),
    )
