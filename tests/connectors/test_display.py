"""Values at the instrument's resolution and times as local clock time with their age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.display import clock_and_age, number, rounded
from connectors.line import LineDefinition


@pytest.mark.parametrize(
    ("value", "unit", "resolution", "shown"),
    [
        (85.5838, "°C", None, "85.6 °C"),
        (0.220821, "N·m", None, "0.22 N·m"),
        (50.14411280426366, "m/min", None, "50.1 m/min"),
        (1, "bottles", None, "1 bottle"),
        (2, "bottles", None, "2 bottles"),
        (599.6, "bottles/min", None, "600 bottles/min"),
        (12.34567, "furlongs", None, "12.35 furlongs"),
        (-0.004, "%", None, "0.0 %"),
        (2.347, "N·m", 0.05, "2.35 N·m"),
        (True, "", None, "ON"),
        (None, "°C", None, "no value"),
    ],
)
def test_values_read_as_on_a_panel(
    value: float | int | bool | None, unit: str, resolution: float | None, shown: str
) -> None:
    assert rounded(value, unit, resolution) == shown


def test_a_tile_shows_the_number_alone_and_a_tag_its_own_resolution(line: LineDefinition) -> None:
    assert number(85.5838, "°C") == "85.6"
    assert line.tag("filler.bearing_temp").shown(85.5838) == "85.6 °C"


def test_times_are_local_clock_time_with_their_age() -> None:
    now = datetime(2026, 12, 1, 6, 0, 0, tzinfo=UTC)
    local = (now - timedelta(seconds=12)).astimezone().strftime("%H:%M:%S")
    assert clock_and_age(now - timedelta(seconds=12), now) == f"{local} (12 s ago)"
    assert clock_and_age((now - timedelta(minutes=12)).timestamp(), now.timestamp()).endswith("(12 min ago)")
    assert clock_and_age(now - timedelta(hours=3), now).endswith("(3.0 h ago)")
    assert clock_and_age(now + timedelta(seconds=5), now).endswith("(0 s ago)"), (
        "a source clock ahead is not the future"
    )
