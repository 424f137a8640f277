"""`copilot users`: people, their roles, and sign-in waits."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    AdminOpt,
    JsonOpt,
    RoleOpt,
    echo_json,
    friendly,
    login,
    new_password,
)
from copilot.untrusted import plain

users_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")


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
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings(), create=True)  # the first person creates the database
    admin = login(ctx, as_user) if as_user is not None else None
    user = pipeline_ops.users_add(ctx, name, role, new_password(), admin=admin)
    typer.echo(f"added {user.name} as {user.role.value}")


@users_app.command("role")
@friendly
def users_role(name: str, role: RoleOpt, as_user: AdminOpt) -> None:
    """Give a person another role, on an admin's sign-in; the last active admin keeps theirs."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    user = pipeline_ops.users_role(ctx, name, role, admin=login(ctx, as_user))
    typer.echo(f"{user.name} is {user.role.value}")


@users_app.command("deactivate")
@friendly
def users_deactivate(name: str, as_user: AdminOpt) -> None:
    """Stop a person from signing in, on an admin's sign-in; their history stays. The last active admin stays."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    user = pipeline_ops.users_deactivate(ctx, name, admin=login(ctx, as_user))
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
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    if pipeline_ops.users_unlock(ctx, name, by=login(ctx, as_user), client=client):
        typer.echo(f"unlocked {plain(name)}: the next sign-in is checked at once")
    else:
        typer.echo(f"{plain(name)} had no sign-in wait or lockout running")


@users_app.command("list")
@friendly
def users_list(json_out: JsonOpt = False) -> None:
    """The people who may use the co-pilot, and any sign-in wait or lockout running now."""
    from copilot.pipeline.signin import PERSON, clock_time, person_key
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    people = pipeline_ops.users_list(ctx)
    held = pipeline_ops.lockouts(ctx)
    by_person = {h.key: h for h in held if h.kind == PERSON}
    if json_out:
        until = {u.name: by_person[k].until if (k := person_key(u.name)) in by_person else None for u in people}
        echo_json(
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
