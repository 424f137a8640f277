"""Shifts from the line definition's clock times: when the shift that holds a moment began."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.line import LineInfo


def _at(day: date, clock: time, zone: str) -> datetime:
    # Built from the wall clock, so a shift that starts at 06:00 starts at 06:00 on both sides of a DST change.
    if zone:
        return datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
    return datetime.combine(day, clock).astimezone()  # the machine's local zone


def shift_start(info: LineInfo, at: float) -> float:
    """The start of the shift `at` falls in, as a Unix time; shift times are local clock times of the line."""
    moment = datetime.fromtimestamp(at, ZoneInfo(info.timezone) if info.timezone else None)
    starts = [time.fromisoformat(s) for s in info.shifts]
    today = [_at(moment.date(), clock, info.timezone) for clock in starts]
    begun = [s for s in today if s.timestamp() <= at]
    if begun:
        return begun[-1].timestamp()
    return _at(moment.date() - timedelta(days=1), starts[-1], info.timezone).timestamp()


def shift_end(info: LineInfo, start: float) -> float:
    """When the shift that began at `start` ends: the next shift start after it."""
    moment = datetime.fromtimestamp(start, ZoneInfo(info.timezone) if info.timezone else None)
    starts = [time.fromisoformat(s) for s in info.shifts]
    candidates = [
        _at(day, clock, info.timezone).timestamp()
        for day in (moment.date(), moment.date() + timedelta(days=1))
        for clock in starts
    ]
    return min(c for c in candidates if c > start)


def shift_id(info: LineInfo, start: float) -> str:
    """A shift as people name it: its start in the line's local time, e.g. 2026-12-07T22:00."""
    return datetime.fromtimestamp(start, ZoneInfo(info.timezone) if info.timezone else None).strftime("%Y-%m-%dT%H:%M")


def parse_shift(info: LineInfo, text: str, *, now: float) -> float:
    """`current`, `previous` or a shift's id (its local start, 2026-12-07T22:00): the shift's start."""
    current = shift_start(info, now)
    if text in ("", "current"):
        return current
    if text == "previous":
        return shift_start(info, current - 1)
    try:
        given = datetime.fromisoformat(text)
    except ValueError as err:
        raise ValueError(
            f"{text!r} is not a shift: write current, previous or its start such as 2026-12-07T22:00"
        ) from err
    zone = ZoneInfo(info.timezone) if info.timezone else None
    at = (given.replace(tzinfo=zone) if given.tzinfo is None and zone else given).timestamp()
    return shift_start(info, at)
