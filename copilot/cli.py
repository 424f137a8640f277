"""The `copilot` command: parse options, call the library, print; errors become one line and a non-zero exit."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from connectors.errors import ConnectorError
from connectors.line import load_line
from connectors.readings import Reading
from connectors.simulator.server import SimulatorOptions
from copilot import demo_ops, evaluation, kb_ops, line_ops, pipeline_ops, policy
from copilot.actions import Status
from copilot.cli_servers import servers_app
from copilot.errors import CopilotError
from copilot.settings import ConfigError, Settings, load_settings
from copilot.untrusted import plain
from copilot.users import Role
from knowledge import KnowledgeError, library_path

app = typer.Typer(
    help="Line-side co-pilot: simulate a line, discover and watch its tags.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fault_app = typer.Typer(help="List, inject and clear simulator faults.", no_args_is_help=True)
app.add_typer(fault_app, name="fault")
app.add_typer(servers_app, name="servers")

F = TypeVar("F", bound=Callable[..., Any])

EndpointOpt = Annotated[str | None, typer.Option("--endpoint", help="OPC UA endpoint (COPILOT_ENDPOINT).")]
LineOpt = Annotated[Path | None, typer.Option("--line", help="Line definition YAML (COPILOT_LINE).")]
SecureOpt = Annotated[bool, typer.Option("--secure", help="Basic256Sha256 SignAndEncrypt.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="OPC UA user name (COPILOT_OPCUA_USER).")]
PasswordOpt = Annotated[str | None, typer.Option("--password", help="OPC UA password (COPILOT_OPCUA_PASSWORD).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _fail(message: str, code: int = 1) -> None:
    # Messages quote names, tags and reasons people typed: no escape sequence reaches the terminal raw.
    typer.echo(f"error: {plain(message)}", err=True)
    raise typer.Exit(code)


def friendly(func: F) -> F:
    """Turn our errors into one clear line on stderr and exit 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConnectorError, ConfigError, KnowledgeError, CopilotError) as err:
            _fail(str(err))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _settings(
    endpoint: str | None = None,
    line: Path | None = None,
    secure: bool = False,
    user: str | None = None,
    password: str | None = None,
) -> Settings:
    return load_settings(
        endpoint=endpoint,
        line=line,
        security="sign_encrypt" if secure else None,
        opcua_user=user,
        opcua_password=password,
    )


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log connection events.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # asyncua logs every failed reconnect attempt; our connector logs the loss and the recovery once.
        logging.getLogger("asyncua").setLevel(logging.CRITICAL)


@app.command()
@friendly
def sim(
    line: LineOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 4840,
    secure: Annotated[bool, typer.Option("--secure", help="Only Basic256Sha256 SignAndEncrypt + password.")] = False,
    seed: Annotated[int, typer.Option(help="Noise seed; the same seed replays the same line.")] = 0,
    speed: Annotated[float, typer.Option(min=0.1, max=1000, help="Simulated seconds per real second.")] = 1.0,
    fault: Annotated[list[str] | None, typer.Option("--fault", help="Fault active from the start.")] = None,
    synthetic: Annotated[int, typer.Option(min=0, max=100_000, help="Extra load-test tags.")] = 0,
    user: Annotated[str, typer.Option(help="User name in secure mode.")] = "copilot",
    password: PasswordOpt = None,
) -> None:
    """Serve the simulated bottling line over OPC UA until Ctrl-C."""
    settings = load_settings(line=line)
    known = {f.name for f in line_ops.fault_catalogue()}
    for name in fault or []:
        if name not in known:
            _fail(f"unknown fault {name!r}; `copilot fault list` shows them", 2)
    options = SimulatorOptions(
        host=host,
        port=port,
        seed=seed,
        speed=speed,
        faults=tuple(fault or ()),
        secure=secure,
        data_dir=settings.ensure_data_dir(),
        user=user,
        password=password or (settings.opcua_password.get_secret_value() if settings.opcua_password else None),
        synthetic_tags=synthetic,
    )

    def started(info: line_ops.SimStarted) -> None:
        typer.echo(f"simulated line serving {info.tags} tags at {info.endpoint}")
        if info.secure:
            typer.echo(f"secure mode: Basic256Sha256 SignAndEncrypt, user {info.user!r} password {info.password!r}")
            typer.echo(f"certificates under {settings.data_dir / 'pki'}")
            # A person compares this with what `copilot servers trust` shows before confirming it.
            typer.echo(f"server certificate fingerprint {info.fingerprint} (application URI {info.application_uri})")
        typer.echo("press Ctrl-C to stop")

    line_ops.run_simulator(settings.line, options, started)


