"""`copilot demo`: the simulated line, the library and the console in one command."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    friendly,
)


@app.command()
@friendly
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the simulated line.")] = 4840,
    console_port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the console.")] = 8501,
    speed: Annotated[float, typer.Option(min=0.1, max=1000, help="Simulated seconds per real second.")] = 1.0,
) -> None:
    """The simulated line, the plant library, demo people and the console on 127.0.0.1 (Ctrl-C stops it all)."""
    from copilot.services import demo_ops
    from copilot.settings import load_settings

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
