"""The Co-pilot page on the real server in a real browser: the warm-up's state from the first page, once per process,
a failure with what to do, and the conversation after "Try again" without a reload."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from evals.demo_runner import CHROMIUM, TABLET, Demo, start_demo, stop_demo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WARM_UP_S = 300_000  # ms: LangGraph and MiniLM load in the console while the machine may be busy


@dataclass(frozen=True, kw_only=True)
class LockedDemo:
    demo: Demo
    holder: sqlite3.Connection  # holds the console's thread store locked until the test lets go


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockedDemo]:
    """`copilot demo` whose conversation store another process holds locked from before the console starts, so its
    warm-up cannot finish building the co-pilot, whatever the machine's speed."""
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: `make browser` installs it")
    data = tmp_path_factory.mktemp("locked-demo")
    holder = sqlite3.connect(data / "threads.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        demo = start_demo(data)
        try:
            yield LockedDemo(demo=demo, holder=holder)
        finally:
            if demo.process.poll() is None:
                stop_demo(demo)
    finally:
        holder.close()


def sign_in(page: Page, demo: Demo, name: str) -> None:
    page.goto(demo.url)
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(demo.passwords[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#newest-value")).to_be_visible(timeout=60_000)


def warm_up_log(demo: Demo) -> list[str]:
    log = (demo.data_dir / "logs" / "console.log").read_text(encoding="utf-8", errors="replace")
    return re.findall(r"co-pilot warm-up (?:started.*|failed while [^:\n]*|ready)", log)


def test_a_failed_warm_up_is_shown_and_the_page_opens_after_try_again_without_a_reload(
    locked: LockedDemo, browser: Browser
) -> None:
    demo = locked.demo
    page = browser.new_page(viewport=TABLET)
    sign_in(page, demo, "olga")
    sidebar = page.get_by_test_id("stSidebar")
    # From the first page on, the sidebar says where the co-pilot is: warming up, or (already) failed.
    expect(sidebar.get_by_text(re.compile(r"Co-pilot: warming up \(.+\)…|✕ Co-pilot could not start"))).to_be_visible()
    expect(sidebar.get_by_text("✕ Co-pilot could not start")).to_be_visible(timeout=WARM_UP_S)
    expect(sidebar.get_by_text("The Co-pilot page says why and what to do.")).to_be_visible()

    other = browser.new_page(viewport=TABLET)
    sign_in(other, demo, "otto")
    expect(other.get_by_test_id("stSidebar").get_by_text("✕ Co-pilot could not start")).to_be_visible()
    other.close()
    # Once per server process, not once per person: two sessions, one warm-up.
    assert warm_up_log(demo) == ["co-pilot warm-up started", "co-pilot warm-up failed while building the co-pilot"]

    page.get_by_role("link", name="Co-pilot").click()
    expect(page.get_by_text("Co-pilot could not start. Could not finish building the co-pilot:")).to_be_visible()
    expect(page.get_by_text("OperationalError: database is locked", exact=False)).to_be_visible()
    expect(page.get_by_text("The console's log has the details.", exact=False)).to_be_visible()
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_count(0)

    locked.holder.execute("ROLLBACK")  # what the message asks: the cause is gone
    page.get_by_role("button", name="Try again").click()
    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_visible(timeout=WARM_UP_S)  # the page's own refresh brings it: no reload here
    expect(sidebar.get_by_text("● Co-pilot ready")).to_be_visible(timeout=10_000)
    assert warm_up_log(demo)[2:] == ["co-pilot warm-up started again (attempt 2)", "co-pilot warm-up ready"]

    box.fill("Why did the filler stop?")
    box.press("Enter")
    expect(page.get_by_text("Answered in", exact=False)).to_be_visible(timeout=120_000)

    # Someone who opens the page now, after the console said ready, finds the conversation at once.
    late = browser.new_page(viewport=TABLET)
    sign_in(late, demo, "sam")
    expect(late.get_by_test_id("stSidebar").get_by_text("● Co-pilot ready")).to_be_visible()
    late.get_by_role("link", name="Co-pilot").click()
    expect(late.get_by_test_id("stChatInputTextArea")).to_be_visible()
    expect(late.get_by_text("warming up", exact=False)).to_have_count(0)
    late.close()
    page.close()
