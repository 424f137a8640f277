"""Shift starts from the line definition's clock times, in the line's zone, across midnight and DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.line import LineInfo
from copilot.pipeline.shifts import shift_start

BERLIN = ZoneInfo("Europe/Berlin")


def _info(**kw: object) -> LineInfo:
    return LineInfo.model_validate(
        {"id": "l", "name": "L", "namespace_uri": "urn:l", "timezone": "Europe/Berlin", **kw}
    )


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


@pytest.mark.parametrize(
    ("now", "began"),
    [
        ("2026-11-30 06:00:00", "2026-11-30 06:00:00"),
        ("2026-11-30 13:59:59", "2026-11-30 06:00:00"),
        ("2026-11-30 14:00:01", "2026-11-30 14:00:00"),
        ("2026-11-30 23:30:00", "2026-11-30 22:00:00"),
        ("2026-12-01 05:59:00", "2026-11-30 22:00:00"),  # the night shift began yesterday
        ("2026-03-29 07:00:00", "2026-03-29 06:00:00"),  # the morning the clocks go forward
    ],
)
def test_the_shift_a_moment_falls_in(now: str, began: str) -> None:
    assert shift_start(_info(), _at(now)) == _at(began)


def test_shift_times_are_kept_sorted_and_one_shift_a_day_works() -> None:
    assert _info(shifts=["22:00", "06:00", "14:00"]).shifts == ["06:00", "14:00", "22:00"]
    daily = _info(shifts=["07:30"])
    assert shift_start(daily, _at("2026-11-30 07:00:00")) == _at("2026-11-29 07:30:00")
    assert shift_start(daily, _at("2026-11-30 08:00:00")) == _at("2026-11-30 07:30:00")
