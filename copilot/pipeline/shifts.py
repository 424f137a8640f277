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
