"""The co-pilot's warm-up: once per process, its state in the sidebar and on the page, a failure with what to do."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from console import services
from console.warmup import Phase, Step, Warmup
from knowledge import IndexUnavailable
from tests.console.conftest import Console, as_read, button, read, sidebar_text, text_of
from tests.helpers import eventually

WAIT_S = 300.0  # LangGraph and MiniLM on a busy two-core machine; a hung warm-up fails the test here


ZETA_MANUAL = """---
title: Zeta gearbox manual
doc_type: manual
equipment: infeed
revision: A
---

# Zeta gearbox

## Troubleshooting

Purple smoke from the zeta gearbox means it runs dry: stop it and add oil.
"""


def shift_log(entries: int) -> str:
    """A document of `entries` short passages about the capper."""
    head = "---\ntitle: Shift log\ndoc_type: manual\nequipment: capper\nrevision: A\n---\n\n# Shift log\n"
    return head + "".join(
        f"\n## Entry {n}\n\nShift {n}: capper chuck {n} checked, torque within limits, no loose caps.\n"
        for n in range(entries)
    )


class Gate:
    """A warm-up step that holds until the test opens it, and counts how often it ran."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.runs = 0

    def step(self, doing: str) -> Step:
        def run() -> None:
            self.runs += 1
            if not self.opened.wait(WAIT_S):
                raise TimeoutError("the test never opened the gate")

        return Step(doing=doing, run=run)


