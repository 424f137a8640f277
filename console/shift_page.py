"""The Shift page: the shift's OEE, units, energy per 1,000 good, alarm load and each change's before and after."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import services, widgets
from console.messages import run_safely
from copilot.pipeline import ShiftRecord, clock_time
from copilot.services import shift_ops

CHOICES = {"This shift": "current", "Previous shift": "previous"}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def render() -> None:
    st.title("Shift")
    chosen = st.segmented_control("Shift", list(CHOICES), default="This shift", key="shift-choice")
    record = run_safely(
        "building the shift record", shift_ops.report, services.context(), CHOICES.get(chosen or "", "current")
    )
    if record is None:
        return
    unit = widgets.literal(record.unit)
    under_way = " (under way)" if record.until < record.end else ""
    st.caption(
        f"Shift {widgets.literal(record.id)}{under_way}: {record.samples} samples of the line's counters, "
        f"{clock_time(record.start)} to {clock_time(record.end)}."
    )
    if record.samples < 2:
        st.info("Too few samples of the counters for figures yet: the console keeps them every minute while it runs.")
    first, second, third, fourth = st.columns(4)
    first.metric("OEE", _pct(record.oee))
    second.metric("Availability", _pct(record.availability))
    third.metric("Performance", _pct(record.performance))
    fourth.metric("Quality", _pct(record.quality))
    first, second, third, fourth = st.columns(4)
    first.metric(f"Good {unit}", f"{record.good:,.0f}")
    second.metric("Rejected", f"{record.rejected:,.0f}")
    third.metric("Energy (kWh)", _num(record.energy_kwh))
    fourth.metric(f"kWh per 1,000 good {unit}", _num(record.kwh_per_1000_good, 2))
    alarms_part(record)
    changes_part(record)


def alarms_part(record: ShiftRecord) -> None:
    load = record.alarms
    st.subheader("Alarm load")
    st.markdown(
        f"{load.annunciated} alarms annunciated, **{load.per_hour:.1f} per hour** (ISA-18.2 target: about 6), "
        f"**{load.percent_in_flood:.1f} %** of the time in flood (target: under 1 %), {load.floods} floods."
    )
    if load.most_frequent:
        st.dataframe(
            pd.DataFrame([{"alarm": c, "activations": n} for c, n in load.most_frequent]),
            hide_index=True,
            width="stretch",
        )
    if record.standing:
        st.markdown("Standing now: " + ", ".join(widgets.literal(c) for c in record.standing))
    if record.stale:
        st.markdown("Stale (active over 24 h): " + ", ".join(widgets.literal(c) for c in record.stale))
    if load.chattering:
        st.markdown("Chattering: " + ", ".join(widgets.literal(c) for c in load.chattering))


def changes_part(record: ShiftRecord) -> None:
    st.subheader("Changes and their effect")
    if not record.changes:
        st.caption("No change was written in this shift.")
        return
    st.caption("Rejects and energy in the 15 minutes before and after each write, with their spread (±).")
    rows = []
    for c in record.changes:
        row: dict[str, object] = {
            "written": clock_time(c.written_at, seconds=True),
            "by": c.by,
            "tag": c.tag,
            "change": f"{'?' if c.old_value is None else f'{c.old_value:g}'} → {c.new_value:g} {c.unit}",
        }
        for name, w in (("before", c.before), ("after", c.after)):
            spread = f" ± {w.reject_pct_spread:.2f}" if w.reject_pct_spread is not None else ""
            row[f"rejects {name} (%)"] = f"{_num(w.reject_pct, 2)}{spread}" + ("" if w.complete else " (partial)")
            row[f"kWh/1,000 {name}"] = _num(w.kwh_per_1000_good, 2)
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