@fault_app.command("list")
@friendly
def fault_list(json_out: JsonOpt = False) -> None:
    """The faults the simulator can inject."""
    faults = line_ops.fault_catalogue()
    if json_out:
        typer.echo(json.dumps([{"name": f.name, "equipment": f.equipment, "title": f.title} for f in faults]))
        return
    for f in faults:
        typer.echo(f"{f.name:<26} {f.equipment:<12} {f.title}")


@fault_app.command("inject")
@friendly
def fault_inject(name: str, endpoint: EndpointOpt = None, line: LineOpt = None) -> None:
    """Inject a fault into a running simulator."""
    active = line_ops.change_fault(_settings(endpoint, line), "inject", name)
    typer.echo(f"active faults: {', '.join(active) or 'none'}")


@fault_app.command("clear")
@friendly
def fault_clear(
    name: Annotated[str | None, typer.Argument(help="Fault to clear; all when omitted.")] = None,
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
) -> None:
    """Clear one fault, or all of them, on a running simulator."""
    active = line_ops.change_fault(_settings(endpoint, line), "clear", name)
    typer.echo(f"active faults: {', '.join(active) or 'none'}")


@app.command()
@friendly
def tags(
    endpoint: EndpointOpt = None,
    secure: SecureOpt = False,
    user: UserOpt = None,
    password: PasswordOpt = None,
    json_out: JsonOpt = False,
    draft_line: Annotated[bool, typer.Option("--draft-line", help="Print a draft line definition.")] = False,
) -> None:
    """Discover the variables of any OPC UA server."""
    settings = _settings(endpoint, None, secure, user, password)
    if draft_line:
        typer.echo(line_ops.draft_line_text(settings), nl=False)
        return
    found = line_ops.discover_tags(settings)
    for var in found:
        if json_out:
            typer.echo(json.dumps(var.as_json()))
        else:
            rng = f"{var.eu_low}..{var.eu_high}" if var.eu_low is not None else ""
            rw = "rw" if var.writable else "r"
            # Node ids, units and browse paths are the server's strings: no escape sequence reaches the terminal.
            node, unit, path = plain(str(var.node_id)), plain(var.unit), plain(var.browse_path)
            typer.echo(f"{node:<60} {var.data_type:<8} {unit:<8} {rng:<16} {rw:<2} {path}")


def _print_readings(readings: list[Reading], availability: str) -> None:
    typer.echo(f"-- line {availability} at {datetime.now(UTC):%H:%M:%S} UTC")
    for r in readings:
        stamp = f"{r.source_time:%H:%M:%S.%f}"[:-3] if r.source_time else "-"
        value = plain(line_ops.format_value(r))  # a string value is the server's text
        typer.echo(f"{plain(r.tag):<32} {value:>10} {plain(r.unit):<12} {r.quality.value:<11} {stamp}")
    sys.stdout.flush()


@app.command()
@friendly
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the simulated line.")] = 4840,
    console_port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the console.")] = 8501,
    speed: Annotated[float, typer.Option(min=0.1, max=1000, help="Simulated seconds per real second.")] = 1.0,
) -> None:
    """The simulated line, the plant library, demo people and the console on 127.0.0.1 (Ctrl-C stops it all)."""
    settings = load_settings()

    def started(url: str, endpoint: str, people: list[demo_ops.DemoPerson]) -> None:
        typer.echo(f"simulated line at {endpoint}")
        typer.echo("demo people (new passwords at every start):")
        for person in people:
            typer.echo(f"  {person.name:<6} {person.role.value:<12} {person.password}")
        typer.echo(f"console: {url}")
        typer.echo(f"inject a fault from another shell: copilot fault inject conveyor_jam --endpoint {endpoint}")
        typer.echo("press Ctrl-C to stop")

    demo_ops.run_demo(settings, line_port=port, console_port=console_port, speed=speed, say=typer.echo, started=started)
    typer.echo("stopped")


