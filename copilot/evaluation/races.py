"""Decision races: people approving, rejecting, withdrawing, expiring and switching writes off at the same moment.

Each race puts one fresh proposal in front of several workers (threads or separate processes, each with its own
database connection and its own OPC UA session to a real simulated line) that act on it at the same instant,
released by a barrier. Afterwards the race is judged from the audit trail and from the line itself:
- an action written must have been approved, with nothing (rejection, withdrawal, expiry) deciding it first,
  and writes must have been on when the executor took it;
- no action is decided twice, no person's approval counts twice, nothing is written twice;
- the value on the line is the new one exactly when the action succeeded.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import random
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from connectors.client import LineClient
from connectors.line import LineDefinition, default_line_path, load_line
from connectors.readings import Reading
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from copilot.errors import CopilotError, StoreUnavailable
from copilot.pipeline.actions import ActionService
from copilot.pipeline.audit import AuditEvent, entries, verify
from copilot.pipeline.db import Database
from copilot.pipeline.executor import Executor
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import User, add_user

TAG = "capper.torque_sp"
PASSWORD = "race-suite only, never a real one"
PEOPLE = {"olga": Role.OPERATOR, "otto": Role.OPERATOR, "sam": Role.SUPERVISOR, "sue": Role.SUPERVISOR}
# What a worker may do in a race, with its weight; the proposal is always olga's. Approvals are drawn more often,
# so that enough races end in a write for the write rules to be tried, not only the refusals.
DECISIONS = {
    "approve:otto": 3,
    "approve:sam": 3,
    "approve:sue": 3,
    "reject:sue": 1,
    "reject:otto": 1,
    "withdraw:olga": 1,
    "expire": 1,
}
SWITCH_OFF = "writes_off:sam"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one worker did in one race."""

    race: int
    decision: str
    result: str  # "ok: <status>" or "conflict: <message>" or "error: <message>"
    wrote: int  # how many times this worker's executor called the line's write for the race's action


@dataclass(kw_only=True)
class RaceReport:
    backend: str
    mode: str
    races: int = 0
    decisions: int = 0
    conflicts: int = 0  # decisions that lost and were told who won
    errors: int = 0  # anything else raised (should be 0)
    writes: int = 0
    unapproved_writes: int = 0
    double_writes: int = 0
    double_decisions: int = 0
    value_mismatches: int = 0  # the line's value disagrees with the action's final status
    chain_ok: bool = True
    seconds: float = 0.0
    endings: dict[str, int] = field(default_factory=dict)  # final status of the races' actions
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def held(self) -> bool:
        return not (
            self.unapproved_writes
            or self.double_writes
            or self.double_decisions
            or self.value_mismatches
            or self.errors
            or not self.chain_ok
        )


def race_line(folder: Path, raced: str = TAG) -> Path:
    """The bundled line with the per-tag rate limit lifted for the raced tag: races write far more than 4 an hour."""
    data = yaml.safe_load(default_line_path().read_text(encoding="utf-8"))
    for tag in data["tags"]:
        if tag["name"] == raced:
            tag["setpoint"]["max_changes_per_hour"] = 1_000_000
    path = folder / "race-line.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _worker(
    worker: int,
    database_url: str,
    line_path: str,
    endpoint: str,
    tasks: Any,
    results: Any,
    barrier: Any,
) -> None:
    """One person's terminal: its own database engine and OPC UA session, acting when the barrier opens."""
    asyncio.run(_work(worker, database_url, line_path, endpoint, tasks, results, barrier))


async def _work(
    worker: int, database_url: str, line_path: str, endpoint: str, tasks: Any, results: Any, barrier: Any
) -> None:
    db = Database(database_url, create=False)
    line = load_line(Path(line_path))
    service = ActionService(db, line)
    later = ActionService(db, line, clock=lambda: time.time() + 10_000)  # sees every deadline as past
    people = {name: User(name=name, role=role, active=True) for name, role in PEOPLE.items()}
    sp = line.tag(TAG).setpoint
    watched = list(dict.fromkeys([TAG, *(sp.related if sp else []), *(sp.drives if sp else [])]))
    async with LineClient(
        line, ConnectionOptions(endpoint=endpoint), tags=watched, publishing_interval_ms=200
    ) as client:
        await client.wait_available(15.0)
        deadline = time.monotonic() + 15
        while any(r is None for r in client.cache.readings().values()) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        executor = Executor(db, line, client)
        writing: list[str] = []
        original = client.write

        async def counting_write(tag: str, value: float | int | bool) -> Any:
            writing.append(tag)
            return await original(tag, value)

        client.write = counting_write  # type: ignore[method-assign]
        results.put(("ready", worker))
        while True:
            task = tasks.get()
            if task is None:
                break
            race, action_id, decision = task
            writing.clear()
            barrier.wait()
            result = await _decide(decision, action_id, service, later, executor, people)
            results.put(Outcome(race=race, decision=decision, result=result, wrote=len(writing)))
    db.dispose()


