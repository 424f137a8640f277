"""Alarms for the console and the CLI: the watcher that journals the line's alarms, and people's acts on them."""

from __future__ import annotations

import logging
import re
import threading
import time

from connectors import LineDefinition, LiveLine
from copilot.errors import AlarmRefused, CopilotError
from copilot.pipeline import alarm_history, alarms, shift_record
from copilot.pipeline.alarm_history import AlarmLoad, Episode, Flood
from copilot.pipeline.alarms import Alarm, JournalEntry, Observation
from copilot.pipeline.db import Database
from copilot.pipeline.users import User
from copilot.services.pipeline_ops import Context

log = logging.getLogger(__name__)

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}


def duration_s(text: str) -> float:
    """'90s', '30m', '2h' or a bare number of minutes, in seconds."""
    found = _DURATION.fullmatch(text)
    if found is None:
        raise AlarmRefused(f"{text!r} is not a duration; write for example 30m, 2h or 90s")
    number, unit = found.groups()
    return float(number) * _UNIT_S[(unit or "m").lower()]


def what_the_line_shows(line: LineDefinition, live: LiveLine) -> tuple[dict[str, Observation], set[str]] | None:
    """The alarms active now, and the codes that cannot be judged (their tag has no good reading); None offline.

    An alarm whose tag has no usable reading is neither raised nor cleared: a reconnect is not a return to normal.
    """
    if not live.available:
        return None
    readings = live.cache.readings()
    unjudged = {
        alarm.code for tag, alarm in line.alarms() if (reading := readings.get(tag.name)) is None or not reading.usable
    }
    active = {
        a.code: Observation(
            code=a.code,
            tag=a.tag,
            priority=a.priority,
            message=a.message,
            value=float(a.value),
        )
        for a in live.alarms()
    }
    return active, unjudged


class LineRecorder:
    """Journals the line's alarms and keeps its production counters, from a thread of its own, while the console runs.

    The alarms are looked at every `period_s`; the counters are kept every `line.production.sample_s`.
    """

    def __init__(self, db: Database, line: LineDefinition, live: LiveLine, *, period_s: float = 1.0) -> None:
        self.db, self.line, self.live, self.period_s = db, line, live, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarm-watcher", daemon=True)
        self.problem = ""  # the last error, shown to people while it lasts

    def start(self) -> LineRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def close(self) -> None:
        self.stop()

    def tick(self, now: float | None = None) -> list[JournalEntry]:
        """One look at the line; what it recorded in the journal."""
        seen = what_the_line_shows(self.line, self.live)
        if seen is None:
            return []
        active, unjudged = seen
        at = time.time() if now is None else now
        moves = alarms.observe(self.db, active, now=at, unjudged=unjudged)
        production = self.line.line.production
        if production is not None:
            values = {
                tag: reading.value
                for tag, reading in self.live.cache.readings(production.tags()).items()
                if reading is not None and reading.usable
            }
            shift_record.record_sample(self.db, production, values, now=at)
        return moves

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.tick()
                self.problem = ""
            except CopilotError as err:
                # The store may be busy or gone for a while: the next tick tries again; the console shows why.
                if str(err) != self.problem:
                    log.warning("alarm journal: %s", err)
                self.problem = str(err)


def alarm_list(ctx: Context, *, everything: bool = False) -> list[Alarm]:
    return alarms.alarms(ctx.db, now=time.time(), everything=everything)


def journal(ctx: Context, *, since: float | None = None, code: str | None = None) -> list[JournalEntry]:
    return alarms.journal(ctx.db, since=since, code=code)


def acknowledge(ctx: Context, person: User, code: str, occurrence: int | None = None) -> Alarm:
    return alarms.acknowledge(ctx.db, code, by=person, occurrence=occurrence, now=time.time())


def shelve(ctx: Context, person: User, code: str, *, seconds: float, reason: str) -> Alarm:
    return alarms.shelve(ctx.db, code, by=person, seconds=seconds, reason=reason, now=time.time())


def unshelve(ctx: Context, person: User, code: str) -> Alarm:
    return alarms.unshelve(ctx.db, code, by=person, now=time.time())


def take_out_of_service(ctx: Context, person: User, code: str, *, reason: str) -> Alarm:
    return alarms.take_out_of_service(ctx.db, code, by=person, reason=reason, now=time.time())


def return_to_service(ctx: Context, person: User, code: str) -> Alarm:
    return alarms.return_to_service(ctx.db, code, by=person, now=time.time())


def latest_episode(ctx: Context, *, now: float | None = None) -> Episode | None:
    """The latest upset (what happened first, then what followed), looking back over the last 8 hours."""
    at = time.time() if now is None else now
    return alarm_history.latest_episode(alarms.journal(ctx.db, since=at - 8 * 3600, limit=5000))


def floods(ctx: Context, *, since: float, now: float | None = None) -> list[Flood]:
    at = time.time() if now is None else now
    # The window before `since` counts too: a flood that began just before still has its first-out there.
    entries = alarms.journal(ctx.db, since=since - alarm_history.FLOOD_WINDOW_S, limit=20000)
    return [f for f in alarm_history.floods(entries, now=at) if f.end is None or f.end >= since]


def alarm_load(ctx: Context, *, since: float, until: float) -> AlarmLoad:
    entries = alarms.journal(ctx.db, since=since - alarm_history.FLOOD_WINDOW_S, limit=20000)
    chattering = [a.code for a in alarms.alarms(ctx.db, now=until, everything=True) if a.chattering]
    return alarm_history.load(entries, since=since, until=until, chattering=chattering)
