"""Pieces the pages share: tablet styling, value tiles, alarm rows, and how a value or a time reads on screen."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import streamlit as st

from connectors.alarms import ActiveAlarm
from connectors.line import Tag
from connectors.readings import Quality, Reading
from copilot.line_ops import format_value

# Sized for a 10-inch tablet at arm's length: big type, 48 px touch targets, nothing wider than the screen.
TABLET_CSS = """
<style>
html, body, [class*="css"] { font-size: 18px; }
.block-container { padding-top: 1.2rem; max-width: 100%; }
.stButton button, .stDownloadButton button, .stFormSubmitButton button { min-height: 48px; min-width: 96px;
  font-size: 1.05rem; }
div[data-baseweb="select"] > div, .stTextInput input { min-height: 48px; font-size: 1.05rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px; }
.tile { border: 2px solid #9aa5b1; border-radius: 8px; padding: 6px 10px; background: #ffffff; }
.tile .name { font-size: 0.85rem; color: #3e4c59; overflow-wrap: anywhere; }
.tile .value { font-size: 1.45rem; font-weight: 700; color: #102a43; }
.tile .state { font-size: 0.8rem; }
.tile.out { border-color: #b54708; }
.tile.dim { background: #eceff1; border-style: dashed; }
.tile.dim .value, .tile.dim .name { color: #7b8794; }
.alarm { padding: 6px 10px; border-radius: 6px; margin-bottom: 4px; font-size: 1.05rem; border: 2px solid #52606d; }
.alarm.urgent, .alarm.high { border-color: #b42318; }
.change { font-size: 1.6rem; margin: 4px 0 8px 0; }
.change small { font-size: 1rem; color: #52606d; }
.conn { font-weight: 700; font-size: 1.05rem; }
.conn.ok { color: #1b5e20; }
.conn.down { color: #b42318; }
</style>
"""

PRIORITY_MARK = {"urgent": "■■ URGENT", "high": "▲ HIGH", "medium": "◆ MEDIUM", "low": "● LOW"}
QUALITY_MARK = {
    Quality.GOOD: "good",
    Quality.UNCERTAIN: "uncertain",
    Quality.BAD: "BAD",
    Quality.STALE: "STALE",
    Quality.UNAVAILABLE: "line down",
}


def apply_tablet_style() -> None:
    st.markdown(TABLET_CSS, unsafe_allow_html=True)


def clock(stamp: datetime | None) -> str:
    return stamp.astimezone(UTC).strftime("%H:%M:%S UTC") if stamp else "no timestamp"


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s old"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min old"
    return f"{seconds / 3600:.1f} h old"


def tile(tag: Tag, reading: Reading | None, now: datetime) -> str:
    """One value as an HTML tile; text from the line definition and the server is escaped."""
    name = html.escape(tag.name.split(".", 1)[1].replace("_", " "))
    if reading is None:
        return (
            f'<div class="tile dim"><div class="name">{name}</div><div class="value">—</div>'
            '<div class="state">no reading yet</div></div>'
        )
    value = html.escape(format_value(reading))
    unit = html.escape(tag.unit) if not isinstance(reading.value, bool) else ""
    classes = ["tile"]
    state = QUALITY_MARK[reading.quality]
    if not reading.usable:
        classes.append("dim")  # greyed and dashed, with the age: a stale value must never pass for a live one
        state = f"{state} · {age_text(reading.age_s(now))}"
    elif (
        tag.normal is not None
        and isinstance(reading.value, int | float)
        and not isinstance(reading.value, bool)
        and not tag.normal.contains(float(reading.value))
    ):
        classes.append("out")
        state = f"outside normal {tag.normal.low:g} to {tag.normal.high:g}"
    title = html.escape(f"{tag.name}: {tag.description}")
    return (
        f'<div class="{" ".join(classes)}" title="{title}" data-tag="{html.escape(tag.name)}">'
        f'<div class="name">{name}</div><div class="value">{value} <small>{unit}</small></div>'
        f'<div class="state">{html.escape(state)}</div></div>'
    )


def alarm_row(alarm: ActiveAlarm) -> str:
    mark = PRIORITY_MARK.get(alarm.priority, alarm.priority.upper())
    return (
        f'<div class="alarm {html.escape(alarm.priority)}"><b>{mark}</b> {html.escape(alarm.code)} · '
        f"{html.escape(alarm.message)} <small>({html.escape(alarm.tag)})</small></div>"
    )
