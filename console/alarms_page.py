"""The Alarms page: every alarm a person must see, acknowledge, shelve and service, and the journal behind them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import streamlit as st

from connectors import priority_mark
from console import services, session, widgets
from console.messages import OURS, run_safely
from copilot.pipeline import Alarm, AlarmState, User, clock_time
from copilot.services import alarm_ops
from copilot.services.pipeline_ops import Context

NOTICE = "alarms-page"
SHELF_TIMES = {"15 min": 900.0, "30 min": 1800.0, "1 h": 3600.0, "2 h": 7200.0, "4 h": 14400.0, "8 h": 28800.0}


def render() -> None:
    who = session.signed_in()
    st.title("Alarms")
    alarm_list(who)
    journal_table()


@st.fragment(run_every=timedelta(seconds=3))
def alarm_list(who: User) -> None:
    # Refreshed on its own, as the banner is: a shelf that runs out or an alarm that clears shows without a click.
    lasting_notice(NOTICE)
    shown = run_safely("reading the alarms", alarm_ops.alarm_list, services.context())
    if shown is None:
        return
    if not shown:
        st.info("No alarm is active, waiting for acknowledgement, shelved or out of service.")
    upset()
    for alarm in shown:
        card(who, alarm)


NOTICE_S = 10.0


def lasting_notice(key: str) -> None:
    """A click's outcome, kept on screen for NOTICE_S through the page's own refreshes (it refreshes every 3 s)."""
    fresh = session.take_notice(key)
    if fresh is not None:
        st.session_state[f"{key}-shown"] = (fresh, time.monotonic())
    kept = st.session_state.get(f"{key}-shown")
    if kept is None:
        return
    notice, since = kept
    if time.monotonic() - since > NOTICE_S:
        del st.session_state[f"{key}-shown"]
        return
    (st.success if notice.ok else st.error)(widgets.literal(notice.text))


def upset() -> None:
    """What happened first in the latest upset, and what followed: the question an operator asks in a flood."""
    episode = run_safely("reading the alarm journal", alarm_ops.latest_episode, services.context())
    if episode is None or time.time() - episode.alarms[-1].at > 3600:
        return
    first = episode.first_out
    then = ", ".join(f"{widgets.literal(e.code)} (+{e.at - first.at:.0f} s)" for e in episode.alarms[1:6])
    more = f" and {len(episode.alarms) - 6} more" if len(episode.alarms) > 6 else ""
    st.markdown(
        f"**First out:** {widgets.literal(first.code)} at {clock_time(first.at, seconds=True)} "
        f"({widgets.literal(first.tag)})" + (f"; then {then}{more}" if then else "")
    )


def card(who: User, alarm: Alarm) -> None:
    st_ = alarm.status
    mark = priority_mark(st_.priority)
    with st.container(border=True, key=f"alarm-{st_.code}"):
        chatter = " · **chattering**" if alarm.chattering else ""
        st.markdown(
            f"**{widgets.literal(mark)} · {widgets.literal(st_.code)}** · {widgets.literal(st_.message)}  \n"
            f"{widgets.literal(alarm.state.value)} since {clock_time(st_.changed_at, seconds=True)} · "
            f"{widgets.literal(st_.tag)} · occurrence {st_.occurrence}{chatter}"
        )
        if alarm.state is AlarmState.SHELVED and st_.shelved_until is not None:
            st.caption(
                f"Shelved by {widgets.literal(st_.shelved_by)} until {clock_time(st_.shelved_until)}: "
                f"{widgets.literal(st_.shelve_reason)}"
            )
        if alarm.state is AlarmState.OUT_OF_SERVICE:
            st.caption(f"Out of service by {widgets.literal(st_.service_by)}: {widgets.literal(st_.service_reason)}")
        acts(who, alarm)


def acts(who: User, alarm: Alarm) -> None:
    code, state = alarm.code, alarm.state
    key = f"{code}-{alarm.status.occurrence}"
    if state.needs_ack and who.role.may_acknowledge and st.button("Acknowledge", key=f"ack-{key}", type="primary"):
        occurrence = alarm.status.occurrence
        act(who, f"{code} acknowledged", lambda ctx, p: alarm_ops.acknowledge(ctx, p, code, occurrence))
    if state is AlarmState.SHELVED and who.role.may_shelve and st.button("Unshelve", key=f"unshelve-{key}"):
        act(who, f"{code} unshelved", lambda ctx, p: alarm_ops.unshelve(ctx, p, code))
    if state.annunciated and who.role.may_shelve:
        # A form sends the time, the reason and the click together: the page refreshes every few seconds, and a
        # reason still being typed must not be lost to a refresh between typing and clicking.
        with st.expander("Shelve"), st.form(key=f"shelve-form-{key}", border=False):
            length = st.selectbox("For", list(SHELF_TIMES), index=1, key=f"shelf-time-{key}")
            reason = st.text_input("Why", key=f"shelf-reason-{key}", max_chars=300)
            if st.form_submit_button("Shelve", key=f"shelve-{key}"):
                seconds = SHELF_TIMES[length]
                act(
                    who,
                    f"{code} shelved for {length}",
                    lambda ctx, p: alarm_ops.shelve(ctx, p, code, seconds=seconds, reason=reason),
                )
    if who.role.may_take_out_of_service:
        if state is AlarmState.OUT_OF_SERVICE:
            if st.button("Return to service", key=f"in-service-{key}"):
                act(who, f"{code} back in service", lambda ctx, p: alarm_ops.return_to_service(ctx, p, code))
        else:
            with st.expander("Out of service"), st.form(key=f"oos-form-{key}", border=False):
                reason = st.text_input("Why", key=f"oos-reason-{key}", max_chars=300)
                if st.form_submit_button("Take out of service", key=f"oos-{key}"):
                    act(
                        who,
                        f"{code} out of service",
                        lambda ctx, p: alarm_ops.take_out_of_service(ctx, p, code, reason=reason),
                    )


def act(who: User, done: str, move: Callable[[Context, User], Alarm]) -> None:
    try:
        # The role the database holds now decides, not the one the person signed in with.
        move(services.context(), services.person(who.name))
        session.notify(NOTICE, ok=True, text=f"{done} by {who.name}.")
    except OURS as err:
        session.notify(NOTICE, ok=False, text=str(err))
    st.rerun()


def journal_table() -> None:
    st.subheader("Journal, last 8 hours")
    entries = run_safely(
        "reading the alarm journal", alarm_ops.journal, services.context(), since=time.time() - 8 * 3600
    )
    if not entries:
        st.caption("Nothing in the journal for the last 8 hours.")
        return
    frame = pd.DataFrame(
        [
            {
                "time": clock_time(e.at, seconds=True),
                "alarm": e.code,
                "priority": e.priority,
                "event": e.event,
                "by": e.actor,
                "reason": e.reason,
                "state after": e.state,
            }
            for e in reversed(entries)
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
