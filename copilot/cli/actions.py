"""`copilot propose`, `approve`, `reject`, `withdraw`, `actions` and `writes`: the action pipeline from the shell."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    AsOpt,
    EndpointOpt,
    JsonOpt,
    LineOpt,
    echo_json,
    fail,
    friendly,
    line_settings,
    login,
    print_action,
)
from copilot.pipeline import Status
from copilot.untrusted import plain

actions_app = typer.Typer(help="Proposed setpoint changes and what happened to them.", no_args_is_help=True)
app.add_typer(actions_app, name="actions")


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
    from copilot.pipeline import policy
    from copilot.services import pipeline_ops

    try:
        number = policy.parse_value(value)
    except ValueError as err:
        fail(str(err), 2)
    ctx = pipeline_ops.open_context(line_settings(endpoint, line))
    action = pipeline_ops.propose(ctx, login(ctx, as_user), tag, number, reason, requested=value.strip())
    print_action(action, json_out)
    if action.status is Status.REFUSED:
        raise typer.Exit(2)


@actions_app.command("list")
@friendly
def actions_list(
    status: Annotated[Status | None, typer.Option("--status", help="Only actions in this state.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Actions, newest first."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    ctx.service.expire_due()
    found = ctx.service.list_actions(status=status)
    if json_out:
        echo_json([a.as_json() for a in found])
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
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    action = ctx.service.get(action_id)
    print_action(action, json_out)
    if not json_out:
        for entry in pipeline_ops.action_history(ctx, action.id):
            typer.echo(f"  #{entry.seq} {entry.event:<11} by {plain(entry.actor)}")


@app.command()
@friendly
def approve(
    action_id: str,
    as_user: AsOpt,
    comment: Annotated[str, typer.Option("--comment", help="A note kept with the approval and in the audit.")] = "",
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Approve an action; the last approval the rules require sends it to the executor at once."""
    from copilot.services import pipeline_ops

    ctx = pipeline_ops.open_context(line_settings(endpoint, line))
    action = pipeline_ops.approve(ctx, login(ctx, as_user), action_id, comment)
    print_action(action, json_out)
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
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    action = pipeline_ops.reject(ctx, login(ctx, as_user), action_id, reason)
    print_action(action, json_out)


@app.command()
@friendly
def withdraw(
    action_id: str,
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why you take it back.")],
    json_out: JsonOpt = False,
) -> None:
    """Withdraw your own proposal before it is written."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    action = pipeline_ops.withdraw(ctx, login(ctx, as_user), action_id, reason)
    print_action(action, json_out)


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
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    if outcome not in ("written", "not-written"):
        fail("say --outcome written or --outcome not-written", 2)
    ctx = pipeline_ops.open_context(load_settings())
    action = pipeline_ops.settle(ctx, login(ctx, as_user), action_id, written=outcome == "written", reason=reason)
    print_action(action, json_out)


@app.command()
@friendly
def writes(
    state: Annotated[str, typer.Argument(help="off or on.")],
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
) -> None:
    """The write kill switch: with writes off nothing is written, whatever was approved."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    if state not in ("on", "off"):
        fail("say `copilot writes off` or `copilot writes on`", 2)
    ctx = pipeline_ops.open_context(load_settings())
    ctx.service.set_writes(state == "on", by=login(ctx, as_user), reason=reason)
    typer.echo(f"writes are {state}")
