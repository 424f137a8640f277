"""Values and times as people at the line read them: rounded to the instrument, local clock time and age."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# What an instrument of each unit resolves, where the line definition gives no `resolution`: more digits than
# this are noise a person must not have to read ("85.5838 °C" is "85.6 °C").
RESOLUTION_BY_UNIT: dict[str, float] = {
    "°C": 0.1,
    "%": 0.1,
    "bar": 0.01,
    "N·m": 0.01,
    "A": 0.1,
    "mm/s": 0.1,
    "m/min": 0.1,
    "m³/h": 0.1,
    "L/min": 1.0,
    "kW": 0.1,
    "g": 0.1,
    "N": 0.1,
    "rpm": 1.0,
    "bottles/min": 1.0,
    "bottles": 1.0,
    "cases": 1.0,
}


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 3


def rounded(value: float | int | bool | str | None, unit: str = "", resolution: float | None = None) -> str:
    """The value at the instrument's resolution with its unit: `85.6 °C`, `0.22 N·m`, `1 bottle`, `ON`."""
    text = number(value, unit, resolution)
    if isinstance(value, bool) or not unit or value is None:
        return text
    if unit in ("bottles", "cases") and text == "1":
        unit = unit[:-1]  # "1 bottle", not "1 bottles"
    return f"{text} {unit}"


def number(value: float | int | bool | str | None, unit: str = "", resolution: float | None = None) -> str:
    """The value alone at the instrument's resolution, for a tile or a table whose unit stands beside it."""
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "ON" if value else "off"
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return str(value)
    step = resolution if resolution else RESOLUTION_BY_UNIT.get(unit)
    # Four significant digits for a unit nobody told us about.
    text = f"{value:.4g}" if step is None else f"{round(value / step) * step:.{_decimals(step)}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def clock_and_age(at: datetime | float, now: datetime | float | None = None) -> str:
    """Local clock time and how long ago: `10:42:05 (12 s ago)`."""
    when = at if isinstance(at, datetime) else datetime.fromtimestamp(at, UTC)
    current = now if isinstance(now, datetime) else datetime.fromtimestamp(now, UTC) if now else datetime.now(UTC)
    age = max((current - when).total_seconds(), 0.0)
    if age < 90:
        ago = f"{age:.0f} s ago"
    elif age < 5400:
        ago = f"{age / 60:.0f} min ago"
    else:
        ago = f"{age / 3600:.1f} h ago"
    return f"{when.astimezone().strftime('%H:%M:%S')} ({ago})"


# Priority is said in words and a shape, so it reads the same without colour (in a grey screenshot, at a terminal).
PRIORITY_MARK = {"urgent": "■■ URGENT", "high": "▲ HIGH", "medium": "◆ MEDIUM", "low": "● LOW"}


def priority_mark(priority: str) -> str:
    """`▲ HIGH` for "high"; a priority this project does not know is shown in capitals."""
    return PRIORITY_MARK.get(priority, priority.upper())
