"""Hostile text in every untrusted field, shown to every role in a real browser: no outside request, nothing live.

A small HTTP server on a loopback port of the test's choosing stands for "outside": every hostile image and link
points at it and it records every request. Playwright records any request the page makes to a host other than the
console. The console runs as `copilot demo` runs it, over a line definition whose equipment name, descriptions,
units and alarm messages are hostile, with a knowledge base holding hostile Markdown, HTML and text documents.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from connectors.line import default_line_path
from copilot.errors import CopilotError
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import add_user, get_user
from copilot.services import pipeline_ops
from copilot.settings import load_settings
from evals.demo_runner import CHROMIUM, TABLET, Demo, start_demo, stop_demo
from knowledge import KnowledgeBase
from tests.console.hostile import BOLD, hostile, hostile_name
from tests.e2e.conftest import with_library

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TAG = "infeed.speed_sp"
# Bidi controls and terminal escapes must not be anywhere in what the browser holds, hidden parts included.
CONTROLS_JS = r"/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u001b\u009b\u0007]/"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.end_headers()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads `seen`; nothing on stderr


@dataclass
class Outside:
    """The "outside" server: its host:port for the hostile URLs, and every request it received."""

    host: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def outside() -> Iterator[Outside]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Outside(host=f"127.0.0.1:{server.server_address[1]}", requests=_Recorder.seen)
    finally:
        server.shutdown()
        server.server_close()


def _hostile_line(folder: Path, host: str) -> Path:
    """The bottling line with hostile strings where a server or a discovered definition supplies them.

    Not the equipment names: the simulator makes browse names of them, and OPC UA refuses most of the text.
    """
    data = yaml.safe_load(default_line_path().read_text(encoding="utf-8"))
    for tag in data["tags"]:
        if tag["name"] in (TAG, "infeed.speed"):
            tag["unit"] = hostile_name("unit", host)
            tag["description"] = hostile("description", host)
        for alarm in tag.get("alarms", []):
            alarm["message"] = hostile("alarm", host)
    path = folder / "hostile-line.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _hostile_documents(folder: Path, host: str) -> Path:
    docs = folder / "hostile-docs"
    docs.mkdir()
    row = " | ".join(hostile(f"kb-{col}", host).replace("|", "/") for col in ("symptom", "cause", "remedy"))
    (docs / "hostile-manual.md").write_text(
        f"---\ntitle: {json.dumps(hostile('kb-title', host))}\ndoc_type: manual\nequipment: infeed\nrevision: A\n"
        f"---\n\n# {hostile('kb-heading', host)}\n\n## {hostile('kb-section', host)}\n\n"
        f"{hostile('kb-passage', host)} bottles jam on the infeed conveyor\n\n## Troubleshooting\n\n"
        "| Code | Symptom | Probable cause | Remedy |\n| --- | --- | --- | --- |\n"
        f"| ZZ-901 | {row} |\n",
        encoding="utf-8",
    )
    (docs / "hostile-page.html").write_text(
        f"<html><head><title>{hostile('html-title', host)}</title></head><body>"
        f"<h1>{hostile('html-heading', host)}</h1><p>{hostile('html-passage', host)} bottles jam on the infeed"
        "</p></body></html>",
        encoding="utf-8",
    )
    (docs / "hostile-notes.txt").write_text(
        f"{hostile('txt-passage', host)}\nbottles jam on the infeed conveyor\n", encoding="utf-8"
    )
    return docs


@dataclass(frozen=True, kw_only=True)
class Planted:
    demo: Demo
    outside: Outside
    fields: tuple[str, ...]  # whose hostile text is somewhere the console shows
    refused_at_entry: tuple[str, ...]  # whose hostile text the library refused, so it cannot be shown


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, outside: Outside, library_kb: KnowledgeBase) -> Iterator[Planted]:
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: `make browser` installs it")
    folder = tmp_path_factory.mktemp("hostile")
    host = outside.host
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COPILOT_LINE", str(_hostile_line(folder, host)))
        demo = start_demo(with_library(folder / "data", library_kb))
        try:
            # The console opens the knowledge base on first use, so documents ingested now are in it.
            ingested = demo.copilot("ingest", str(_hostile_documents(folder, host)))
            assert ingested.returncode == 0, ingested.stdout + ingested.stderr
            # A jam raises the infeed's alarms, whose messages are hostile, on the Line page.
            jammed = demo.copilot("fault", "inject", "conveyor_jam")
            assert jammed.returncode == 0, jammed.stdout + jammed.stderr
            env.setenv("COPILOT_DATA_DIR", str(demo.data_dir))
            env.setenv("COPILOT_ENDPOINT", demo.endpoint)
            yield Planted(demo=demo, outside=outside, **_plant_actions(host))
        finally:
            if demo.process.poll() is None:
                stop_demo(demo)


def _plant_actions(host: str) -> dict[str, tuple[str, ...]]:
    """Proposals, a rejection, a refused unknown tag, the kill switch and a person, through the real library."""
    ctx = pipeline_ops.open_context(load_settings())
    people = {name: get_user(ctx.db, name) for name in ("olga", "otto", "sam")}
    pending = pipeline_ops.propose(ctx, people["olga"], TAG, 52.0, hostile("reason", host))
    assert pending.status is Status.PENDING, pending.refusals
    rejected = pipeline_ops.propose(ctx, people["otto"], TAG, 48.0, "to be rejected")
    assert rejected.status is Status.PENDING, rejected.refusals
    ctx.service.reject(rejected.id, people["sam"], hostile("reject", host))
    unknown = ctx.service.propose(
        hostile_name("tag", host),
        50.0,
        requester=people["olga"],
        reason=hostile("refused-reason", host),
        snapshot=LineSnapshot(available=True, readings={}),
    )
    assert unknown.status is Status.REFUSED
    ctx.service.set_writes(False, by=people["sam"], reason=hostile("switch", host))
    refused: list[str] = []
    try:
        add_user(ctx.db, hostile_name("person", host), Role.SUPERVISOR, "long enough password", by="test", at=0.0)
    except (CopilotError, ValueError):
        refused.append("person")
    fields = ("reason", "reject", "tag", "refused-reason", "switch", "unit", "description", "alarm")
    return {"fields": fields, "refused_at_entry": tuple(refused)}


@dataclass
class Visit:
    """What one browser page requested outside the console, and the hostile markers it showed."""

    console: str
    outside: list[str] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)
    live: list[str] = field(default_factory=list)


def _watch(page: Page, visit: Visit) -> None:
    def seen(request: object) -> None:
        url = str(getattr(request, "url", ""))
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != visit.console:
            visit.outside.append(url)

    page.on("request", seen)


def _inspect(page: Page, visit: Visit, host: str, fields: tuple[str, ...]) -> None:
    """Every image, link and emphasis on the page carries nothing hostile; no control character anywhere."""
    found = page.evaluate(
        """([host, controls]) => {
            const live = [];
            for (const img of document.querySelectorAll('img')) {
                if (img.src.includes(host) || (img.alt || '').includes('img-')) live.push('img ' + img.src);
            }
            for (const a of document.querySelectorAll('a[href]')) {
                if (a.href.includes(host) || a.href.startsWith('mailto:') || a.textContent.includes(host))
                    live.push('a ' + a.href);
            }
            // The hostile claim is planted in bold in every field: no emphasis or heading may say it.
            for (const el of document.querySelectorAll('strong, b, em, i, h1, h2, h3, h4, h5, h6')) {
                const text = el.textContent;
                const emphasis = ['STRONG', 'B', 'EM', 'I'].includes(el.tagName);
                if (text.includes('verified this') || (emphasis && text.includes(host)))
                    live.push(el.tagName + ' ' + text);
            }
            // Tooltips (a tile's title carries the tag's description) are read too.
            const titles = [...document.querySelectorAll('[title]')].map((el) => el.title).join(' | ');
            const text = document.body.textContent + ' | ' + titles;
            if (new RegExp(controls.slice(1, -1)).test(text)) live.push('control character in the page text');
            for (const el of document.querySelectorAll('[title]')) {
                if (new RegExp(controls.slice(1, -1)).test(el.title)) live.push('control character in a title');
            }
            return {live, text: text.replaceAll('\\u2060', '')};
        }""",
        [host, CONTROLS_JS],
    )
    visit.live += [f"{page.url}: {item}" for item in found["live"]]
    text = str(found["text"])
    visit.shown |= {f for f in fields if f"img-{f}.png" in text or f"end-{f}" in text}


def _sign_in(page: Page, demo: Demo, name: str) -> None:
    page.goto(demo.url)
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(demo.passwords[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#newest-value")).to_be_visible(timeout=30_000)


def _open(page: Page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True, level=1)).to_be_visible(timeout=15_000)


def _choose(page: Page, label: str, option: re.Pattern[str]) -> None:
    """Open a select box and click an option; a list that closed before the click (the page ran again under it) is
    opened again, up to three times in the 30 s a single wait had."""
    choice = page.get_by_role("option", name=option)
    for attempt in range(3):
        page.get_by_label(label).click()
        try:
            choice.click(timeout=10_000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def _expand_all(page: Page) -> None:
    for summary in page.locator("[data-testid='stExpander'] summary").all():
        summary.click()


KB_FIELDS = (
    "kb-title",
    "kb-section",
    "kb-passage",
    "kb-symptom",
    "kb-cause",
    "kb-remedy",
    "html-title",
    "html-passage",
)
CHAT_FIELDS = ("question",)
PAGES = {
    "olga": ("Line", "Co-pilot", "Troubleshooting", "Actions and audit"),
    "sam": ("Line", "Co-pilot", "Troubleshooting", "Actions and audit"),
    "mia": ("Line", "Troubleshooting", "Co-pilot", "Actions and audit"),
    "ada": ("Line", "Troubleshooting", "Actions and audit"),
}


def test_hostile_text_in_every_field_fetches_nothing_and_shows_as_text(planted: Planted, browser: Browser) -> None:
    demo, host = planted.demo, planted.outside.host
    all_fields = planted.fields + KB_FIELDS + ("txt-passage",) + CHAT_FIELDS
    visit = Visit(console=urlsplit(demo.url).netloc)
    for who, titles in PAGES.items():
        page = browser.new_page(viewport=TABLET)
        _watch(page, visit)
        _sign_in(page, demo, who)
        for title in titles:
            if title != "Line":
                _open(page, title)
            if title == "Line" and who == "olga":
                expect(page.locator(".alarm").first).to_be_visible(timeout=90_000)
            if title == "Troubleshooting":
                page.get_by_label("Symptom, alarm code or question").fill(BOLD.strip("*"))
                page.get_by_role("button", name="Search").click()
                expect(page.get_by_text("Full passage").first).to_be_visible(timeout=60_000)
                page.get_by_label("Or another code or a symptom").fill("ZZ-901")
                page.get_by_label("Or another code or a symptom").press("Enter")
                expect(page.get_by_text("ZZ-901", exact=False).first).to_be_visible(timeout=30_000)
            if title == "Actions and audit" and who == "sam":
                # The rejected action's card (who rejected it and why) shows once it is opened.
                _choose(page, "Open an action and its history", re.compile(r" · rejected · "))
                expect(page.get_by_text("Rejected by sam", exact=False)).to_be_visible(timeout=30_000)
            if title == "Co-pilot" and who == "olga":
                box = page.get_by_test_id("stChatInputTextArea")
                box.fill(hostile("question", host) + " bottles jam on the infeed conveyor")
                box.press("Enter")
                expect(page.get_by_text("Answered in", exact=False)).to_be_visible(timeout=120_000)
            # Fixed waits on purpose: they give a request that must never happen (an image or a link fetched from
            # hostile text as the page settles, or once an expander opens) the time to show up; no event says it won't.
            # A browser asks for an image as it lays the element out, within milliseconds on loopback; the last
            # page's wait below is the longer one.
            time.sleep(1)
            _expand_all(page)
            time.sleep(0.5)
            _inspect(page, visit, host, all_fields)
        page.close()
    time.sleep(2)  # the last page's late requests, if any, reach the recorder (a fixed wait, as above)
    shown = sorted(visit.shown)
    covered = len(shown) + len(planted.refused_at_entry)
    print(
        f"\nhostile text: {covered} fields covered ({len(shown)} shown: {', '.join(shown)}; "
        f"{len(planted.refused_at_entry)} refused at entry: {', '.join(planted.refused_at_entry) or 'none'}; "
        f"not shown: {', '.join(sorted(set(all_fields) - visit.shown)) or 'none'}); "
        "outside requests from the server's log: "
        f"{len(planted.outside.requests)}, from the browser: {len(visit.outside)}; live renderings: {len(visit.live)}"
    )
    assert planted.outside.requests == []
    assert visit.outside == []
    assert visit.live == []
    expected = set(all_fields)
    assert expected <= visit.shown, sorted(expected - visit.shown)


def test_streamlit_metrics_answer_nobody(planted: Planted) -> None:
    url = planted.demo.url.rstrip("/")
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as reply:
        assert reply.status == 200, "the console is up"
    for path in ("/_stcore/metrics", "/_stcore/metrics/", "/_stcore/metrics?families=session_events"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}{path}", timeout=10)
        assert refused.value.code == 404, path
        assert b"session" not in refused.value.read()
