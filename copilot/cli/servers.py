"""`copilot servers`: show, confirm, list and forget the OPC UA servers secure mode trusts (like SSH's known_hosts)."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from connectors.errors import ConnectorError
from copilot.errors import ConfigError
from copilot.untrusted import plain

if TYPE_CHECKING:
    from connectors.known_servers import KnownServer
    from copilot.services import line_ops

servers_app = typer.Typer(
    help="The OPC UA servers secure mode trusts: each confirmed by a person, by certificate fingerprint.",
    no_args_is_help=True,
)

F = TypeVar("F", bound=Callable[..., Any])
EndpointArg = Annotated[
    str | None, typer.Argument(help="opc.tcp://host:port/... or host:port; the configured endpoint when omitted.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _handled(func: F) -> F:
    """Our errors as `error:` lines and exit 1 (this module stands alone, so `copilot.cli` can import it)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConnectorError, ConfigError) as err:
            typer.echo(f"error: {plain(str(err))}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _known_json(known: KnownServer) -> dict[str, Any]:
    return {"key": known.key, **known.as_json()}


def _print_report(report: line_ops.ServerReport) -> None:
    # Everything but the fingerprint is the server's own text: plain() keeps escapes off the terminal.
    from connectors import Verdict

    presented = report.presented
    facts = presented.facts
    typer.echo(f"endpoint          {plain(presented.endpoint)}")
    typer.echo(f"fingerprint       {presented.fingerprint}")
    typer.echo(f"application URI   {plain(presented.application_uri)}")
    typer.echo(f"subject           {plain(facts.subject)}")
    typer.echo(f"valid             {facts.not_before:%Y-%m-%d} to {facts.not_after:%Y-%m-%d}")
    known = report.known
    if report.verdict is Verdict.KNOWN and known is not None:
        typer.echo(f"status            confirmed by {plain(known.confirmed_by)} on {known.confirmed_at:%Y-%m-%d %H:%M}")
    elif report.verdict is Verdict.CHANGED and known is not None:
        typer.echo("status            CHANGED: this is not the identity that was confirmed for this endpoint")
        typer.echo(f"  confirmed       {known.fingerprint}  {plain(known.application_uri)}")
    else:
        typer.echo("status            not confirmed: secure mode refuses it until a person confirms it")


@servers_app.command("show")
@_handled
def show(endpoint: EndpointArg = None, json_out: JsonOpt = False) -> None:
    """What the server presents (fingerprint, application URI, subject, validity) and whether it is confirmed."""
    from connectors import Verdict
    from copilot.services import line_ops
    from copilot.settings import load_settings

    report = line_ops.server_report(load_settings(), endpoint)
    if json_out:
        facts = report.presented.facts
        typer.echo(
            json.dumps(
                {
                    "endpoint": report.presented.endpoint,
                    "key": report.presented.key,
                    "fingerprint": facts.fingerprint,
                    "application_uri": report.presented.application_uri,
                    "subject": facts.subject,
                    "not_before": facts.not_before.isoformat(),
                    "not_after": facts.not_after.isoformat(),
                    "status": report.verdict.value,
                    "confirmed": _known_json(report.known) if report.known else None,
                },
                indent=1,
            )
        )
        return
    _print_report(report)
    if report.verdict is Verdict.CHANGED:
        raise typer.Exit(1)


@servers_app.command("trust")
@_handled
def trust(
    endpoint: EndpointArg = None,
    fingerprint: Annotated[
        str | None,
        typer.Option("--fingerprint", help="SHA256:... as read on the server; must match what it presents."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (only together with --fingerprint).")] = False,
) -> None:
    """Confirm a server's identity after comparing its fingerprint with the one read on the server itself."""
    from connectors import Verdict
    from copilot.services import line_ops
    from copilot.settings import load_settings

    if yes and fingerprint is None:
        typer.echo("error: --yes needs --fingerprint: without it a person must compare the fingerprint", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    report = line_ops.server_report(settings, endpoint)
    _print_report(report)
    if report.verdict is Verdict.KNOWN:
        return
    if report.verdict is Verdict.CHANGED:
        typer.echo(
            f"error: {report.presented.key} was confirmed with another identity; verify the new one with the plant's "
            f"OT admin, then `copilot servers forget {report.presented.key}` and trust it again",
            err=True,
        )
        raise typer.Exit(1)
    if not yes:
        question = "Is this the fingerprint shown on the server itself (ask the plant's OT admin)?"
        try:
            confirmed = typer.confirm(question, default=False)
        except typer.Abort:  # no terminal to answer on
            confirmed = False
        if not confirmed:
            typer.echo("not confirmed; nothing recorded (without a prompt: --fingerprint SHA256:... --yes)", err=True)
            raise typer.Exit(1)
    who = f"{getpass.getuser()} (shell on {socket.gethostname()})"
    known = line_ops.trust_server(settings, report.presented, by=who, fingerprint=fingerprint)
    typer.echo(f"confirmed {known.key} ({known.fingerprint}) as {who}")


@servers_app.command("list")
@_handled
def list_(json_out: JsonOpt = False) -> None:
    """The confirmed servers: endpoint, fingerprint, application URI, who confirmed it and when."""
    from copilot.services import line_ops
    from copilot.settings import load_settings

    known = line_ops.known_server_list(load_settings())
    if json_out:
        typer.echo(json.dumps([_known_json(k) for k in known], indent=1))
        return
    if not known:
        typer.echo("no confirmed servers; `copilot servers trust ENDPOINT` confirms one")
    for server in known:
        typer.echo(f"{server.key:<28} {server.fingerprint}")
        typer.echo(
            f"{'':<28} {plain(server.application_uri)}; confirmed by {plain(server.confirmed_by)} "
            f"on {server.confirmed_at:%Y-%m-%d %H:%M}"
        )


@servers_app.command("forget")
@_handled
def forget(endpoint: Annotated[str, typer.Argument(help="opc.tcp://host:port/... or host:port.")]) -> None:
    """Forget a confirmed server: secure mode refuses it until someone confirms it again."""
    from copilot.services import line_ops
    from copilot.settings import load_settings

    if not line_ops.forget_server(load_settings(), endpoint):
        typer.echo(f"error: {plain(endpoint)} is not a confirmed server", err=True)
        raise typer.Exit(1)
    typer.echo(f"forgot {plain(endpoint)}")
