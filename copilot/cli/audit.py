"""`copilot audit`: verify and export the hash-chained trail."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    fail,
    friendly,
)

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@friendly
def audit_verify() -> None:
    """Check the hash chain; exit 1 and name the first broken entry when anything was edited, dropped or moved."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    report = pipeline_ops.verify_audit(pipeline_ops.open_context(load_settings()))
    if report.ok:
        typer.echo(f"audit chain verified: {report.entries} entries")
        return
    fail(f"audit chain broken at entry {report.broken_at}: {report.problem}")


@audit_app.command("export")
@friendly
def audit_export(csv_out: Annotated[bool, typer.Option("--csv", help="CSV (the only format for now).")] = True) -> None:
    """The whole audit trail as CSV on standard output."""
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    typer.echo(pipeline_ops.export_audit(pipeline_ops.open_context(load_settings())), nl=False)
