"""What the alarm journal tells afterwards: floods, the first alarm of an upset, the alarm load; it only reads.

The counts follow EEMUA 191 and ISA-18.2: an alarm is annunciated when it activates while in service and not
shelved; a flood is more than 10 annunciated alarms in 10 minutes at one operator position, and it ends once the
rate is back to 5 or fewer in 10 minutes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from copilot.pipeline.alarm_states import AlarmState, JournalEvent
from copilot.pipeline.alarms import JournalEntry, journal
from copilot.pipeline.db import Database

FLOOD_WINDOW_S = 600.0
FLOOD_ABOVE = 10  # more than this many in the window is a flood
FLOOD_ENDS_AT = 5  # the flood is over once the window holds this many or fewer
EPISODE_GAP_S = 600.0  # activations closer than this belong to one upset


@dataclass(frozen=True, kw_only=True)
class Flood:
    start: float
    end: float | None  # None while it lasts
    first_out: JournalEntry  # the first alarm of the burst that became the flood
    alarms: tuple[JournalEntry, ...]  # every annunciated activation from the first-out to the end


@dataclass(frozen=True, kw_only=True)
class Episode:
    """An upset: annunciated activations each within EPISODE_GAP_S of the one before, oldest first."""

    alarms: tuple[JournalEntry, ...]

    @property
    def first_out(self) -> JournalEntry:
        return self.alarms[0]


@dataclass(frozen=True, kw_only=True)
class AlarmLoad:
    hours: float
    annunciated: int
    per_hour: float
    percent_in_flood: float
    floods: int
    most_frequent: tuple[tuple[str, int], ...]  # (code, activations), the ten most frequent
    chattering: tuple[str, ...]


def annunciated(entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """Activations an operator was shown (not shelved, not out of service), oldest first."""
    shown = [e for e in entries if e.event == JournalEvent.ACTIVATED.value and e.state == AlarmState.UNACKED.value]
    return sorted(shown, key=lambda e: (e.at, e.seq))


def floods(entries: Sequence[JournalEntry], *, now: float) -> list[Flood]:
    """Every flood in the entries, oldest first, each with its first-out."""
    shown = annunciated(entries)
    times = [e.at for e in shown]
    found: list[Flood] = []
    i = 0
    while i < len(shown):
        # The window that ends at this activation holds more than FLOOD_ABOVE: a flood begins here.
        lo = bisect_right(times, times[i] - FLOOD_WINDOW_S)  # the window is (t - 10 min, t]
        if i - lo + 1 <= FLOOD_ABOVE:
            i += 1
            continue
        start = times[i]
        end = _flood_end(times, start)
        if end is not None and end > now:
            end = None  # it has not ended yet: later activations may still keep it going
        last = len(times) if end is None else bisect_right(times, end)
        found.append(Flood(start=start, end=end, first_out=shown[lo], alarms=tuple(shown[lo:last])))
        if end is None:
            break
        i = max(last, i + 1)
    return found


def _flood_end(times: list[float], start: float) -> float | None:
    """The first moment after `start` at which the trailing window holds FLOOD_ENDS_AT or fewer."""
    # The count only falls when an activation leaves the window, so only those moments need looking at.
    for leaving in times:
        moment = leaving + FLOOD_WINDOW_S
        if moment <= start:
            continue
        inside = bisect_right(times, moment) - bisect_right(times, moment - FLOOD_WINDOW_S)
        if inside <= FLOOD_ENDS_AT:
            return moment
    return None


def latest_episode(entries: Sequence[JournalEntry]) -> Episode | None:
    """The most recent upset, walked back from its newest activation; None when nothing was annunciated."""
    shown = annunciated(entries)
    if not shown:
        return None
    first = len(shown) - 1
    while first > 0 and shown[first].at - shown[first - 1].at <= EPISODE_GAP_S:
        first -= 1
    return Episode(alarms=tuple(shown[first:]))


def load(entries: Sequence[JournalEntry], *, since: float, until: float, chattering: Sequence[str] = ()) -> AlarmLoad:
    """The alarm load of one operator position over a span (a shift): rate, time in flood, the most frequent."""
    inside = [e for e in entries if since <= e.at < until]
    shown = annunciated(inside)
    hours = max((until - since) / 3600.0, 1e-9)
    in_flood = 0.0
    flooded = floods(entries, now=until)
    for flood in flooded:
        begin, finish = max(flood.start, since), min(flood.end if flood.end is not None else until, until)
        in_flood += max(0.0, finish - begin)
    counts = Counter(e.code for e in shown)
    return AlarmLoad(
        hours=hours,
        annunciated=len(shown),
        per_hour=len(shown) / hours,
        percent_in_flood=100.0 * in_flood / (until - since) if until > since else 0.0,
        floods=sum(1 for f in flooded if f.start < until and (f.end is None or f.end > since)),
        most_frequent=tuple(counts.most_common(10)),
        chattering=tuple(chattering),
    )


def upset(db: Database, *, now: float, within_s: float = 3600.0) -> Episode | None:
    """The latest upset from the journal, if its last alarm came within `within_s` of `now`; read only."""
    episode = latest_episode(journal(db, since=now - 8 * 3600.0, limit=5000))
    if episode is None or now - episode.alarms[-1].at > within_s:
        return None
    return episode