async def _decide(
    decision: str,
    action_id: str,
    service: ActionService,
    later: ActionService,
    executor: Executor,
    people: dict[str, User],
) -> str:
    kind, _, who = decision.partition(":")
    try:
        if kind == "none":
            return "ok: idle"
        if kind == "approve":
            action = service.approve(action_id, people[who])
            if action.status is Status.APPROVED:
                action = await executor.execute(action.id)
            return f"ok: {action.status.value}"
        if kind == "reject":
            return f"ok: {service.reject(action_id, people[who], 'race: not now').status.value}"
        if kind == "withdraw":
            return f"ok: {service.withdraw(action_id, people[who], 'race: asked by mistake').status.value}"
        if kind == "expire":
            return f"ok: expired {len(later.expire_due())}"
        if kind == "writes_off":
            service.set_writes(False, by=people[who], reason="race: stop all writes")
            return "ok: writes off"
    except StoreUnavailable as err:  # a decision must lose cleanly, never on a database error
        return f"error: {err}"
    except CopilotError as err:
        return f"conflict: {err}"
    except Exception as err:
        return f"error: {type(err).__name__}: {err} {traceback.format_exc(limit=3)}"
    return f"error: unknown decision {decision}"


def run_races(
    database_url: str,
    *,
    races: int,
    mode: str = "processes",
    workers: int = 3,
    seed: int = 0,
    backend: str = "",
    progress: Callable[[int], None] | None = None,
) -> RaceReport:
    """Run `races` races on a fresh pipeline database at `database_url` and judge each one."""
    if mode not in ("threads", "processes"):
        raise ValueError(f"mode must be threads or processes, not {mode!r}")
    rng = random.Random(seed)
    report = RaceReport(backend=backend or make_url(database_url).get_backend_name(), mode=mode)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="races-") as tmp:
        line_path = race_line(Path(tmp))
        line = load_line(line_path)
        db = Database(database_url, create=True)
        for name, role in PEOPLE.items():
            add_user(db, name, role, PASSWORD, by="race-suite", at=time.time())
        people = {name: User(name=name, role=role, active=True) for name, role in PEOPLE.items()}
        service = ActionService(db, line)
        options = SimulatorOptions(port=free_port(), speed=1.0, publish_interval_s=0.2)
        with SimulatorThread(line, options) as simulator:
            endpoint = simulator.sim.endpoint
            ctx: Any = multiprocessing.get_context("spawn") if mode == "processes" else None
            tasks = [ctx.Queue() if ctx else queue.Queue() for _ in range(workers)]
            results: Any = ctx.Queue() if ctx else queue.Queue()
            barrier: Any = ctx.Barrier(workers) if ctx else threading.Barrier(workers)
            args = [(w, database_url, str(line_path), endpoint, tasks[w], results, barrier) for w in range(workers)]
            runners: list[Any] = [
                ctx.Process(target=_worker, args=a, daemon=True)
                if ctx
                else threading.Thread(target=_worker, args=a, daemon=True)
                for a in args
            ]
            for runner in runners:
                runner.start()
            try:
                _wait_ready(results, runners, workers)
                asyncio.run(
                    _races(report, rng, races, line, service, people, endpoint, tasks, results, workers, db, progress)
                )
            finally:
                for q in tasks:
                    q.put(None)
                for runner in runners:
                    runner.join(timeout=30)
                    if ctx and runner.is_alive():
                        runner.kill()
        with db.reader() as s:
            report.chain_ok = verify(s).ok
        db.dispose()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _wait_ready(results: Any, runners: list[Any], workers: int) -> None:
    """Every worker connected, or a clear error naming the one that died (instead of a silent hang)."""
    ready = 0
    deadline = time.monotonic() + 120
    while ready < workers:
        try:
            kind, _worker_no = results.get(timeout=1.0)
        except queue.Empty:
            dead = [i for i, r in enumerate(runners) if not r.is_alive()]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"race workers {dead or 'all'} did not start; see their output above") from None
            continue
        if kind == "ready":
            ready += 1


