"""`copilot`, the scriptable face of every capability: one module per command group, each importing what it uses."""

from __future__ import annotations

import typer

# Each group registers its commands on `app` when imported, in this order in `copilot --help`; none of them
# imports a service before one of its commands runs.
# isort: off
from copilot.cli.app import app
from copilot.cli import line, demo, knowledge, evaluate, people, actions, alarms, shift, ask, audit  # noqa: F401
from copilot.cli.servers import servers_app

# isort: on

app.add_typer(servers_app, name="servers")

__all__ = ["app", "run"]


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
