"""The whole product in a real browser: sign in, watch the line, ask about a fault, approve, see the write and audit."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from evals.demo_runner import TABLET, Demo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    # COPILOT_SCREENSHOTS keeps them somewhere to look at after the run; by default they go with the test's files.
    folder = Path(os.environ.get("COPILOT_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page: Page, demo: Demo, name: str) -> None:
    page.goto(demo.url)
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(demo.passwords[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#newest-value")).to_be_visible(timeout=30_000)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=15_000)


def open_page(page: Page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True, level=1)).to_be_visible(timeout=15_000)


def tile_value(page: Page, tag: str) -> str:
    return page.locator(f'.tile[data-tag="{tag}"] .value').inner_text()


def test_operator_and_supervisor_change_the_line_through_the_copilot(demo: Demo, browser: Browser, shots: Path) -> None:
    assert {"olga", "otto", "sam", "mia", "ada"} <= demo.passwords.keys()
    page = browser.new_page(viewport=TABLET)
    page.goto(demo.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
    assert page.locator(".tile").count() == 0, "no line data before sign-in"
    expect(page.get_by_label("User name")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    page.screenshot(path=shots / "sign-in.png")

    # A live value changes on the Line page without a reload.
    sign_in(page, demo, "olga")
    first = tile_value(page, "filler.bowl_level")
    bowl_level = page.locator('.tile[data-tag="filler.bowl_level"] .value')
    expect(bowl_level).not_to_have_text(first, use_inner_text=True, timeout=20_000)
    assert tile_value(page, "filler.bowl_level") != first
    # The sidebar's connection state refreshes every 2 s; it must agree with the page once it has.
    expect(page.locator(".conn.ok")).to_be_visible(timeout=10_000)
    page.screenshot(path=shots / "line.png")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no horizontal scrolling"

    # A bearing runs dry; at ten times real time its signature shows within half a minute: vibration, current and
    # temperature rise, and the Line page raises the vibration alarm, then the bearing temperature alarm.
    assert demo.copilot("fault", "inject", "motor_bearing_overheat").returncode == 0
    for code in ("FIL-207", "FIL-206"):
        expect(page.locator(f'.alarm[data-code="{code}"]')).to_be_visible(timeout=60_000)
    open_page(page, "Co-pilot")
    page.get_by_test_id("stChatInputTextArea").fill("The filler is getting hot and vibrating, why?")
    page.get_by_test_id("stChatInputTextArea").press("Enter")
    expect(page.get_by_text("Most likely cause", exact=False)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Offline diagnosis engine", exact=False)).to_be_visible()
    assert "bearing" in page.get_by_test_id("stChatMessage").last.inner_text().lower()
    page.get_by_text(re.compile(r"^\[1\] ")).first.click()
    expect(page.get_by_text("Cause:", exact=False).first).to_be_visible()
    expect(page.get_by_text("Proposed change: line.speed_sp", exact=False)).to_be_visible()
    expect(page.get_by_text("someone else must approve it", exact=False)).to_be_visible()
    page.screenshot(path=shots / "copilot.png", full_page=True)
    sign_out(page)

    # Another operator approves; the change is a full step, so it still waits for a supervisor.
    sign_in(page, demo, "otto")
    open_page(page, "Actions and audit")
    expect(page.get_by_text("Proposed change: line.speed_sp", exact=False)).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("given: otto (operator)", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("waiting for approval", exact=False).first).to_be_visible()
    sign_out(page)

    # The supervisor's approval is the last one: the executor writes and reads back.
    sign_in(page, demo, "sam")
    open_page(page, "Actions and audit")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("written and read back", exact=False)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Audit chain verified", exact=False)).to_be_visible()
    expect(page.get_by_text("executed", exact=True).first).to_be_visible()
    page.screenshot(path=shots / "actions-audit.png", full_page=True)

    open_page(page, "Line")
    expect(page.locator('.tile[data-tag="line.speed_sp"] .value')).to_contain_text("540", timeout=20_000)

    open_page(page, "Troubleshooting")
    page.get_by_label("Symptom, alarm code or question").fill("caps loose and leaking")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Capper RC-24", exact=False).first).to_be_visible(timeout=30_000)
    page.screenshot(path=shots / "troubleshooting.png", full_page=True)
    for name in ("sign-in", "line", "copilot", "actions-audit", "troubleshooting"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
