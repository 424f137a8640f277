"""`copilot shift`: the shift record (OEE, units, energy per 1,000 good, alarm load, each change's effect)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from copilot.cli.app import app
from copilot.cli.common import AsOpt, JsonOpt, echo_json, friendly, login
from copilot.untrusted import plain

shift_app = typer.Typer(help="The shift record.", no_args_is_help=True)
app.add_typer(shift_app, name="shift")
handover_app = typer.Typer(
    help="The shift handover, drafted from evidence and signed by two people.", no_args_is_help=True
)
app.add_typer(handover_app, name="handover")

ShiftOpt = Annotated[
    str, typer.Option("--shift", help="current, previous, or the shift's start such as 2026-12-07T22:00.")
]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 1, spread: float | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" + (f" ± {spread:.{digits}f}" if spread is not None else "")


@shift_app.command("report")
@friendly
def shift_report(shift: ShiftOpt = "current", json_out: JsonOpt = False) -> None:
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


def _print_handover(h: Any) -> None:
    from copilot.pipeline.signin import clock_time

    typer.echo(f"handover of shift {plain(h.shift)}, as of {clock_time(h.until, seconds=True)}")
    for section in ("alarms", "actions", "diagnoses"):
        items = [i for i in h.items if i.section == section]
        typer.echo(f"  {section}: {'none' if not items else len(items)}")
        for item in items:
            typer.echo(f"    - [{plain(item.kind)}] {plain(item.text)}  ({plain(item.ref)})")
    now, before = h.figures.get("this_shift"), h.figures.get("previous_shift")
    if now and before:
        for key in ("oee", "good", "rejected", "kwh_per_1000_good", "alarms_per_hour"):
            typer.echo(f"  {key}: {_fig(now[key])} (previous shift {_fig(before[key])})")
    out = f"signed out by {plain(h.signed_out_by)}" if h.signed_out_by else "not signed out"
    into = f", signed in by {plain(h.signed_in_by)}" if h.signed_in_by else ""
    typer.echo(f"  {out}{into}; digest {h.digest}")


def _fig(value: object) -> str:
    return "n/a" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


@handover_app.command("show")
@friendly
def handover_show(shift: ShiftOpt = "current", json_out: JsonOpt = False) -> None:
    """The handover: open, shelved and out-of-service alarms, actions waiting, unverified, written and rejected,
    the co-pilot's diagnoses of the shift, and the figures against the previous shift; each item names its record."""
    from copilot.services import pipeline_ops, shift_ops
    from copilot.settings import load_settings

    drafted = shift_ops.handover_draft(pipeline_ops.open_context(load_settings()), shift)
    if json_out:
        echo_json([shift_ops.handover_json(drafted)])
    else:
        _print_handover(drafted)


@handover_app.command("sign")
@friendly
def handover_sign(
    as_user: AsOpt,
    side: Annotated[str, typer.Option("--side", help="outgoing (first) or incoming (someone else, second).")],
    digest: Annotated[str, typer.Option("--digest", help="The digest `handover show` printed: what you read.")],
    shift: ShiftOpt = "current",
    json_out: JsonOpt = False,
) -> None:
    """Sign the handover you read, as the outgoing or the incoming person (an operator or a supervisor)."""
    from copilot.services import pipeline_ops, shift_ops
    from copilot.settings import load_settings

    ctx = pipeline_ops.open_context(load_settings())
    signed = shift_ops.handover_sign(ctx, login(ctx, as_user), side=side, digest=digest, shift=shift)
    if json_out:
        echo_json([shift_ops.handover_json(signed)])
    else:
        _print_handover(signed)
