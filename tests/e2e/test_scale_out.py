"""Scale-out: two consoles and several CLI processes on one PostgreSQL database deciding the same actions at once.

Two Streamlit console processes serve the same database and line; otto approves in one browser, sue rejects in
another, and `copilot` processes withdraw, reject, approve or switch writes off at the same moment. Each CLI process
is the real command (`copilot.cli.run`) started ahead with its imports done, so that it acts when told, not
seconds later. Every round is judged from the audit trail and from the line itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from connectors.client import LineClient
from connectors.line import LineDefinition, load_line
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from copilot.evaluation.races import race_line
from copilot.pipeline.actions import Action
from copilot.pipeline.audit import AuditEntry, AuditEvent, entries
from copilot.pipeline.db import Database
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import add_user, get_user
from copilot.services import pipeline_ops
from copilot.settings import load_settings
from evals.demo_runner import TABLET
from tests.databases import postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
TAG = "filler.bowl_level_sp"
STEP = 2.0  # below the tag's approval threshold (5): one approval, by anyone who may approve, writes it
PASSWORD = "scale-out test only, never a real one"
PEOPLE = {"olga": Role.OPERATOR, "otto": Role.OPERATOR, "sam": Role.SUPERVISOR, "sue": Role.SUPERVISOR}
# In every round otto clicks Approve in console A and sue clicks Reject in console B; these run beside them.
CLI_MOVES: dict[str, tuple[str, ...]] = {
    "withdraw:olga": ("withdraw", "{id}", "--as", "olga", "--reason", "scale-out: taken back"),
    "reject:sam": ("reject", "{id}", "--as", "sam", "--reason", "scale-out: vetoed from a shell"),
    "approve:sam": ("approve", "{id}", "--as", "sam"),
    "writes_off:sam": ("writes", "off", "--as", "sam", "--reason", "scale-out: kill switch"),
    "writes_on:sam": ("writes", "on", "--as", "sam", "--reason", "scale-out: a shell's time to decide"),
}
CLICK_S = 0.1  # from a click to the console's decision in the database, about, on this machine


@dataclass(frozen=True, kw_only=True)
class Round:
    """What the shells do beside the two clicks, and when each acts.

    The shells are released `lead` times a shell's decision time on a quiet machine ahead of otto's click (they are
    slower while two consoles and a browser work, so 1.0 is not yet a tie). Sue clicks Reject `veto_after` seconds
    after otto's Approve: 0 is the same moment; a little later lands in the window between an approval and the
    executor taking the action, where a veto must still win and nothing be written. The mix of winners varies from
    run to run; what the test holds every round to does not.
    """

    shells: tuple[str, ...]
    lead: float
    veto_after: float


ROUNDS = (
    Round(shells=("withdraw:olga",), lead=2.0, veto_after=0.0),
    Round(shells=("writes_off:sam",), lead=1.0, veto_after=0.6),
    Round(shells=("reject:sam", "withdraw:olga"), lead=1.5, veto_after=0.3),
    Round(shells=("approve:sam", "writes_off:sam"), lead=2.0, veto_after=1.0),
    Round(shells=("approve:sam", "withdraw:olga"), lead=0.5, veto_after=0.0),
    Round(shells=("reject:sam", "writes_off:sam"), lead=1.0, veto_after=0.6),
    Round(shells=("withdraw:olga", "approve:sam", "writes_off:sam"), lead=1.5, veto_after=0.3),
    Round(shells=("reject:sam",), lead=0.5, veto_after=1.0),
    Round(shells=("writes_off:sam",), lead=0.0, veto_after=1.5),
    Round(shells=("withdraw:olga", "reject:sam"), lead=0.0, veto_after=0.0),
)

# The real `copilot` entry point, its imports done first, held until "go" arrives on stdin: the CLI's seconds of
# start-up would otherwise decide every race before the browsers' clicks arrive. A test that died (stdin closed)
# releases nobody.
LAUNCHER = (
    "import sys\n"
    "from copilot.cli import run\n"
    "print('ready', flush=True)\n"
    "if sys.stdin.readline().strip() != 'go':\n"
    "    sys.exit(3)\n"
    "sys.argv = ['copilot', *sys.argv[1:]]\n"
    "run()\n"
)
ENDINGS = (AuditEvent.REJECTED, AuditEvent.WITHDRAWN, AuditEvent.EXPIRED, AuditEvent.EXECUTING)
DECISIONS = (AuditEvent.APPROVED, AuditEvent.REJECTED, AuditEvent.WITHDRAWN, AuditEvent.EXPIRED)
T = TypeVar("T")


def _off_thread(func: Callable[[], T]) -> T:
    # Playwright's sync API owns this thread's event loop; the line is read from a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func).result(timeout=60)


def _scale_line(folder: Path) -> Path:
    """The bundled line with the tag's rate limit lifted: the rounds write it more often than a plant would."""
    return race_line(folder, TAG)


