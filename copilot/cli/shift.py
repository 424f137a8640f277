"""`copilot shift`: the shift record (OEE, units, energy per 1,000 good, alarm load, each change's effect)."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import JsonOpt, echo_json, friendly
from copilot.untrusted import plain

shift_app = typer.Typer(help="The shift record.", no_args_is_help=True)
app.add_typer(shift_app, name="shift")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 1, spread: float | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" + (f" ± {spread:.{digits}f}" if spread is not None else "")


@shift_app.command("report")
@friendly
def shift_report(
    shift: Annotated[
        str, typer.Option("--shift", help="current, previous, or the shift's start such as 2026-12-07T22:00.")
    ] = "current",
    json_out: JsonOpt = False,
) -> None:
    """The record of a shift, from the counters, the alarm journal and the actions the database kept."""
    from copilot.pipeline.signin import clock_time
    from copilot.services import pipeline_ops, shift_ops
    from copilot.settings import load_settings

    record = shift_ops.report(pipeline_ops.open_context(load_settings()), shift)
    if json_out:
        echo_json([shift_ops.as_json(record)])
        return
    unit = plain(record.unit)
    under_way = " (under way)" if record.until < record.end else ""
    typer.echo(f"shift {record.id}{under_way}, {record.samples} samples of the counters")
    if record.samples < 2:
        typer.echo("  too few samples for figures: the console (or `copilot alarms watch`) keeps them while it runs")
    typer.echo(f"  good {record.good:,.0f} {unit}, rejected {record.rejected:,.0f}")
    typer.echo(
        f"  OEE {_pct(record.oee)} = availability {_pct(record.availability)} x performance "
        f"{_pct(record.performance)} x quality {_pct(record.quality)}"
    )
    typer.echo(f"  energy {_num(record.energy_kwh)} kWh, {_num(record.kwh_per_1000_good, 2)} kWh per 1,000 good {unit}")
    load = record.alarms
    typer.echo(
        f"  alarms: {load.annunciated} annunciated, {load.per_hour:.1f} per hour (target about 6), "
        f"{load.percent_in_flood:.1f} % of the time in flood (target under 1 %), {load.floods} floods"
    )
    if load.most_frequent:
        typer.echo("  most frequent: " + ", ".join(f"{plain(c)} {n}" for c, n in load.most_frequent))
    if record.standing:
        typer.echo("  standing at the end: " + ", ".join(plain(c) for c in record.standing))
    if record.stale:
        typer.echo("  stale (active over 24 h): " + ", ".join(plain(c) for c in record.stale))
    for change in record.changes:
        old = "?" if change.old_value is None else f"{change.old_value:g}"
        typer.echo(
            f"  change {change.action_id[:8]} at {clock_time(change.written_at, seconds=True)} by {plain(change.by)}: "
            f"{plain(change.tag)} {old} -> {change.new_value:g} {plain(change.unit)}"
        )
        for name, w in (("before", change.before), ("after", change.after)):
            partial = "" if w.complete else " (window not complete)"
            typer.echo(
                f"    {name}: rejects {_num(w.reject_pct, 2, w.reject_pct_spread)} %, "
                f"{_num(w.kwh_per_1000_good, 2, w.kwh_per_1000_good_spread)} kWh per 1,000 good{partial}"
            )
