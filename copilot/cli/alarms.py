"""`copilot alarms`: the alarm journal from a shell; acknowledge, shelve and take out of service as a person."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from copilot.cli.app import app
from copilot.cli.common import AsOpt, EndpointOpt, JsonOpt, LineOpt, echo_json, friendly, line_settings, login
from copilot.untrusted import plain

if TYPE_CHECKING:
    from copilot.pipeline.alarms import Alarm, JournalEntry

alarms_app = typer.Typer(help="Alarms: the list, the journal, and people's acts on them.", no_args_is_help=True)
app.add_typer(alarms_app, name="alarms")

CodeArg = Annotated[str, typer.Argument(help="The alarm's code, as `copilot alarms list` shows it.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why; kept in the journal, the audit and the handover.")]


def _context() -> Any:
    from copilot.services import pipeline_ops
    from copilot.settings import load_settings

    return pipeline_ops.open_context(load_settings())


def _alarm_json(alarm: Alarm) -> dict[str, Any]:
    st = alarm.status
    return {
        "code": st.code,
        "tag": st.tag,
        "priority": st.priority,
        "state": alarm.state.value,
        "message": st.message,
        "active": st.active,
        "occurrence": st.occurrence,
        "value": st.value,
        "changed_at": st.changed_at,
        "chattering": alarm.chattering,
        "shelved_until": st.shelved_until,
        "shelved_by": st.shelved_by or None,
        "shelve_reason": st.shelve_reason or None,
        "out_of_service_by": st.service_by or None,
        "out_of_service_reason": st.service_reason or None,
    }


def _alarm_line(alarm: Alarm) -> str:
    from connectors.display import priority_mark
    from copilot.pipeline.signin import clock_time

    st = alarm.status
    mark = priority_mark(st.priority)
    line = f"{mark:<10} {plain(st.code):<10} {alarm.state.value:<26} {plain(st.tag)}: {plain(st.message)}"
    line += f" (occurrence {st.occurrence}, since {clock_time(st.changed_at, seconds=True)})"
    if alarm.chattering:
        line += " CHATTERING"
    if st.shelved_until is not None and alarm.state.value == "shelved":
        line += f"\n{'':<11}shelved by {plain(st.shelved_by)} until {clock_time(st.shelved_until)}: "
        line += plain(st.shelve_reason)
    if st.out_of_service:
        line += f"\n{'':<11}out of service by {plain(st.service_by)}: {plain(st.service_reason)}"
    return line


def _print(alarm: Alarm, json_out: bool) -> None:
    if json_out:
        echo_json([_alarm_json(alarm)])
    else:
        typer.echo(_alarm_line(alarm))


@alarms_app.command("list")
@friendly
def alarms_list(
    everything: Annotated[bool, typer.Option("--all", help="Alarms back to normal too.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Alarms a person must see, unacknowledged and most urgent first; shelved and out of service at the end."""
    from copilot.services import alarm_ops

    shown = alarm_ops.alarm_list(_context(), everything=everything)
    if json_out:
        echo_json([_alarm_json(a) for a in shown])
        return
    if not shown:
        typer.echo("no alarms")
    for alarm in shown:
        typer.echo(_alarm_line(alarm))