def _line_value(line: LineDefinition, endpoint: str) -> float:
    """The tag's value read from the server itself, not from anyone's cache."""

    async def read() -> float:
        async with LineClient(line, ConnectionOptions(endpoint=endpoint), tags=[TAG]) as client:
            await client.wait_available(15.0)
            return float((await client.read(TAG)).value)  # type: ignore[arg-type]

    return _off_thread(lambda: asyncio.run(read()))


@dataclass(frozen=True, kw_only=True)
class Plant:
    """One line, one PostgreSQL database and the environment every process of the plant shares."""

    url: str
    endpoint: str
    line: LineDefinition
    env: dict[str, str]
    folder: Path

    def env_for(self, data_dir: str) -> dict[str, str]:
        data = self.folder / data_dir
        data.mkdir(exist_ok=True)
        return {**self.env, "COPILOT_DATA_DIR": str(data)}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    folder = tmp_path_factory.mktemp("scale-out")
    line_path = _scale_line(folder)
    line = load_line(line_path)
    with postgres_database() as url:
        db = Database(url, create=True)
        for name, role in PEOPLE.items():
            add_user(db, name, role, PASSWORD, by="test", at=time.time())
        db.dispose()
        options = SimulatorOptions(port=free_port(), speed=1.0, publish_interval_s=0.2)
        with SimulatorThread(line, options) as simulator:
            env = {
                **os.environ,
                "COPILOT_DATABASE_URL": url,
                "COPILOT_ENDPOINT": simulator.sim.endpoint,
                "COPILOT_LINE": str(line_path),
                "COPILOT_PASSWORD": PASSWORD,
                "HF_HUB_OFFLINE": "1",
            }
            yield Plant(url=url, endpoint=simulator.sim.endpoint, line=line, env=env, folder=folder)


@dataclass(frozen=True, kw_only=True)
class Console:
    """One console replica: its address, its process and where it logs."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _start_console(plant: Plant, name: str) -> Console:
    """`streamlit run app.py` as a plant runs a replica: its own data directory, the shared database and line."""
    port = free_port()
    log = plant.folder / f"console-{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.address=127.0.0.1",
                f"--server.port={port}",
                "--server.headless=true",
                "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
                "--runner.postScriptGC=false",
            ],
            cwd=ROOT,
            env=plant.env_for(f"console-{name}"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"console {name} exited ({process.returncode}):\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return Console(url=url, process=process, log=log)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)  # polling a server that is starting; not a wait on the page
    process.kill()
    pytest.fail(f"console {name} did not answer within 90 s:\n{log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def consoles(plant: Plant) -> Iterator[tuple[Console, Console]]:
    first = _start_console(plant, "a")
    try:
        second = _start_console(plant, "b")
        try:
            yield first, second
        finally:
            _stop(second.process)
    finally:
        _stop(first.process)


def _sign_in(browser: Browser, console: Console, name: str) -> Page:
    """A person on their own tablet: a browser context of their own, signed in, on the Actions page."""
    page = browser.new_context(viewport=ViewportSize(width=TABLET["width"], height=TABLET["height"])).new_page()
    page.goto(console.url)
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#newest-value")).to_be_visible(timeout=60_000)
    _open(page, "Actions and audit")
    return page


def _open(page: Page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True, level=1)).to_be_visible(timeout=30_000)


def _show_card(page: Page, action: Action) -> None:
    """Open the Actions page again so it reads the database, and wait for the new action's card."""
    _open(page, "Line")
    _open(page, "Actions and audit")
    expect(page.get_by_text(f"id {action.id[:8]}", exact=False)).to_be_visible(timeout=30_000)