@pytest.fixture
def warmup_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What the warm-up logs (its logger is Streamlit's, which does not pass records on to the root logger)."""
    logger = logging.getLogger("console.warmup")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def gates() -> Iterator[list[Gate]]:
    made: list[Gate] = []
    yield made
    for gate in made:  # a failed test must not leave a warm-up thread waiting for ever
        gate.opened.set()


def gate(gates: list[Gate]) -> Gate:
    made = Gate()
    gates.append(made)
    return made


def step_that_fails(errors: list[Exception]) -> Step:
    """A step that raises the next of `errors`, then succeeds once they are used up."""

    def run() -> None:
        if errors:
            raise errors.pop(0)

    return Step(doing="opening the test's index", run=run)


async def test_the_steps_run_once_in_the_background_and_the_state_follows_them(gates: list[Gate]) -> None:
    first, second = gate(gates), gate(gates)
    warmup = Warmup((first.step("loading the agent"), second.step("opening the index")))
    assert warmup.readiness.phase is Phase.IDLE
    assert warmup.readiness.headline == "Co-pilot: starts when its page is opened"

    assert warmup.start() is True
    assert warmup.start() is False, "a second start while it runs starts nothing"
    await eventually(lambda: first.runs == 1, what="the first step to start")
    now = warmup.readiness
    assert (now.phase, now.doing, now.done, now.total) == (Phase.WARMING, "loading the agent", 0, 2)
    assert now.headline == "Co-pilot: warming up (loading the agent)…"

    first.opened.set()
    await eventually(lambda: warmup.readiness.doing == "opening the index", what="the second step")
    assert warmup.readiness.phase is Phase.WARMING
    second.opened.set()
    ended = warmup.wait(WAIT_S)
    assert ended.phase is Phase.READY
    assert ended.headline == "Co-pilot ready"

    assert warmup.start() is False, "once per process: a finished warm-up is not run again"
    assert warmup.retry() is False, "only a failed warm-up is run again"
    assert (first.runs, second.runs) == (1, 1)


def test_a_failed_step_stops_the_warm_up_with_what_to_do_and_a_retry_runs_it_again(
    gates: list[Gate], warmup_log: pytest.LogCaptureFixture
) -> None:
    after = gate(gates)
    after.opened.set()
    errors: list[Exception] = [IndexUnavailable("the ingest manifest plant.json is damaged")]
    warmup = Warmup((step_that_fails(errors), after.step("building the co-pilot")))
    warmup.start()
    failed = warmup.wait(WAIT_S)
    assert failed.phase is Phase.FAILED
    assert failed.headline == "Co-pilot could not start"
    assert failed.doing == "opening the test's index"
    assert as_read(failed.problem) == (
        "Could not finish opening the test's index: the ingest manifest plant.json is damaged\n\n"
        "Check the knowledge folder in the data directory (COPILOT_DATA_DIR); `copilot ingest` rebuilds it."
    ), "our error comes with what to do about it"
    assert after.runs == 0, "nothing after the failed step runs"
    assert warmup.start() is False, "a failed warm-up is not restarted by the server's start call"
    assert warmup.retry() is True
    assert warmup.wait(WAIT_S).phase is Phase.READY
    assert after.runs == 1
    logged = [r.getMessage() for r in warmup_log.records]
    assert logged[:3] == [
        "co-pilot warm-up started",
        "co-pilot warm-up failed while opening the test's index: the ingest manifest plant.json is damaged",
        "co-pilot warm-up started again (attempt 2)",
    ]
    assert logged[3].startswith("co-pilot warm-up ready in ")


def test_an_unexpected_error_is_shown_with_its_type_and_logged_with_its_traceback(
    warmup_log: pytest.LogCaptureFixture,
) -> None:
    warmup = Warmup((step_that_fails([OSError("database is locked")]),))
    warmup.start()
    failed = warmup.wait(WAIT_S)
    assert failed.phase is Phase.FAILED
    assert as_read(failed.problem) == (
        "Could not finish opening the test's index: OSError: database is locked\n\n"
        "The console's log has the details. Fix what it names, then press **Try again**; "
        "if it fails again, restart the console."
    )
    [logged] = [r for r in warmup_log.records if "failed" in r.getMessage()]
    assert logged.exc_info is not None, "the log keeps the traceback of what nobody planned for"


def install(monkeypatch: pytest.MonkeyPatch, *first: Step) -> Warmup:
    """The console's real warm-up with the test's steps in front of its own."""
    warmup = Warmup((*first, *services.WARM_UP.steps))
    monkeypatch.setattr(services, "WARM_UP", warmup)
    return warmup


def test_the_console_warms_the_copilot_once_and_the_page_opens_on_what_it_built(console: Console) -> None:
    assert services.warm_up() is True
    ended = services.WARM_UP.wait(WAIT_S)
    assert ended.phase is Phase.READY, ended.problem
    built = services.copilot()
    assert services.warm_up() is False

    app = console.page("copilot", "olga")
    assert not app.exception
    assert not app.error
    assert app.chat_input, "the conversation is open"
    assert "warming up" not in text_of(app)
    assert services.copilot() is built, "the page used the co-pilot the warm-up built"


def ingest(folder: Path) -> None:
    """`copilot ingest` in a process of its own, as people run it beside a console that is already up."""
    done = subprocess.run(
        [sys.executable, "-m", "copilot", "ingest", str(folder)], capture_output=True, text=True, timeout=WAIT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_documents_ingested_after_the_warm_up_are_found_by_the_copilot(console: Console, tmp_path: Path) -> None:
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    # More passages than Chroma indexes in one batch (100): a smaller library is searched unindexed, which every
    # process sees at once, and would hide a knowledge base opened too early.
    (first / "log.md").write_text(shift_log(120), encoding="utf-8")
    (later / "zeta.md").write_text(ZETA_MANUAL, encoding="utf-8")
    ingest(first)  # a library that is not empty when the console starts, as in the demo
    services.warm_up()
    assert services.WARM_UP.wait(WAIT_S).phase is Phase.READY
    ingest(later)
    # No word in common with the manual: only the vectors can find it, and only if they were read after the ingest.
    found = services.copilot().library.search("lavender fumes leaving the reduction drive", k=2)
    assert "Zeta gearbox manual" in [c.title for c in found]


def test_the_state_shows_while_the_warm_up_runs_and_the_page_opens_after_it(
    console: Console, gates: list[Gate], monkeypatch: pytest.MonkeyPatch
) -> None:
    held = gate(gates)
    warmup = install(monkeypatch, held.step("waiting for the test"))
    side = sidebar_text(console.app("olga"))
    assert "○ Co-pilot: starts when its page is opened" in side, "without a server nothing has started it"

    services.warm_up()
    app = console.app("olga")
    assert "◌ Co-pilot: warming up (waiting for the test)…" in sidebar_text(app)
    assert "Step 1 of 5; the Co-pilot page opens when it is ready." in [c.value for c in app.sidebar.caption]
    page = console.page("copilot", "olga")
    assert [m.value for m in page.info] == [
        "Co-pilot: warming up (waiting for the test)… The conversation opens here by itself when it is ready."
    ]
    assert not page.chat_input, "no question box while nothing could answer it"
    assert not page.exception

    held.opened.set()
    assert warmup.wait(WAIT_S).phase is Phase.READY
    page.run()  # what the page's one-second refresh does once the warm-up has ended
    assert page.chat_input
    assert not page.info
    assert not page.exception
    assert "● Co-pilot ready" in sidebar_text(console.app("olga"))
    assert "Co-pilot" not in sidebar_text(console.app("ada")), "admins have no co-pilot, so no state of it"
    assert held.runs == 1


def test_a_failed_warm_up_says_what_to_do_and_the_page_works_after_try_again(console: Console) -> None:
    # Another process holds the conversation store locked: the co-pilot cannot be built until it lets go.
    holder = sqlite3.connect(console.data_dir / "threads.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        services.warm_up()
        failed = services.WARM_UP.wait(WAIT_S)
        assert failed.phase is Phase.FAILED
        assert failed.doing == "building the co-pilot"

        assert "✕ Co-pilot could not start" in sidebar_text(console.app("olga"))
        page = console.page("copilot", "olga")
        assert read(page.error) == [
            "Co-pilot could not start. Could not finish building the co-pilot: OperationalError: database is locked"
            "\n\nThe console's log has the details. Fix what it names, then press **Try again**; "
            "if it fails again, restart the console."
        ]
        assert not page.chat_input
        holder.execute("ROLLBACK")  # the cause is gone
    finally:
        holder.close()

    button(page, "Try again").click().run()
    assert services.WARM_UP.wait(WAIT_S).phase is Phase.READY
    page.run()
    assert not page.error
    assert page.chat_input
    assert not page.exception
    assert "● Co-pilot ready" in sidebar_text(console.app("olga"))


async def test_reset_waits_for_a_running_warm_up_before_it_forgets_it(gates: list[Gate]) -> None:
    held = gate(gates)
    warmup = Warmup((held.step("waiting for the test"),))
    warmup.start()
    await eventually(lambda: held.runs == 1, what="the step to start")
    # Forgetting a warm-up still under way would let it build services after shutdown cleared them.
    with pytest.raises(RuntimeError, match=r"did not end within 0\.2 s"):
        warmup.reset(timeout_s=0.2)
    assert warmup.readiness.phase is Phase.WARMING
    held.opened.set()
    warmup.reset()
    assert warmup.readiness.phase is Phase.IDLE
    assert warmup.start() is True, "after a reset the next start warms again"
    assert warmup.wait(WAIT_S).phase is Phase.READY


def test_shutdown_forgets_the_warm_up_so_a_restarted_console_warms_again(console: Console) -> None:
    services.warm_up()
    assert services.WARM_UP.wait(WAIT_S).phase is Phase.READY
    services.shutdown()
    assert services.copilot_readiness().phase is Phase.IDLE
    assert services.warm_up() is True
    assert services.WARM_UP.wait(WAIT_S).phase is Phase.READY
