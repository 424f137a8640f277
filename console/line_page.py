"""The line: live tiles per equipment, active alarms by priority, and trends with their limits, every second."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from connectors.line import AlarmKind
from console import services, widgets

TREND_WINDOWS = {"2 minutes": 120, "10 minutes": 600, "30 minutes": 1800, "1 hour": 3600}


def render() -> None:
    st.title("Line")
    _live()
    st.subheader("Trends")
    ctx = services.context()
    numeric = [t.name for t in ctx.line.tags if t.data_type.is_numeric]
    left, right = st.columns([3, 1])
    chosen = left.multiselect(
        "Tags to trend", numeric, default=st.session_state.get("trend_tags", []), max_selections=4, key="trend_tags"
    )
    window = right.selectbox("Window", list(TREND_WINDOWS), index=1, key="trend_window")
    if chosen:
        _trends(chosen, TREND_WINDOWS[window])
    else:
        st.caption("Choose up to four tags to see their trends with the normal band and alarm limits.")


@st.fragment(run_every=timedelta(seconds=1))
def _live() -> None:
    # A fragment reruns alone: the tiles refresh every second without rerunning (or flickering) the page.
    live = services.live_line()
    ctx = services.context()
    now = datetime.now(UTC)
    readings = live.cache.readings()
    newest = max((r.source_time for r in readings.values() if r is not None and r.source_time), default=None)
    stamp = newest.isoformat() if newest else ""
    # One HTML block per refresh: every session reruns this each second, and one element is far cheaper to
    # diff and send than a hundred.
    parts = [f'<div id="newest-value" data-ts="{stamp}">Newest value {widgets.clock(newest)}</div>']
    alarms = live.alarms()
    parts.append(f"<p><b>Active alarms ({len(alarms)})</b></p>")
    if alarms:
        parts.extend(widgets.alarm_row(a) for a in alarms)
    elif live.available:
        parts.append("<p>✓ No active alarm</p>")
    else:
        parts.append("<p>Alarm state unknown while the line is unavailable</p>")
    for equipment in ctx.line.equipment:
        tags = [t for t in ctx.line.tags_of(equipment.id) if t.setpoint is None or t.writable]
        parts.append(f"<p><b>{html.escape(equipment.name)}</b></p>")
        parts.append(
            '<div class="tiles">' + "".join(widgets.tile(t, readings.get(t.name), now) for t in tags) + "</div>"
        )
    st.markdown("".join(parts), unsafe_allow_html=True)


@st.fragment(run_every=timedelta(seconds=2))
def _trends(tags: list[str], window_s: int) -> None:
    live = services.live_line()
    ctx = services.context()
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    columns = st.columns(2)
    for i, name in enumerate(tags):
        tag = ctx.line.tag(name)
        frame = live.cache.history(name, since=since)
        good = frame[frame["good"]]
        figure = go.Figure(go.Scatter(x=good.index, y=good["value"], mode="lines", name=name))
        if tag.normal is not None:
            figure.add_hrect(y0=tag.normal.low, y1=tag.normal.high, fillcolor="#2e7d32", opacity=0.12, line_width=0)
        for alarm in tag.alarms:
            if alarm.kind is not AlarmKind.ON and alarm.limit is not None:
                figure.add_hline(
                    y=alarm.limit,
                    line_dash="dash",
                    line_color="#b42318",
                    annotation_text=f"{alarm.code} {alarm.kind.value.replace('_', '-')}",
                )
        figure.update_layout(
            title=f"{name} ({tag.unit})" if tag.unit else name,
            height=280,
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
            showlegend=False,
        )
        columns[i % 2].plotly_chart(figure, width="stretch", key=f"trend-{name}")