def _console_outcome(page: Page, action: Action, timeout_ms: float = 45_000) -> str:
    """What the console told the person who clicked: the notice or the error about this action, or "" for none."""
    try:
        found = page.wait_for_function(
            """([id8, tag]) => {
                const said = [...document.querySelectorAll('[data-testid="stAlert"]')]
                    .map((el) => el.innerText)
                    .filter((text) => text.includes(id8) || text.includes(tag + ':'));
                return said.length ? said.join(' | ') : null;
            }""",
            arg=[action.id[:8], TAG],
            timeout=timeout_ms,
        )
    except PlaywrightTimeout:
        return ""
    return str(found.json_value())


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One person's try in a round: where, who, what, and what they were told."""

    channel: str  # "console A", "console B" or "cli"
    who: str
    move: str
    told: str
    code: int | None = None  # the CLI's exit code
    ended: float | None = None  # seconds after the clicks the CLI process ended

    def line(self) -> str:
        when = "" if self.ended is None else f" (+{self.ended:.2f} s)"
        return f"{self.who} in {self.channel}{when}: {self.told.strip()[:150]!r}"


@dataclass
class Tally:
    rounds: int = 0
    attempts: int = 0  # decisions tried on an action; the kill switch is counted apart
    endings: Counter[str] = field(default_factory=Counter)
    winners: Counter[str] = field(default_factory=Counter)
    losers: int = 0
    losers_told: int = 0
    writes: int = 0
    unapproved_writes: int = 0
    switched_off: int = 0
    stopped_by_switch: int = 0  # approved, then refused by the executor because writes were off
    lags: list[float] = field(default_factory=list)  # from the clicks to the decision that closed the action
    signed_in: list[float] = field(default_factory=list)  # from otto's click to each shell starting its sign-in

    def summary(self, seconds: float) -> str:
        lag = f"{min(self.lags):+.2f} to {max(self.lags):+.2f} s" if self.lags else "n/a"
        shells = f"{min(self.signed_in):+.2f} to {max(self.signed_in):+.2f} s" if self.signed_in else "n/a"
        return (
            f"scale-out on one PostgreSQL: {self.rounds} rounds, 2 consoles and {self.attempts - 2 * self.rounds} "
            f"shell decisions, {self.attempts} decisions tried; endings {dict(self.endings)}; won by "
            f"{dict(self.winners)}; losers told who decided {self.losers_told}/{self.losers}; writes off "
            f"{self.switched_off} times, {self.stopped_by_switch} approved writes stopped by it; writes "
            f"{self.writes}, unapproved writes {self.unapproved_writes}; from the clicks, the winning decision "
            f"{lag}, the shells' sign-ins (then argon2, then the decision) began {shells}; {seconds:.0f} s"
        )


