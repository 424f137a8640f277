"""Floods, first-out and alarm load from the journal, counted as EEMUA 191 and ISA-18.2 count them."""

from __future__ import annotations

import pytest

from copilot.pipeline.alarm_history import annunciated, floods, latest_episode, load
from copilot.pipeline.alarms import JournalEntry

T0 = 1_900_000_000.0


def activation(seq: int, at: float, code: str, *, state: str = "unacknowledged") -> JournalEntry:
    return JournalEntry(
        seq=seq,
        at=at,
        code=code,
        tag="t",
        priority="high",
        event="activated",
        state=state,
        actor="line",
        reason="",
        value=None,
        occurrence=1,
    )


def burst(count: int, *, start: float = T0, every: float = 20.0, first_seq: int = 1) -> list[JournalEntry]:
    return [activation(first_seq + n, start + n * every, f"A-{n}") for n in range(count)]


def test_ten_alarms_in_ten_minutes_are_not_a_flood_eleven_are() -> None:
    assert floods(burst(10), now=T0 + 3600) == []
    [flood] = floods(burst(11), now=T0 + 3600)
    assert flood.first_out.code == "A-0", "the first alarm of the burst, not the one that tipped it"
    assert flood.start == T0 + 200
    # Over once the trailing ten minutes hold five or fewer: the sixth from last leaves the window.
    assert flood.end == T0 + 5 * 20 + 600
    assert len(flood.alarms) == 11


def test_a_flood_still_going_has_no_end() -> None:
    [flood] = floods(burst(12), now=T0 + 300)
    assert flood.end is None


def test_shelved_alarms_are_not_annunciated_and_do_not_make_a_flood() -> None:
    quiet = [activation(n, T0 + n, f"S-{n}", state="shelved") for n in range(20)]
    assert annunciated(quiet) == []
    assert floods(quiet, now=T0 + 3600) == []


def test_two_floods_apart_are_two_each_with_its_first_out() -> None:
    entries = burst(11) + burst(11, start=T0 + 7200, first_seq=100)
    first, second = floods(entries, now=T0 + 10_000)
    assert (first.first_out.seq, second.first_out.seq) == (1, 100)


def test_what_happened_first_is_the_first_alarm_of_the_latest_upset() -> None:
    earlier = burst(3)
    upset = [
        activation(50, T0 + 5000, "INF-101"),
        activation(51, T0 + 5030, "INF-102"),
        activation(52, T0 + 5400, "LIN-801"),
    ]
    episode = latest_episode(earlier + upset)
    assert episode is not None
    assert episode.first_out.code == "INF-101"
    assert [e.code for e in episode.alarms] == ["INF-101", "INF-102", "LIN-801"]
    assert latest_episode([]) is None


def test_the_load_of_a_shift() -> None:
    entries = [*burst(11), activation(200, T0 + 4 * 3600, "A-0")]
    figures = load(entries, since=T0, until=T0 + 8 * 3600)
    assert figures.annunciated == 12
    assert figures.per_hour == pytest.approx(1.5)
    assert figures.floods == 1
    flood_s = (T0 + 700) - (T0 + 200)
    assert figures.percent_in_flood == pytest.approx(100 * flood_s / (8 * 3600))
    assert figures.most_frequent[0] == ("A-0", 2)