@alarms_app.command("ack")
@friendly
def alarms_ack(
    code: CodeArg,
    as_user: AsOpt,
    occurrence: Annotated[
        int | None, typer.Option("--occurrence", help="The occurrence you saw; refused if it activated again.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Acknowledge an alarm (an operator or a supervisor)."""
    from copilot.services import alarm_ops

    ctx = _context()
    _print(alarm_ops.acknowledge(ctx, login(ctx, as_user), code, occurrence), json_out)


@alarms_app.command("shelve")
@friendly
def alarms_shelve(
    code: CodeArg,
    as_user: AsOpt,
    reason: ReasonOpt,
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 90s (at most 12 h).")] = "30m",
    json_out: JsonOpt = False,
) -> None:
    """Shelve an alarm for a while; it comes back by itself, unacknowledged if its condition still holds."""
    from copilot.services import alarm_ops

    seconds = alarm_ops.duration_s(duration)
    ctx = _context()
    _print(alarm_ops.shelve(ctx, login(ctx, as_user), code, seconds=seconds, reason=reason), json_out)


@alarms_app.command("unshelve")
@friendly
def alarms_unshelve(code: CodeArg, as_user: AsOpt, json_out: JsonOpt = False) -> None:
    """Take an alarm off the shelf before its time."""
    from copilot.services import alarm_ops

    ctx = _context()
    _print(alarm_ops.unshelve(ctx, login(ctx, as_user), code), json_out)


@alarms_app.command("out-of-service")
@friendly
def alarms_out_of_service(code: CodeArg, as_user: AsOpt, reason: ReasonOpt, json_out: JsonOpt = False) -> None:
    """Take an alarm out of service (a supervisor), for example while its instrument is repaired."""
    from copilot.services import alarm_ops

    ctx = _context()
    _print(alarm_ops.take_out_of_service(ctx, login(ctx, as_user), code, reason=reason), json_out)


@alarms_app.command("in-service")
@friendly
def alarms_in_service(code: CodeArg, as_user: AsOpt, json_out: JsonOpt = False) -> None:
    """Return an alarm to service (a supervisor)."""
    from copilot.services import alarm_ops

    ctx = _context()
    _print(alarm_ops.return_to_service(ctx, login(ctx, as_user), code), json_out)


def _entry_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "code": entry.code,
        "tag": entry.tag,
        "priority": entry.priority,
        "event": entry.event,
        "state": entry.state,
        "by": entry.actor,
        "reason": entry.reason or None,
        "value": entry.value,
        "occurrence": entry.occurrence,
    }


@alarms_app.command("journal")
@friendly
def alarms_journal(
    since: Annotated[str, typer.Option("--since", help="How far back: 30m, 8h (default: the last 8 hours).")] = "8h",
    code: Annotated[str | None, typer.Option("--code", help="Only this alarm.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Every move of the alarms, oldest first: the line's (activated, returned) and people's (acknowledged, …)."""
    from copilot.pipeline.signin import clock_time
    from copilot.services import alarm_ops

    entries = alarm_ops.journal(_context(), since=time.time() - alarm_ops.duration_s(since), code=code)
    if json_out:
        echo_json([_entry_json(e) for e in entries])
        return
    if not entries:
        typer.echo("nothing in the journal for that time")
    for e in entries:
        by = "" if e.actor == "line" else f" by {plain(e.actor)}"
        why = f": {plain(e.reason)}" if e.reason else ""
        typer.echo(f"{clock_time(e.at, seconds=True)}  {plain(e.code):<10} {e.event}{by}{why} -> {e.state}")


@alarms_app.command("first")
@friendly
def alarms_first(json_out: JsonOpt = False) -> None:
    """What happened first: the first alarm of the latest upset, then what followed, in order."""
    from copilot.pipeline.signin import clock_time
    from copilot.services import alarm_ops

    episode = alarm_ops.latest_episode(_context())
    if episode is None:
        if json_out:
            echo_json([])
        else:
            typer.echo("no alarm was annunciated in the last 8 hours")
        return
    if json_out:
        echo_json([{**_entry_json(e), "first_out": n == 0} for n, e in enumerate(episode.alarms)])
        return
    first = episode.first_out
    typer.echo(f"first out: {plain(first.code)} at {clock_time(first.at, seconds=True)} ({plain(first.tag)})")
    for e in episode.alarms[1:]:
        later = e.at - first.at
        typer.echo(f"  then {plain(e.code)} at {clock_time(e.at, seconds=True)} (+{later:.0f} s)")


@alarms_app.command("floods")
@friendly
def alarms_floods(
    since: Annotated[str, typer.Option("--since", help="How far back: 8h, 24h (default: the last 8 hours).")] = "8h",
    json_out: JsonOpt = False,
) -> None:
    """Alarm floods (more than 10 annunciated alarms in 10 minutes), each with its first-out."""
    from copilot.pipeline.signin import clock_time
    from copilot.services import alarm_ops

    found = alarm_ops.floods(_context(), since=time.time() - alarm_ops.duration_s(since))
    if json_out:
        echo_json(
            [
                {"start": f.start, "end": f.end, "alarms": len(f.alarms), "first_out": _entry_json(f.first_out)}
                for f in found
            ]
        )
        return
    if not found:
        typer.echo("no alarm flood in that time")
    for f in found:
        end = "still going" if f.end is None else f"ended {clock_time(f.end, seconds=True)}"
        typer.echo(
            f"flood from {clock_time(f.start, seconds=True)} ({end}): {len(f.alarms)} alarms, first out "
            f"{plain(f.first_out.code)} at {clock_time(f.first_out.at, seconds=True)}"
        )


@alarms_app.command("watch")
@friendly
def alarms_watch(endpoint: EndpointOpt = None, line: LineOpt = None) -> None:
    """Keep the journal from the line until Ctrl-C, where no console runs (the console does this itself)."""
    from connectors import LiveLine
    from copilot.services import alarm_ops, pipeline_ops
    from copilot.services.line_ops import connection

    settings = line_settings(endpoint, line)
    ctx = pipeline_ops.open_context(settings)
    with LiveLine(ctx.line, connection(settings)) as live:
        live.wait_ready()
        watcher = alarm_ops.LineRecorder(ctx.db, ctx.line, live)
        typer.echo(f"journaling the alarms of {settings.endpoint}; Ctrl-C to stop", err=True)
        while True:
            for entry in watcher.tick():
                typer.echo(f"{plain(entry.code)} {entry.event} -> {entry.state}")
            time.sleep(watcher.period_s)