def _start_cli(plant: Plant, move: str, action_id: str) -> subprocess.Popen[str]:
    args = [a.format(id=action_id) for a in CLI_MOVES[move]]
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *args],
        cwd=ROOT,
        env=plant.env_for("cli"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process


def _propose(ctx: pipeline_ops.Context, before: float, upward: bool) -> Action:
    olga = get_user(ctx.db, "olga")
    value = before + STEP if upward else before - STEP
    return _off_thread(lambda: pipeline_ops.propose(ctx, olga, TAG, value, "scale-out round"))


def _history(ctx: pipeline_ops.Context, action_id: str) -> tuple[list[AuditEntry], list[AuditEntry]]:
    """The action's own audit entries, and the whole trail (the kill switch is in no action's history)."""
    with ctx.db.reader() as s:
        return entries(s, action_id=action_id), entries(s)


def _settled(ctx: pipeline_ops.Context, action_id: str) -> Action:
    """The action once nobody acts on it any more: final, or unverified for a person to check."""
    deadline = time.monotonic() + 60
    while True:
        action = ctx.service.get(action_id)
        if action.status.final or action.status is Status.UNVERIFIED or time.monotonic() > deadline:
            return action
        time.sleep(0.2)  # the winning process's executor is still reading back


def _judge(
    tally: Tally,
    number: int,
    action: Action,
    attempts: list[Attempt],
    history: list[AuditEntry],
    everything: list[AuditEntry],
    before: float,
    after: float,
    go: float,
) -> list[str]:
    """Problems of one round (an empty list is a pass), counted into `tally` as it goes."""
    problems: list[str] = []
    events = [e.event for e in history]
    where = f"round {number} ({action.status.value}, {events})"
    closing = [e for e in history if e.event in ENDINGS]
    if len(closing) > 1:
        problems.append(f"{where}: closed twice: {[(e.event, e.actor) for e in closing]}")
    approvers = [e.actor for e in history if e.event == AuditEvent.APPROVED]
    if len(approvers) != len(set(approvers)):
        problems.append(f"{where}: an approval counted twice: {approvers}")
    completions = [e for e in history if e.event == AuditEvent.APPROVED and e.details.get("approvals") == "1/1"]
    if len(completions) > 1:
        problems.append(f"{where}: approved to completion twice")
    if not action.status.final:
        problems.append(f"{where}: left undecided")

    # Written exactly when the action succeeded, and then only after its approval, with writes on at the take.
    moved = abs(after - before) > 1e-6
    tally.writes += moved
    executing = next((e for e in history if e.event == AuditEvent.EXECUTING), None)
    if moved or executing is not None:
        taken = executing.seq if executing is not None else 0
        switched = [
            e
            for e in everything
            if e.event in (AuditEvent.KILL_SWITCH_ON, AuditEvent.KILL_SWITCH_OFF) and e.seq < taken
        ]
        off_at_take = bool(switched) and switched[-1].event == AuditEvent.KILL_SWITCH_ON  # "on" is writes off
        approved_first = bool(completions) and completions[0].seq < taken
        vetoed_first = any(e.seq < taken for e in closing if e.event != AuditEvent.EXECUTING)
        if action.status is not Status.SUCCEEDED or not approved_first or vetoed_first or off_at_take:
            tally.unapproved_writes += 1
            problems.append(f"{where}: the line moved {before} -> {after} without a valid approval")
    if action.status is Status.SUCCEEDED and abs(after - action.new_value) > 1e-6:
        problems.append(f"{where}: succeeded, yet the line reads {after}, not {action.new_value}")

    # Who won: the person whose decision closed the action (the approver, when it went on to the executor).
    ending = next((e for e in history if e.event in (AuditEvent.REJECTED, AuditEvent.WITHDRAWN)), None)
    decisive = ending or (completions[0] if completions else None)
    winner = decisive.actor if decisive is not None else "nobody"
    channel = {"otto": "console A (otto approves)", "sue": "console B (sue rejects)"}.get(winner, f"cli ({winner})")
    tally.winners[channel] += 1
    tally.endings[action.status.value] += 1
    if decisive is not None:
        tally.lags.append(decisive.at - go)
    deciders = {e.actor for e in history if e.event in DECISIONS}
    if action.status is Status.FAILED and "switched off" in (action.result or ""):
        tally.stopped_by_switch += 1
    for attempt in attempts:
        if attempt.move == "writes_off:sam":
            tally.switched_off += 1
            if attempt.code != 0:
                problems.append(f"{where}: writes off failed: {attempt.told}")
            continue
        tally.attempts += 1
        if attempt.who == winner:
            continue
        # A loser: decided too late, or approved in time but overruled by a veto before the executor took it.
        tally.losers += 1
        named = any(f"by {name}" in attempt.told for name in deciders)
        if (
            "already decided" in attempt.told
            and named
            and attempt.code in (None, 1)
            and "Traceback" not in attempt.told
        ):
            tally.losers_told += 1
        else:
            problems.append(f"{where}: {attempt.who} in {attempt.channel} lost and was told: {attempt.told!r}")
    return problems


def _release(shells: list[tuple[str, subprocess.Popen[str]]]) -> None:
    for _, shell in shells:
        assert shell.stdin is not None
        shell.stdin.write("go\n")
        shell.stdin.flush()


def _wait_ready(shells: list[tuple[str, subprocess.Popen[str]]]) -> None:
    for move, shell in shells:
        assert shell.stdout is not None
        assert shell.stdout.readline().strip() == "ready", f"{move} did not start: {shell.communicate()}"


def _finish(shells: list[tuple[str, subprocess.Popen[str]]], since: float) -> list[Attempt]:
    """Each shell's outcome, with when it ended after `since` (the clicks)."""
    ended: dict[int, float] = {}
    deadline = time.monotonic() + 120
    while len(ended) < len(shells) and time.monotonic() < deadline:
        for i, (_, shell) in enumerate(shells):
            if i not in ended and shell.poll() is not None:
                ended[i] = time.time() - since
        time.sleep(0.01)  # polling child processes, not the page
    attempts = []
    for i, (move, shell) in enumerate(shells):
        out, err = shell.communicate(timeout=30)
        who = move.split(":")[1]
        told = err + out
        attempts.append(
            Attempt(channel="cli", who=who, move=move, told=told, code=shell.returncode, ended=ended.get(i))
        )
    return attempts


def _shell_sign_ins(everything: list[AuditEntry], since: float) -> list[float]:
    """When shells began signing in after `since`; each decides once argon2 has checked its password."""
    return [
        e.at
        for e in everything
        if e.event == AuditEvent.SIGNIN_OK
        and e.at >= since
        and any(str(c).startswith("cli:") for c in e.details.get("clients", []))
    ]


def _shell_latency(plant: Plant, ctx: pipeline_ops.Context) -> float:
    """Seconds from releasing a shell to its decision in the database (open it, sign in, act) on a quiet machine."""
    shell = [("writes_on:sam", _start_cli(plant, "writes_on:sam", ""))]
    _wait_ready(shell)
    released = time.time()
    _release(shell)
    [attempt] = _finish(shell, released)
    assert attempt.code == 0, attempt.told
    _, everything = _history(ctx, "")
    [switched] = [e for e in everything if e.details.get("reason") == "scale-out: a shell's time to decide"]
    return switched.at - released


def test_two_consoles_and_shells_race_on_one_postgres(
    plant: Plant, consoles: tuple[Console, Console], browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    for key in ("COPILOT_DATABASE_URL", "COPILOT_ENDPOINT", "COPILOT_LINE"):
        monkeypatch.setenv(key, plant.env[key])
    monkeypatch.setenv("COPILOT_DATA_DIR", str(plant.env_for("test")["COPILOT_DATA_DIR"]))
    first, second = consoles
    approver = _sign_in(browser, first, "otto")
    vetoer = _sign_in(browser, second, "sue")
    ctx = pipeline_ops.open_context(load_settings())
    latency = _shell_latency(plant, ctx)
    sam = get_user(ctx.db, "sam")
    tally = Tally()
    problems: list[str] = []
    launched: list[subprocess.Popen[str]] = []
    try:
        for number, plan in enumerate(ROUNDS, start=1):
            before = _line_value(plant.line, plant.endpoint)
            action = _propose(ctx, before, upward=number % 2 == 1)
            assert action.status is Status.PENDING, action.refusals
            assert action.approvals_needed == 1
            assert not action.supervisor_needed
            shells = [(move, _start_cli(plant, move, action.id)) for move in plan.shells]
            launched += [shell for _, shell in shells]
            for page in (approver, vetoer):
                _show_card(page, action)
            reason = vetoer.get_by_label("Reason to reject")
            reason.fill(f"scale-out round {number}: not now")
            reason.press("Enter")  # commits the text, so the click below carries it
            approve = approver.get_by_role("button", name="Approve", exact=True)
            reject = vetoer.get_by_role("button", name="Reject", exact=True)
            expect(approve).to_be_enabled()
            expect(reject).to_be_enabled()
            _wait_ready(shells)
            released = time.time()
            _release(shells)
            # Deliberate staggers, not waits for the page: a shell needs this long to reach its decision, and the
            # veto is aimed at the moments after an approval.
            time.sleep(max(0.0, plan.lead * latency - CLICK_S))
            clicked = time.time()
            approve.click()
            time.sleep(plan.veto_after)
            reject.click()
            attempts = [
                Attempt(channel="console A", who="otto", move="approve:otto", told=_console_outcome(approver, action)),
                Attempt(channel="console B", who="sue", move="reject:sue", told=_console_outcome(vetoer, action)),
                *_finish(shells, clicked),
            ]
            settled = _settled(ctx, action.id)
            after = _line_value(plant.line, plant.endpoint)
            history, everything = _history(ctx, action.id)
            problems += _judge(tally, number, settled, attempts, history, everything, before, after, clicked)
            tally.signed_in += [at - clicked for at in _shell_sign_ins(everything, released)]
            print(f"round {number} {plan.shells}: {settled.status.value}; " + "; ".join(a.line() for a in attempts))
            tally.rounds += 1
            if "writes_off:sam" in plan.shells:
                ctx.service.set_writes(True, by=sam, reason="scale-out: writes back on")
    finally:
        for shell in launched:
            if shell.poll() is None:  # a round that failed before its release: nobody acts any more
                shell.kill()
                shell.communicate(timeout=30)
        ctx.db.dispose()
    verified = subprocess.run(
        [sys.executable, "-m", "copilot", "audit", "verify"],
        cwd=ROOT,
        env=plant.env_for("cli"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    print("\n" + tally.summary(time.monotonic() - started))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert problems == []
    assert tally.rounds == len(ROUNDS)
    assert tally.unapproved_writes == 0
    assert tally.losers_told == tally.losers > 0
