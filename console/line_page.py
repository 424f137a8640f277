"""The line: connection state, active alarms by priority, live tiles per equipment and trends with their limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from connectors import ActiveAlarm, Availability, LineUnavailable, LiveLine
from console import services, trends, widgets
from console.messages import ADVICE, run_safely
from copilot.agent import Story, line_story
from copilot.untrusted import plain

TREND_WINDOWS = {"2 minutes": 120, "10 minutes": 600, "30 minutes": 1800, "1 hour": 3600}
ALL_EQUIPMENT = "All equipment"
MAX_TRENDS = 4
SLOW_CONNECT_S = 15.0  # a first connection slower than this is a problem to act on, not a wait
# The story reads a trend of every tag and the shift's actions: every few seconds is enough for people.
STORY_EVERY_S = 3.0
ROOTS_SHOWN = 4
LINE_DOWN_ADVICE = dict(ADVICE)[LineUnavailable]


def ended(text: str) -> str:
    """A clause as the end of a sentence: one full stop, none after a question."""
    text = text.rstrip(" .")
    return text if text.endswith(("?", "!")) else text + "."


def render() -> None:
    st.title("Line")
    ctx = services.context()
    equipment = {e.name: e.id for e in ctx.line.equipment}
    chosen = st.pills(
        "Equipment",
        [ALL_EQUIPMENT, *equipment],
        default=ALL_EQUIPMENT,
        format_func=widgets.label,  # pills read their options as Markdown
        key="line_equipment",
    )
    shown = list(equipment.values()) if chosen in (None, ALL_EQUIPMENT) else [equipment[str(chosen)]]
    _live(shown)
    st.subheader("Trends")
    numeric = [t.name for t in ctx.line.tags if t.data_type.is_numeric]
    left, right = st.columns([3, 1])
    picked = left.multiselect(
        f"Tags to trend (up to {MAX_TRENDS})", numeric, max_selections=MAX_TRENDS, format_func=plain, key="trend_tags"
    )
    window = right.selectbox("Window", list(TREND_WINDOWS), index=1, key="trend_window")
    if picked:
        _trends(picked, TREND_WINDOWS[window])
    else:
        st.caption("Choose tags to see their trends with the normal band shaded and the alarm limits drawn.")


def connection_banner(live: LiveLine) -> None:
    """Said in words at the top of the live view, so nobody reads last-known values as live ones."""
    state, reason = live.availability
    endpoint, reason = widgets.literal(live.endpoint), widgets.literal(reason)
    # "…on that port?" must not become "port?." in the sentence around it.  # the reason may quote the server
    waited = (datetime.now(UTC) - live.cache.availability_since).total_seconds()
    if state is Availability.CONNECTING and waited < SLOW_CONNECT_S:
        st.info(f"Connecting to the line at {endpoint}… values appear as soon as the first ones arrive.")
    elif state is Availability.CONNECTING:
        st.error(f"Still no connection to the line at {endpoint} after {waited:.0f} s.\n\n{LINE_DOWN_ADVICE}")
    elif state is Availability.UNAVAILABLE:
        st.error(
            f"Line unavailable: {ended(reason)} The values below are the last ones received, greyed with their age, "
            f"and alarms cannot be judged.\n\n{LINE_DOWN_ADVICE}",
            icon=":material/link_off:",
        )
    elif state is Availability.STOPPED:
        st.error("The console's connection to the line is stopped. Restart the console to reconnect.")


@st.fragment(run_every=timedelta(seconds=1))
def _live(equipment_ids: list[str]) -> None:
    # A fragment reruns alone: the values refresh every second without rerunning (or flickering) the page.
    live = run_safely("connecting to the line", services.live_line)
    if live is None:
        return
    ctx = services.context()
    now = datetime.now(UTC)
    readings = live.cache.readings()
    connection_banner(live)
    newest = max((r.source_time for r in readings.values() if r is not None and r.source_time), default=None)
    stamp = newest.isoformat() if newest else ""
    state = "● Line connected" if live.available else "✕ Line not connected"
    # #newest-value carries the newest source time for the browser test and the load benchmark.
    st.markdown(
        f'<div id="newest-value" data-ts="{stamp}"><b>{state}</b> · newest value {widgets.clock(newest)} '
        f"<small>({widgets.html_text(live.endpoint)})</small></div>",
        unsafe_allow_html=True,
    )
    alarms = live.alarms()
    st.markdown(f"#### Active alarms ({len(alarms)})" if live.available else "#### Active alarms")
    if alarms:
        units = {t.name: t.unit for t in ctx.line.tags}
        st.markdown("".join(widgets.alarm_row(a, unit=units.get(a.tag, "")) for a in alarms), unsafe_allow_html=True)
    elif live.available:
        st.markdown("✓ No active alarm")
    else:
        st.markdown("Alarm state unknown while the line is unavailable")
    story = _story(live, alarms, now) if live.available else Story(roots=())
    if story.roots or story.on_purpose:
        st.markdown(story_html(story), unsafe_allow_html=True)
    for equipment in ctx.line.equipment:
        if equipment.id not in equipment_ids:
            continue
        st.markdown(f"#### {widgets.literal(equipment.name)}")
        st.markdown(
            widgets.tiles(
                ctx.line.tags_of(equipment.id), readings, now, follows=story.follows, on_purpose=story.on_purpose
            ),
            unsafe_allow_html=True,
        )


def _story(live: LiveLine, alarms: list[ActiveAlarm], now: datetime) -> Story:
    kept = st.session_state.get("line_story")
    if kept is not None and (now - kept[0]).total_seconds() < STORY_EVERY_S:
        return kept[1]  # type: ignore[no-any-return]
    ctx = services.context()
    story = line_story(ctx.line, live.cache, alarms, ctx.service.list_actions(limit=100), now=now)
    st.session_state["line_story"] = (now, story)
    return story


def story_html(story: Story) -> str:
    """One root and its effects instead of a wall of equal flags; changes made on purpose said as such."""
    parts = []
    if story.roots:
        roots = "; ".join(
            f"<b>{widgets.html_text(t)}</b> {widgets.html_text(story.details.get(t, ''))}"
            for t in story.roots[:ROOTS_SHOWN]
        )
        more = f"; and {len(story.roots) - ROOTS_SHOWN} more" if len(story.roots) > ROOTS_SHOWN else ""
        parts.append(f"⚑ Off normal at the root ({len(story.roots)}): {roots}{more}")
    if story.follows:
        parts.append(
            f"↳ {len(story.follows)} more deviations follow from them (dotted tiles): effects, not separate faults"
        )
    changes = [
        why.removeprefix("set on purpose: ") for t, why in story.on_purpose.items() if why.startswith("set on purpose")
    ]
    if changes:
        moved = len(story.on_purpose) - len(changes)
        with_them = f"; {moved} {'tag' if moved == 1 else 'tags'} moved with them" if moved else ""
        parts.append("✎ Moved on purpose, not flagged: " + widgets.html_text("; ".join(changes)) + with_them)
    return '<div class="story" id="line-story">' + "<br>".join(parts) + "</div>"


@st.fragment(run_every=timedelta(seconds=1))
def _trends(tags: list[str], window_s: int) -> None:
    live = run_safely("connecting to the line", services.live_line)
    if live is None:
        return
    ctx = services.context()
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    columns = st.columns(2)
    for i, name in enumerate(tags):
        frame = live.cache.history(name, since=since)
        column = columns[i % 2]
        if frame.empty:
            column.info(f"{widgets.literal(name)}: no samples in this window yet.")
            continue
        column.plotly_chart(trends.trend_figure(ctx.line.tag(name), frame), width="stretch", key=f"trend-{name}")