async def _races(
    report: RaceReport,
    rng: random.Random,
    races: int,
    line: LineDefinition,
    service: ActionService,
    people: dict[str, User],
    endpoint: str,
    tasks: list[Any],
    results: Any,
    workers: int,
    db: Database,
    progress: Callable[[int], None] | None,
) -> None:
    async with LineClient(line, ConnectionOptions(endpoint=endpoint), publishing_interval_ms=200) as client:
        await client.wait_available(15.0)
        deadline = time.monotonic() + 15
        while any(r is None for r in client.cache.readings().values()) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        start: float | None = None
        for race in range(races):
            current = await client.read(TAG)  # the cache may not have heard of the last race's write yet
            before = float(current.value)  # type: ignore[arg-type]
            start = before if start is None else start
            action = _propose(service, client, current, people["olga"], line, rng, start=start)
            if action is None:
                report.problems.append(f"race {race}: proposal refused")
                report.errors += 1
                continue
            chosen = rng.choices(list(DECISIONS), weights=list(DECISIONS.values()), k=workers)
            if rng.random() < 0.15:
                chosen[rng.randrange(workers)] = SWITCH_OFF
            for w in range(workers):
                tasks[w].put((race, action, chosen[w]))
            outcomes = [results.get(timeout=120) for _ in range(workers)]
            after = float((await client.read(TAG)).value)  # type: ignore[arg-type]
            _judge(report, race, action, outcomes, service, db, before, after)
            if SWITCH_OFF in chosen:
                service.set_writes(True, by=people["sam"], reason="race: writes back on")
            report.races += 1
            if progress is not None:
                progress(race + 1)


def _propose(
    service: ActionService,
    client: LineClient,
    current: Reading,
    who: User,
    line: LineDefinition,
    rng: random.Random,
    *,
    start: float,
) -> str | None:
    now = float(current.value)  # type: ignore[arg-type]
    sp = line.tag(TAG).setpoint
    assert sp is not None
    # Half the races need one approval, half need two (one a supervisor's).
    step = sp.approval_threshold * (0.5 if rng.random() < 0.5 else 1.5)
    # Back and forth around where the races began: policy sums a shift's changes, and a walk one way would soon
    # be refused for that instead of raced.
    up = now <= start and now + step <= sp.envelope.high - 0.05
    value = now + step if up else now - step
    readings = {**client.cache.readings(), TAG: current}
    snapshot = LineSnapshot(available=client.available, readings=readings)
    action = service.propose(TAG, round(value, 4), requester=who, reason="race", snapshot=snapshot)
    return action.id if action.status is Status.PENDING else None


def _judge(
    report: RaceReport,
    race: int,
    action_id: str,
    outcomes: list[Outcome],
    service: ActionService,
    db: Database,
    before: float,
    after: float,
) -> None:
    report.decisions += len(outcomes)
    report.conflicts += sum(o.result.startswith("conflict") for o in outcomes)
    for o in outcomes:
        if o.result.startswith("error"):
            report.errors += 1
            report.problems.append(f"race {race} {o.decision}: {o.result[:300]}")
    wrote = sum(o.wrote for o in outcomes)
    report.writes += min(wrote, 1)
    if wrote > 1:
        report.double_writes += 1
        report.problems.append(f"race {race}: written {wrote} times")
    action = service.get(action_id)
    report.endings[action.status.value] = report.endings.get(action.status.value, 0) + 1
    with db.reader() as s:
        history = entries(s, action_id=action_id)
        everything = entries(s)
    events = [e.event for e in history]
    # An approval that completes the rules and a decision that ends the action are each allowed once. A veto
    # after the last approval but before the executor took the action is one of each, and nothing is written.
    final_approval = f"{action.approvals_needed}/{action.approvals_needed}"
    completions = [
        e for e in history if e.event == AuditEvent.APPROVED and e.details.get("approvals") == final_approval
    ]
    ending = (AuditEvent.REJECTED, AuditEvent.WITHDRAWN, AuditEvent.EXPIRED, AuditEvent.EXECUTING)
    closing = [e for e in history if e.event in ending]
    if len(closing) > 1 or len(completions) > 1:
        report.double_decisions += 1
        report.problems.append(f"race {race}: decided twice: {events}")
    approvers = [e.actor for e in history if e.event == AuditEvent.APPROVED]
    if len(approvers) != len(set(approvers)):
        report.double_decisions += 1
        report.problems.append(f"race {race}: an approval counted twice: {approvers}")
    if wrote:
        executing = next((e for e in history if e.event == AuditEvent.EXECUTING), None)
        approved_first = (
            executing is not None
            and bool(completions)
            and closing[0] is executing
            and completions[0].seq < executing.seq
        )
        switch = [e for e in everything if e.event in (AuditEvent.KILL_SWITCH_ON, AuditEvent.KILL_SWITCH_OFF)]
        before_take = [e for e in switch if executing is not None and e.seq < executing.seq]
        off_at_take = bool(before_take) and before_take[-1].event == AuditEvent.KILL_SWITCH_ON
        if executing is None or not approved_first or off_at_take:
            report.unapproved_writes += 1
            report.problems.append(f"race {race}: written without a valid approval: {events}")
    tolerance = 1e-6
    if action.status is Status.SUCCEEDED and abs(after - action.new_value) > tolerance:
        report.value_mismatches += 1
        report.problems.append(f"race {race}: succeeded but the line reads {after}")
    if action.status is not Status.SUCCEEDED and not wrote and abs(after - before) > tolerance:
        report.value_mismatches += 1
        report.problems.append(f"race {race}: {action.status.value}, yet the line moved {before} -> {after}")
