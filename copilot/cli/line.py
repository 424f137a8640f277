"""`copilot sim`, `fault`, `tags` and `watch`: the simulated line and the live one."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from connectors import Reading
from copilot.cli.app import app
from copilot.cli.common import (
    EndpointOpt,
    JsonOpt,
    LineOpt,
    PasswordOpt,
    SecureOpt,
    UserOpt,
    fail,
    friendly,
    line_settings,
)
from copilot.untrusted import plain

fault_app = typer.Typer(help="List, inject and clear simulator faults.", no_args_is_help=True)
app.add_typer(fault_app, name="fault")


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
    from connectors.simulator.server import SimulatorOptions
    from copilot.services import line_ops
    from copilot.settings import load_settings

    settings = load_settings(line=line)
    known = {f.name for f in line_ops.fault_catalogue()}
    for name in fault or []:
        if name not in known:
            fail(f"unknown fault {name!r}; `copilot fault list` shows them", 2)
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
    from copilot.services import line_ops

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
    from copilot.services import line_ops

    active = line_ops.change_fault(line_settings(endpoint, line), "inject", name)
    typer.echo(f"active faults: {', '.join(active) or 'none'}")


@fault_app.command("clear")
@friendly
def fault_clear(
    name: Annotated[str | None, typer.Argument(help="Fault to clear; all when omitted.")] = None,
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
) -> None:
    """Clear one fault, or all of them, on a running simulator."""
    from copilot.services import line_ops

    active = line_ops.change_fault(line_settings(endpoint, line), "clear", name)
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
    from copilot.services import line_ops

    settings = line_settings(endpoint, None, secure, user, password)
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
    from copilot.services import line_ops

    typer.echo(f"-- line {availability} at {datetime.now(UTC):%H:%M:%S} UTC")
    for r in readings:
        stamp = f"{r.source_time:%H:%M:%S.%f}"[:-3] if r.source_time else "-"
        value = plain(line_ops.format_value(r))  # a string value is the server's text
        typer.echo(f"{plain(r.tag):<32} {value:>10} {plain(r.unit):<12} {r.quality.value:<11} {stamp}")
    sys.stdout.flush()


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
    from copilot.services import line_ops

    settings = line_settings(endpoint, line, secure, user, password)

    def emit(readings: list[Reading], availability: str) -> None:
        if not json_out:
            _print_readings(readings, availability)
            return
        for text in line_ops.json_lines(readings):
            typer.echo(text)
        sys.stdout.flush()

    line_ops.watch(settings, list(tag or []), interval_s=interval, count=count, emit=emit)
