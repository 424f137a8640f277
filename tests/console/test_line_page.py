"""The Line page over a real simulated line: tiles, alarms by priority in words, trends with limits, stale values."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from connectors.alarms import ActiveAlarm
from connectors.line import LineDefinition
from connectors.readings import Availability, Quality, Reading
from console import services, widgets
from tests.console.conftest import Console, as_read, sidebar_text, text_of
from tests.helpers import wait_until

NOW = datetime(2026, 11, 25, 6, 0, 0, tzinfo=UTC)


def reading(tag: str, value: float, quality: Quality, *, age_s: float = 0.0) -> Reading:
    stamp = NOW - timedelta(seconds=age_s)
    return Reading(
        tag=tag,
        value=value,
        unit="",
        source_time=stamp,
        server_time=stamp,
        received_time=stamp,
        status="Good" if quality is Quality.GOOD else "BadSensorFailure",
        quality=quality,
    )


def tile_of(page: str, tag: str) -> str:
    found = re.search(rf'<div class="[^"]*" (?:title="[^"]*" )?data-tag="{re.escape(tag)}".*?</div></div>', page)
    assert found, f"no tile for {tag}"
    return found.group(0)


def test_a_tile_says_its_quality_and_greys_what_is_not_live(line: LineDefinition) -> None:
    tag = line.tag("filler.bowl_level")
    good = widgets.tile(tag, reading(tag.name, 50.0, Quality.GOOD), NOW)
    assert 'class="tile"' in good
    assert ">good<" in good
    assert "50.0 <small>%</small>" in good
    high = widgets.tile(tag, reading(tag.name, 71.5, Quality.GOOD), NOW)
    assert 'class="tile out"' in high
    assert "▲ above normal 45 to 55" in high, "out of band said in words, not colour alone"
    bad = widgets.tile(tag, reading(tag.name, 50.0, Quality.BAD, age_s=12), NOW)
    assert 'class="tile dim"' in bad
    assert "BAD · 12 s old" in bad
    stale = widgets.tile(tag, reading(tag.name, 50.0, Quality.STALE, age_s=400), NOW)
    assert 'class="tile dim"' in stale
    assert "STALE · 7 min old" in stale
    assert "no reading yet" in widgets.tile(tag, None, NOW)


def test_a_flag_that_alarms_when_on_is_a_flagged_tile(line: LineDefinition) -> None:
    jam = line.tag("infeed.jam_detected")
    on = widgets.tile(jam, replace(reading(jam.name, 0.0, Quality.GOOD), value=True), NOW)
    assert 'class="tile out"' in on
    assert "⚑ on: not normal" in on
    assert ">good<" not in on, "a jam is not 'good'"
    off = widgets.tile(jam, replace(reading(jam.name, 0.0, Quality.GOOD), value=False), NOW)
    assert 'class="tile"' in off
    assert ">good<" in off


def test_an_effect_is_a_dotted_tile_and_a_change_made_on_purpose_is_not_flagged(line: LineDefinition) -> None:
    speed = line.tag("filler.speed")
    slow = reading(speed.name, 0.0, Quality.GOOD)
    effect = widgets.tile(speed, slow, NOW, follows="line.speed")
    assert 'class="tile follows"' in effect
    assert "▼ below normal 9.6 to 10.4 · ↳ follows line.speed" in effect
    setpoint = line.tag("line.speed_sp")
    why = "set on purpose: set 600 → 540 bottles/min by action a1b2c3d4, approved by olga, sam at 10:02:00 (5 min ago)"
    moved = widgets.tile(setpoint, reading(setpoint.name, 540.0, Quality.GOOD), NOW, on_purpose=why)
    assert 'class="tile purpose"' in moved
    assert "✎ set on purpose" in moved
    assert "approved by olga, sam" in moved, "the whole sentence is in the tile's title"
    assert "below normal" not in moved
    # Inside its band, a value needs no word about why it is there.
    calm = widgets.tile(speed, reading(speed.name, 10.0, Quality.GOOD), NOW, follows="line.speed", on_purpose=why)
    assert 'class="tile"' in calm


def test_the_story_line_names_roots_effects_and_changes_made_on_purpose() -> None:
    from console.line_page import story_html
    from copilot.agent import Story

    told = Story(
        roots=("infeed.speed", "infeed.photo_eye_blocked_s"),
        follows={"line.state": "infeed.jam_detected", "filler.speed": "line.speed"},
        on_purpose={"capper.torque_sp": "set on purpose: set 2.2 → 2.3 N·m by action 1", "capper.torque": "follows"},
        details={"infeed.speed": "0.0 m/min, below normal 45 to 55 m/min", "infeed.photo_eye_blocked_s": "<b>50 s</b>"},
    )
    html = story_html(told)
    assert "⚑ Off normal at the root (2): <b>infeed.speed</b> 0.0 m/min, below normal 45 to 55 m/min" in html
    assert "&lt;b&gt;50 s&lt;/b&gt;" in html, "text from the line is escaped"
    assert "↳ 2 more deviations follow from them" in html
    assert "✎ Moved on purpose, not flagged: set 2.2 → 2.3 N·m by action 1; 1 tag moved with them" in html


def test_an_alarm_row_says_its_priority_in_words_with_its_value_and_limit() -> None:
    alarm = ActiveAlarm(
        code="INF-102",
        tag="infeed.motor_current",
        priority="high",
        message="Infeed motor current high",
        value=15.25,
        limit=14.0,
        since_s=time.monotonic() - 42,
    )
    row = widgets.alarm_row(alarm, unit="A")
    assert "<b>▲ HIGH</b> · INF-102 · Infeed motor current high" in row
    assert "(infeed.motor_current 15.2 A, limit 14; for 42 s)" in row, "at the instrument's resolution"


def test_the_line_shows_every_tag_by_equipment_and_trends_with_their_limits(console: Console) -> None:
    app = console.page("line", "olga")
    page = text_of(app)
    assert "● Line connected" in page
    assert "✓ No active alarm" in page
    for tag in console.ctx.line.tags:
        assert f'data-tag="{tag.name}"' in page, tag.name
    assert "#### Infeed conveyor" in page
    assert "#### Chilled water" in page
    assert 'data-quality="good"' in page
    assert not app.error

    app.pills[0].set_value("Capper").run()
    page = text_of(app)
    assert 'data-tag="capper.torque"' in page
    assert 'data-tag="filler.bowl_level"' not in page

    app.multiselect(key="trend_tags").set_value(["infeed.motor_current", "filler.bowl_level"]).run()
    charts = app.get("plotly_chart")
    assert len(charts) == 2
    figure = json.loads(charts[0].proto.spec)
    assert figure["layout"]["title"]["text"] == "infeed.motor_current (A)"
    band = [s for s in figure["layout"]["shapes"] if s["type"] == "rect"]
    assert [(b["y0"], b["y1"]) for b in band] == [(6, 11)], "normal band shaded"
    notes = [a["text"] for a in figure["layout"]["annotations"]]
    assert "INF-102 high 14 (high)" in notes, "alarm limit drawn and named"
    assert len(figure["data"][0]["y"]) > 0, "samples from the live cache"
    assert not app.exception


def test_a_fault_raises_alarms_by_priority_with_text(own_console: Console) -> None:
    sim = own_console.sim
    assert sim is not None
    sim.call(partial(sim.sim.inject, "conveyor_jam"))
    live = services.live_line()
    wait_until(lambda: any(a.code == "INF-101" for a in live.alarms()), timeout_s=20, what="the jam alarm")
    wait_until(
        lambda: (r := live.cache.reading("filler.speed")) is not None and float(r.value) < 9,  # type: ignore[arg-type]
        timeout_s=20,
        what="the filler to stop behind the jam",
    )
    app = own_console.page("line", "olga")
    page = text_of(app)
    assert "#### Active alarms (" in page
    assert "<b>▲ HIGH</b> · INF-101 ·" in page, "priority as a shape and a word, not colour alone"
    assert "▼ below normal 45 to 55" in tile_of(page, "infeed.speed")
    assert "✓ No active alarm" not in page
    # One root and its effects, not a wall of equal flags.
    assert 'class="tile out"' in tile_of(page, "infeed.speed")
    stopped = tile_of(page, "filler.speed")
    assert 'class="tile follows"' in stopped
    assert "↳ follows line.speed" in stopped
    assert "⚑ Off normal at the root (2): <b>infeed.speed</b>" in page
    assert "more deviations follow from them (dotted tiles)" in page
    assert not app.exception


def test_stale_and_line_down_values_are_greyed_with_their_age(own_console: Console) -> None:
    sim = own_console.sim
    assert sim is not None
    sim.sim.publishing = False  # a PLC that stops updating while its server stays up
    live = services.live_line()
    wait_until(
        lambda: (
            (r := live.cache.readings(["filler.bowl_level"])["filler.bowl_level"]) is not None
            and r.quality is Quality.STALE
        ),
        timeout_s=20,
        what="the values to go stale",
    )
    app = own_console.page("line", "olga")
    page = text_of(app)
    frozen = tile_of(page, "filler.bowl_level")
    assert 'class="tile dim"' in frozen
    assert "STALE · " in frozen
    assert " s old" in frozen
    assert "● Line connected" in page, "stale is not the same as down: the server still answers"
    assert not app.error

    sim.sim.publishing = True  # the PLC comes back: the same tile is live again
    wait_until(
        lambda: (r := live.cache.readings(["filler.bowl_level"])["filler.bowl_level"]) is not None and r.usable,
        timeout_s=20,
        what="the values to come back",
    )
    again = tile_of(text_of(own_console.page("line", "olga")), "filler.bowl_level")
    assert 'data-quality="good"' in again
    assert "dim" not in again

    sim.stop()
    wait_until(lambda: not live.available, timeout_s=20, what="the line to go down")
    app = own_console.page("line", "olga")
    page = text_of(app)
    assert "line down · " in tile_of(page, "infeed.speed")
    assert 'class="tile dim"' in tile_of(page, "infeed.speed")
    [error] = [as_read(e.value) for e in app.error]
    assert error.startswith("Line unavailable: ")
    assert "The values below are the last ones received, greyed with their age" in error
    assert "Check that the line's OPC UA server is running and reachable" in error
    assert "Alarm state unknown while the line is unavailable" in page
    assert "✕ Line unavailable" in sidebar_text(own_console.app("olga"))
    assert not app.exception


def test_a_line_never_reached_shows_no_values_and_says_what_to_do(console_without_line: Console) -> None:
    live = services.live_line()
    wait_until(
        lambda: live.availability[0] is Availability.UNAVAILABLE, timeout_s=20, what="the first connection to fail"
    )
    app = console_without_line.page("line", "sam")
    page = text_of(app)
    assert page.count("no reading yet") == len(console_without_line.ctx.line.tags)
    assert "Alarm state unknown while the line is unavailable" in page
    assert "✕ Line not connected" in page
    [error] = [as_read(e.value) for e in app.error]
    assert error.startswith("Line unavailable: ")
    assert live.endpoint in error
    assert "Check that the line's OPC UA server is running and reachable" in error
    assert not app.exception
