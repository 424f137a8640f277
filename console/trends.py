"""A tag's trend as a Plotly figure, with its normal band shaded and its alarm limits drawn and named."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from connectors import AlarmKind, Tag
from copilot.untrusted import plain

NORMAL_FILL = "#2e7d32"
LIMIT_COLOUR = {"urgent": "#7a1010", "high": "#b42318", "medium": "#b54708", "low": "#52606d"}
LIMIT_DASH = {"urgent": "solid", "high": "dash", "medium": "dashdot", "low": "dot"}  # told apart without colour


def _text(text: str) -> str:
    # Plotly reads its titles and annotations as a little HTML (links included): names and units go in as text.
    return html.escape(" ".join(plain(text).split()))


def trend_figure(tag: Tag, frame: pd.DataFrame) -> go.Figure:
    """`frame` is the live cache's history: indexed by source time, with `value` and `good` columns."""
    # Samples that were not good are left out as gaps, so a bad stretch never reads as a real level.
    values = frame["value"].where(frame["good"])
    # Plotly drops nanoseconds with a warning; the source times are milliseconds anyway.
    times = pd.DatetimeIndex(frame.index).floor("ms")
    figure = go.Figure(
        go.Scatter(x=times, y=values, mode="lines", name=_text(tag.name), connectgaps=False, line={"width": 3})
    )
    if tag.normal is not None:
        figure.add_hrect(
            y0=tag.normal.low,
            y1=tag.normal.high,
            fillcolor=NORMAL_FILL,
            opacity=0.12,
            line_width=0,
            annotation_text=f"normal {tag.normal.low:g} to {tag.normal.high:g}",
            annotation_position="top left",
        )
    for alarm in tag.alarms:
        if alarm.kind is AlarmKind.ON or alarm.limit is None:
            continue
        kind = alarm.kind.value.replace("_", "-")
        figure.add_hline(
            y=alarm.limit,
            line_dash=LIMIT_DASH.get(alarm.priority.value, "dash"),
            line_color=LIMIT_COLOUR.get(alarm.priority.value, "#b42318"),
            annotation_text=_text(f"{alarm.code} {kind} {alarm.limit:g} ({alarm.priority.value})"),
            annotation_position="bottom right",
        )
    title = _text(f"{tag.name} ({tag.unit})" if tag.unit else tag.name)
    figure.update_layout(
        title={"text": title, "font": {"size": 18}},
        height=300,
        margin={"l": 10, "r": 10, "t": 44, "b": 10},
        showlegend=False,
        font={"size": 14},
        uirevision=tag.name,  # keeps a person's zoom across the once-a-second refresh
    )
    return figure
