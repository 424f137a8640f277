"""The banner at the top of every page: the most urgent alarm waiting for a person, the counts, the line and writes."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import streamlit as st

from connectors import priority_mark
from console import alarms_page, services, session, widgets
from console.messages import OURS, describe
from copilot.pipeline import Alarm, Flood, User, clock_time
from copilot.services import alarm_ops

NOTICE = "alarm-banner"
ORDER = ("urgent", "high", "medium", "low")


def render(who: User) -> None:
    # Started by the first page anyone opens: alarms are journaled whoever looks at which page.
    try:
        services.line_recorder()
    except OURS as err:
        st.error(describe("starting the alarm journal", err))
    banner(who)


@st.fragment(run_every=timedelta(seconds=2))
def banner(who: User) -> None:
    alarms_page.lasting_notice(NOTICE)
    try:
        ctx = services.context()
        shown = alarm_ops.alarm_list(ctx)
        writes_on, _why = ctx.service.writes_enabled()
        now = time.time()
        flooding = [f for f in alarm_ops.floods(ctx, since=now - 60, now=now) if f.end is None]
    except OURS as err:
        st.error(describe("reading the alarms", err))
        return
    waiting = [a for a in shown if a.state.needs_ack]
    flood = flooding[-1] if flooding else None
    st.markdown(banner_html(waiting, shown, writes_on=writes_on, line=line_word(), flood=flood), unsafe_allow_html=True)
    if waiting and who.role.may_acknowledge:
        top = waiting[0]
        if st.button(
            f"Acknowledge {widgets.label(top.code)}",
            key=f"banner-ack-{top.code}-{top.status.occurrence}",
            type="primary",
            help="Acknowledges this occurrence only; the Alarms page has the others, shelve and the journal.",
        ):
            acknowledge(who, top)


def acknowledge(who: User, alarm: Alarm) -> None:
    try:
        alarm_ops.acknowledge(services.context(), services.person(who.name), alarm.code, alarm.status.occurrence)
        session.notify(NOTICE, ok=True, text=f"{alarm.code} acknowledged by {who.name}.")
    except OURS as err:
        session.notify(NOTICE, ok=False, text=str(err))
    st.rerun()


def line_word() -> str:
    try:
        live = services.live_line()
    except OURS:
        return "✕ Line not reachable"
    return "● Line connected" if live.available else f"✕ Line {live.availability[0].value}"


def banner_html(
    waiting: list[Alarm], shown: list[Alarm], *, writes_on: bool, line: str, flood: Flood | None = None
) -> str:
    """The banner as HTML: filled by the top alarm's priority colour, said in a shape and a word as well."""
    counts = Counter(a.status.priority for a in waiting)
    count_text = " · ".join(f"{priority_mark(p)} {counts.get(p, 0)}" for p in ORDER)
    suppressed = sum(1 for a in shown if not a.state.annunciated)
    extra = f" · {suppressed} shelved or out of service" if suppressed else ""
    if flood is not None:
        first = flood.first_out
        extra += (
            f" · ⚠ FLOOD: {len(flood.alarms)} alarms since {clock_time(first.at, seconds=True)}, first out {first.code}"
        )
    writes = "Writes ON" if writes_on else "⛔ WRITES OFF"
    status = f'<span class="banner-status">{widgets.html_text(line)} · {writes}</span>'
    if not waiting:
        return (
            f'<div class="alarm-banner quiet" role="status">✓ No alarm waiting for acknowledgement{extra}'
            f" {status}</div>"
        )
    top = waiting[0].status
    mark = priority_mark(top.priority)
    priority, code = widgets.html_text(top.priority), widgets.html_text(top.code)
    return (
        f'<div class="alarm-banner {priority}" role="alert" data-code="{code}">'
        f"<b>{widgets.html_text(mark)} · {widgets.html_text(top.code)}</b> {widgets.html_text(top.message)} "
        f"<small>({widgets.html_text(waiting[0].state.value)} since {clock_time(top.changed_at, seconds=True)})</small>"
        f"<br><small>{len(waiting)} waiting: {widgets.html_text(count_text)}{extra}</small> {status}</div>"
    )