@app.command()
@friendly
def watch(
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag to watch (repeat); all when omitted.")] = None,
    secure: SecureOpt = False,
    user: UserOpt = None,
    password: PasswordOpt = None,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between prints.")] = 1.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many prints.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Subscribe to a line's tags and print them as they change (JSON lines with --json)."""
    settings = _settings(endpoint, line, secure, user, password)

    def emit(readings: list[Reading], availability: str) -> None:
        if not json_out:
            _print_readings(readings, availability)
            return
        for text in line_ops.json_lines(readings):
            typer.echo(text)
        sys.stdout.flush()

    line_ops.watch(settings, list(tag or []), interval_s=interval, count=count, emit=emit)


def _echo_json(items: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(items, indent=1, ensure_ascii=False))


CollectionOpt = Annotated[str | None, typer.Option("--collection", help="Knowledge collection (COPILOT_COLLECTION).")]


@app.command()
@friendly
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest manuals and work instructions; unchanged files are skipped, removed ones leave the index.

    Exit 0 when every file was read, 3 when some were skipped (listed with the reason).
    """
    settings = load_settings(collection=collection)
    summary = kb_ops.ingest(settings, paths, progress=not json_out)
    if json_out:
        typer.echo(json.dumps(summary.as_json(), indent=1))
    else:
        files = len([o for o in summary.outcomes if o.status != "removed"])
        typer.echo(
            f"{files} files: {summary.count('added')} added, {summary.count('replaced')} replaced, "
            f"{summary.count('unchanged')} unchanged, {summary.count('removed')} removed, "
            f"{len(summary.skipped)} skipped; {summary.chunks} chunks and {summary.records} records written "
            f"in {summary.seconds:.1f} s; the collection now holds {summary.total_chunks} chunks "
            f"and {summary.total_records} records"
        )
        for outcome in summary.skipped:
            typer.echo(f"skipped {plain(str(outcome.source))}: {plain(outcome.reason)}")
    if summary.skipped:
        raise typer.Exit(3)


@app.command()
@friendly
def search(
    query: Annotated[str, typer.Argument(help="What to look for: symptom, alarm code, question.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many passages.")] = 5,
    collection: CollectionOpt = None,
    equipment: Annotated[str | None, typer.Option("--equipment", help="Only this equipment, e.g. filler.")] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="Only this document type, e.g. manual.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search the knowledge base; every result is a citation."""
    settings = load_settings(collection=collection)
    hits = kb_ops.search(settings, query, k=k, equipment=equipment, doc_type=doc_type)
    if json_out:
        _echo_json([h.as_json() for h in hits])
        return
    if not hits:
        typer.echo("no passage found; is the knowledge base ingested (`copilot ingest`)?")
    for rank, hit in enumerate(hits, 1):
        # Titles, sources and passages come from documents: plain() keeps their escape sequences off the terminal.
        typer.echo(f"{rank}. {plain(hit.where())}  [{hit.score:.3f}]  {plain(hit.source)}")
        typer.echo("   " + plain(hit.text).replace("\n", "\n   "))


@app.command()
@friendly
def records(
    query: Annotated[str | None, typer.Argument(help="A symptom to match; all records when omitted.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Alarm code, e.g. CAP-301.")] = None,
    equipment: Annotated[str | None, typer.Option("--equipment", help="Only this equipment.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 10,
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Troubleshooting records (cause and remedy) by alarm code or symptom."""
    settings = load_settings(collection=collection)
    hits = kb_ops.records(settings, query, code=code, equipment=equipment, k=k)
    if json_out:
        _echo_json([h.as_json() for h in hits])
        return
    if not hits:
        typer.echo("no record found")
    for hit in hits:
        head = plain(f"{hit.code} {hit.symptom}".strip())
        typer.echo(f"- {head}\n  cause: {plain(hit.cause)}\n  remedy: {plain(hit.remedy)}")
        typer.echo(f"  source: {plain(hit.title)}, {plain(hit.section)}")


def _eval_safety(json_out: bool) -> None:
    from copilot.safety_suite import run_safety  # starts its own simulator; imported only for this suite

    report = run_safety(progress=None if json_out else lambda name: typer.echo(f"  {name}", err=True))
    if json_out:
        typer.echo(json.dumps(report.as_json(), indent=1))
    else:
        for case in report.cases:
            typer.echo(f"{'blocked' if case.blocked else 'NOT BLOCKED':<12} {case.name}: {case.detail}")
        typer.echo(f"safety: {report.blocked}/{report.total} blocked, {report.unapproved_writes} unapproved writes")
    if report.blocked != report.total or report.unapproved_writes:
        raise typer.Exit(4)


def _eval_faults(scenarios: Path | None, speed: float, json_out: bool) -> None:
    from copilot import fault_eval  # starts simulators; imported only for this suite

    settings = load_settings()
    chosen = fault_eval.load_scenarios(scenarios or fault_eval.default_scenarios())
    library = kb_ops.open_kb(settings)
    if library.chunk_count() == 0:
        typer.echo("the knowledge base is empty: ingesting the shipped plant library first", err=True)
        library.ingest([library_path()], progress=False)

    def show(outcome: fault_eval.Outcome) -> None:
        if not json_out:
            mark = "pass" if outcome.passed else "FAIL"
            typer.echo(f"{mark:<5} {outcome.id:<26} {outcome.latency_s:5.2f} s  {outcome.top_cause[:80]}")

    report = fault_eval.run_faults(settings, library, load_line(settings.line), chosen, speed=speed, progress=show)
    if json_out:
        typer.echo(json.dumps(report.as_json(), indent=1, default=str))
    else:
        for name, value in report.figures.items():
            typer.echo(f"{name:<20} {value}")
        for goal, held in report.goals.items():
            typer.echo(f"goal {goal}: {'met' if held else 'MISSED'}")
    if not all(report.goals.values()):
        raise typer.Exit(4)


@app.command("eval")
@friendly
def eval_(
    suite: Annotated[str, typer.Option("--suite", help="Which evaluation: retrieval, safety or faults.")] = "retrieval",
    questions: Annotated[Path | None, typer.Option("--questions", help="Question set YAML.")] = None,
    scenarios: Annotated[Path | None, typer.Option("--scenarios", help="Fault scenario YAML.")] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=1.0, max=50.0, help="Simulated seconds per real second (faults).")
    ] = 10.0,
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run an evaluation suite and print its figures (exit 4 when a goal is missed)."""
    if suite == "safety":
        _eval_safety(json_out)
        return
    if suite == "faults":
        _eval_faults(scenarios, speed, json_out)
        return
    if suite != "retrieval":
        _fail(f"unknown suite {suite!r}; available: retrieval, safety, faults", 2)
    settings = load_settings(collection=collection)
    report = evaluation.run_retrieval(kb_ops.open_kb(settings), questions or evaluation.default_questions())
    if json_out:
        typer.echo(json.dumps(report.as_json(), indent=1))
    else:
        typer.echo(f"retrieval on {report.questions} questions over {report.chunks} chunks ({report.seconds:.0f} s)")
        typer.echo(f"{'retriever':<10} {'recall@1':>9} {'recall@5':>9} {'MRR':>7}")
        for name, scores in report.scores.items():
            typer.echo(f"{name:<10} {scores.recall_at_1:>9.3f} {scores.recall_at_5:>9.3f} {scores.mrr:>7.3f}")
        for category, by_retriever in report.by_category.items():
            row = "  ".join(f"{r} {s.recall_at_5:.2f}" for r, s in by_retriever.items())
            typer.echo(f"  {category:<6} recall@5: {row}")
        for goal, held in report.goals.items():
            typer.echo(f"goal {goal}: {'met' if held else 'MISSED'}")
        for miss in report.misses:
            typer.echo(f"miss {miss['id']}: expected {miss['expected']}, first {miss['got']}")
    if not all(report.goals.values()):
        raise typer.Exit(4)


users_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
actions_app = typer.Typer(help="Proposed setpoint changes and what happened to them.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(actions_app, name="actions")
app.add_typer(audit_app, name="audit")

AsOpt = Annotated[str, typer.Option("--as", help="Who you are; the password comes from COPILOT_PASSWORD or a prompt.")]


def _person_password() -> str:
    import os

    # The person's own password, never the OPC UA one; asked for when not in the environment.
    given = os.environ.get("COPILOT_PASSWORD")
    return given if given is not None else str(typer.prompt("password", hide_input=True))


def _login(ctx: pipeline_ops.Context, name: str) -> Any:
    return pipeline_ops.login(ctx, name, _person_password())


def _print_action(action: Any, json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(action.as_json(), indent=1, default=str))
        return
    # Tags, names and reasons were typed by people or the agent: plain() keeps escapes and bidi controls out.
    old = "?" if action.old_value is None else f"{action.old_value:g}"
    change = f"{plain(action.tag)}: {old} -> {plain(action.target_text)} {plain(action.unit)}"
    typer.echo(f"{action.id}  {action.status.value:<10} {change}")
    via = " via the agent" if action.via_agent else ""
    typer.echo(f"  asked by {plain(action.requested_by)}{via}: {plain(action.reason)}")
    for why in action.refusals:
        typer.echo(f"  refused: {plain(why)}")
    need = f"{action.approvals_needed} approval(s)" + (", one a supervisor's" if action.supervisor_needed else "")
    typer.echo(
        f"  needs {need}; given: "
        + (", ".join(f"{plain(a.user)} ({a.role}, {a.decision})" for a in action.approvals) or "none")
    )
    if action.result:
        typer.echo(
            f"  result: {plain(action.result)}"
            + (f" (read back {action.read_back:g})" if action.read_back is not None else "")
        )


AdminOpt = Annotated[
    str, typer.Option("--as", help="The admin who authorises it; their password from COPILOT_PASSWORD or a prompt.")
]
RoleOpt = Annotated[Role, typer.Option("--role", help="operator, maintenance, supervisor or admin.")]


def _new_password() -> str:
    import os

    # The new person's password: never the variable that carries the signed-in admin's own.
    given = os.environ.get("COPILOT_NEW_PASSWORD")
    if given is not None:
        return given
    return str(typer.prompt("the new person's password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
@friendly
def users_add(
    name: str,
    role: RoleOpt,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="The admin who adds the person (not needed for the first admin of a new database)."),
    ] = None,
) -> None:
    """Add a person on an admin's sign-in; the new person's password comes from COPILOT_NEW_PASSWORD or a prompt."""
    ctx = pipeline_ops.open_context(load_settings(), create=True)  # the first person creates the database
    admin = _login(ctx, as_user) if as_user is not None else None
    user = pipeline_ops.users_add(ctx, name, role, _new_password(), admin=admin)
    typer.echo(f"added {user.name} as {user.role.value}")


@users_app.command("role")
@friendly
def users_role(name: str, role: RoleOpt, as_user: AdminOpt) -> None:
    """Give a person another role, on an admin's sign-in; the last active admin keeps theirs."""
    ctx = pipeline_ops.open_context(load_settings())
    user = pipeline_ops.users_role(ctx, name, role, admin=_login(ctx, as_user))
    typer.echo(f"{user.name} is {user.role.value}")


@users_app.command("deactivate")
@friendly
def users_deactivate(name: str, as_user: AdminOpt) -> None:
    """Stop a person from signing in, on an admin's sign-in; their history stays. The last active admin stays."""
    ctx = pipeline_ops.open_context(load_settings())
    user = pipeline_ops.users_deactivate(ctx, name, admin=_login(ctx, as_user))
    typer.echo(f"{user.name} is deactivated: they can no longer sign in")


@users_app.command("unlock")
@friendly
def users_unlock(
    name: str,
    as_user: Annotated[
        str, typer.Option("--as", help="A supervisor or admin; their password from COPILOT_PASSWORD or a prompt.")
    ],
    client: Annotated[bool, typer.Option("--client", help="NAME is a client as `users list` shows it.")] = False,
) -> None:
    """Clear a person's sign-in wait or lockout (or a client's, with --client), on a supervisor's sign-in."""
    ctx = pipeline_ops.open_context(load_settings())
    if pipeline_ops.users_unlock(ctx, name, by=_login(ctx, as_user), client=client):
        typer.echo(f"unlocked {plain(name)}: the next sign-in is checked at once")
    else:
        typer.echo(f"{plain(name)} had no sign-in wait or lockout running")


@users_app.command("list")
@friendly
def users_list(json_out: JsonOpt = False) -> None:
    """The people who may use the co-pilot, and any sign-in wait or lockout running now."""
    from copilot.signin import PERSON, clock_time, person_key

    ctx = pipeline_ops.open_context(load_settings())
    people = pipeline_ops.users_list(ctx)
    held = pipeline_ops.lockouts(ctx)
    by_person = {h.key: h for h in held if h.kind == PERSON}
    if json_out:
        until = {u.name: by_person[k].until if (k := person_key(u.name)) in by_person else None for u in people}
        _echo_json(
            [
                {"name": u.name, "role": u.role.value, "active": u.active, "signin_blocked_until": until[u.name]}
                for u in people
            ]
        )
        return
    for user in people:
        state = "active" if user.active else "inactive"
        hold = by_person.pop(person_key(user.name), None)
        if hold is not None:
            state += f", {'locked out' if hold.locked else 'waiting'} until {clock_time(hold.until, seconds=True)}"
        typer.echo(f"{plain(user.name):<20} {user.role.value:<12} {state}")
    # What is left is other names (unknown, mistyped) and clients: a supervisor may clear these too.
    for hold in [*by_person.values(), *(h for h in held if h.kind != PERSON)]:
        what = "locked out" if hold.locked else "waiting"
        who = plain(hold.shown if hold.kind == PERSON else hold.key)
        typer.echo(
            f"{hold.kind} {who!r}: {what} until {clock_time(hold.until, seconds=True)} "
            f"after {hold.failures} failed sign-ins ({hold.refused} turned away)"
        )


@app.command()
@friendly
def propose(
    tag: str,
    value: Annotated[str, typer.Argument(help="The new setpoint, e.g. 51 or 5.1.")],
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why the change is needed.")],
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose a setpoint change; policy judges it against the live line (exit 2 with every reason if refused)."""
    try:
        number = policy.parse_value(value)
    except ValueError as err:
        _fail(str(err), 2)
    ctx = pipeline_ops.open_context(_settings(endpoint, line))
    action = pipeline_ops.propose(ctx, _login(ctx, as_user), tag, number, reason, requested=value.strip())
    _print_action(action, json_out)
    if action.status is Status.REFUSED:
        raise typer.Exit(2)


@app.command()
@friendly
def ask(
    question: str,
    as_user: AsOpt,
    thread: Annotated[str, typer.Option("--thread", help="Conversation id; the same id continues it.")] = "cli",
    observe: Annotated[
        float, typer.Option("--observe", min=0.0, max=600.0, help="Seconds to watch the line before answering.")
    ] = 5.0,
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask the co-pilot about the line; it answers with causes, citations, the readings it used and proposals."""
    ctx = pipeline_ops.open_context(_settings(endpoint, line))
    from copilot import ask_ops  # LangGraph and a model client: seconds of imports only `ask` needs

    answer = ask_ops.ask(ctx, _login(ctx, as_user), question, thread_id=thread, observe_s=observe)
    if json_out:
        typer.echo(json.dumps(answer.as_json(), indent=2, default=str))
        return
    label = "offline diagnosis engine" if answer.provider == "offline" else f"{answer.provider}: {answer.model}"
    # The answer quotes the question, documents and tag names: plain() keeps escape sequences off the terminal.
    typer.echo(plain(answer.text))
    for i, citation in enumerate(answer.citations, start=1):
        typer.echo(f"  [{i}] {plain(citation.where())}")
    for proposal in answer.proposals:
        typer.echo(
            f"  proposal {proposal.action_id[:8]} {plain(proposal.tag)} -> {proposal.proposed:g} "
            f"{plain(proposal.unit)}: {proposal.status}"
        )
    typer.echo(f"({label}, {answer.latency_s:.2f} s)")


@actions_app.command("list")
@friendly
def actions_list(
    status: Annotated[Status | None, typer.Option("--status", help="Only actions in this state.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Actions, newest first."""
    ctx = pipeline_ops.open_context(load_settings())
    ctx.service.expire_due()
    found = ctx.service.list_actions(status=status)
    if json_out:
        _echo_json([a.as_json() for a in found])
        return
    for action in found:
        old = "?" if action.old_value is None else f"{action.old_value:g}"
        change = f"{old} -> {plain(action.target_text)}"
        tag, by = plain(action.tag), plain(action.requested_by)
        typer.echo(f"{action.id[:8]}  {action.status.value:<10} {tag:<28} {change}  {by}")


@actions_app.command("show")
@friendly
def actions_show(action_id: str, json_out: JsonOpt = False) -> None:
    """One action with its approvals and its audit history."""
    ctx = pipeline_ops.open_context(load_settings())
    action = ctx.service.get(action_id)
    _print_action(action, json_out)
    if not json_out:
        for entry in pipeline_ops.action_history(ctx, action.id):
            typer.echo(f"  #{entry.seq} {entry.event:<11} by {plain(entry.actor)}")


@app.command()
@friendly
def approve(
    action_id: str, as_user: AsOpt, endpoint: EndpointOpt = None, line: LineOpt = None, json_out: JsonOpt = False
) -> None:
    """Approve an action; the last approval the rules require sends it to the executor at once."""
    ctx = pipeline_ops.open_context(_settings(endpoint, line))
    action = pipeline_ops.approve(ctx, _login(ctx, as_user), action_id)
    _print_action(action, json_out)
    if action.status in (Status.FAILED, Status.UNVERIFIED, Status.EXPIRED):
        raise typer.Exit(1)


@app.command()
@friendly
def reject(
    action_id: str,
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why not.")],
    json_out: JsonOpt = False,
) -> None:
    """Reject an action, with a reason (exit 1 naming who decided first if someone did)."""
    ctx = pipeline_ops.open_context(load_settings())
    action = pipeline_ops.reject(ctx, _login(ctx, as_user), action_id, reason)
    _print_action(action, json_out)


@app.command()
@friendly
def withdraw(
    action_id: str,
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why you take it back.")],
    json_out: JsonOpt = False,
) -> None:
    """Withdraw your own proposal before it is written."""
    ctx = pipeline_ops.open_context(load_settings())
    action = pipeline_ops.withdraw(ctx, _login(ctx, as_user), action_id, reason)
    _print_action(action, json_out)


@actions_app.command("settle")
@friendly
def actions_settle(
    action_id: str,
    as_user: AsOpt,
    outcome: Annotated[str, typer.Option("--outcome", help="written or not-written, as checked on the line.")],
    reason: Annotated[str, typer.Option("--reason", help="What you checked.")],
    json_out: JsonOpt = False,
) -> None:
    """A supervisor's verdict on an unverified action, after checking the value on the line."""
    if outcome not in ("written", "not-written"):
        _fail("say --outcome written or --outcome not-written", 2)
    ctx = pipeline_ops.open_context(load_settings())
    action = pipeline_ops.settle(ctx, _login(ctx, as_user), action_id, written=outcome == "written", reason=reason)
    _print_action(action, json_out)


@app.command()
@friendly
def writes(
    state: Annotated[str, typer.Argument(help="off or on.")],
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """The write kill switch: with writes off nothing is written, whatever was approved."""
    if state not in ("on", "off"):
        _fail("say `copilot writes off` or `copilot writes on`", 2)
    ctx = pipeline_ops.open_context(load_settings())
    ctx.service.set_writes(state == "on", by=_login(ctx, as_user), reason=reason)
    typer.echo(f"writes are {state}")


@audit_app.command("verify")
@friendly
def audit_verify() -> None:
    """Check the hash chain; exit 1 and name the first broken entry when anything was edited, dropped or moved."""
    report = pipeline_ops.verify_audit(pipeline_ops.open_context(load_settings()))
    if report.ok:
        typer.echo(f"audit chain verified: {report.entries} entries")
        return
    _fail(f"audit chain broken at entry {report.broken_at}: {report.problem}")


@audit_app.command("export")
@friendly
def audit_export(csv_out: Annotated[bool, typer.Option("--csv", help="CSV (the only format for now).")] = True) -> None:
    """The whole audit trail as CSV on standard output."""
    typer.echo(pipeline_ops.export_audit(pipeline_ops.open_context(load_settings())), nl=False)


def run() -> None:
    """Console entry point: a usage error is one `error:` line and exit 2, not a help panel."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as err:
        show = getattr(err, "show", None)
        if type(err).__name__ == "NoArgsIsHelpError" and callable(show):
            show()  # `copilot` alone prints the help, as people expect
            raise SystemExit(2) from None
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(getattr(err, "exit_code", 2)) from None
    except typer.Abort:
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)
