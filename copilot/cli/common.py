"""What every command shares: the options, the error handling, the sign-in and how an action is printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from connectors.errors import ConnectorError
from copilot.errors import ConfigError, CopilotError
from copilot.pipeline import Role
from copilot.untrusted import plain
from knowledge import KnowledgeError

if TYPE_CHECKING:
    from copilot.services import pipeline_ops
    from copilot.settings import Settings


F = TypeVar("F", bound=Callable[..., Any])


EndpointOpt = Annotated[str | None, typer.Option("--endpoint", help="OPC UA endpoint (COPILOT_ENDPOINT).")]


LineOpt = Annotated[Path | None, typer.Option("--line", help="Line definition YAML (COPILOT_LINE).")]


SecureOpt = Annotated[bool, typer.Option("--secure", help="Basic256Sha256 SignAndEncrypt.")]


UserOpt = Annotated[str | None, typer.Option("--user", help="OPC UA user name (COPILOT_OPCUA_USER).")]


PasswordOpt = Annotated[str | None, typer.Option("--password", help="OPC UA password (COPILOT_OPCUA_PASSWORD).")]


JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def fail(message: str, code: int = 1) -> None:
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
            fail(str(err))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def line_settings(
    endpoint: str | None = None,
    line: Path | None = None,
    secure: bool = False,
    user: str | None = None,
    password: str | None = None,
) -> Settings:
    from copilot.settings import load_settings

    return load_settings(
        endpoint=endpoint,
        line=line,
        security="sign_encrypt" if secure else None,
        opcua_user=user,
        opcua_password=password,
    )


def echo_json(items: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(items, indent=1, ensure_ascii=False))


CollectionOpt = Annotated[str | None, typer.Option("--collection", help="Knowledge collection (COPILOT_COLLECTION).")]


AsOpt = Annotated[str, typer.Option("--as", help="Who you are; the password comes from COPILOT_PASSWORD or a prompt.")]


def person_password() -> str:
    import os

    # The person's own password, never the OPC UA one; asked for when not in the environment.
    given = os.environ.get("COPILOT_PASSWORD")
    return given if given is not None else str(typer.prompt("password", hide_input=True))


def login(ctx: pipeline_ops.Context, name: str) -> Any:
    from copilot.services import pipeline_ops

    return pipeline_ops.login(ctx, name, person_password())


def print_action(action: Any, json_out: bool) -> None:
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


def new_password() -> str:
    import os

    # The new person's password: never the variable that carries the signed-in admin's own.
    given = os.environ.get("COPILOT_NEW_PASSWORD")
    if given is not None:
        return given
    return str(typer.prompt("the new person's password", hide_input=True, confirmation_prompt=True))
