"""Alarms from a served line into the journal, and people's acts on them from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from connectors import LiveLine
from connectors.line import LineDefinition
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread
from copilot.pipeline import alarms
from copilot.pipeline.alarm_states import AlarmState
from copilot.pipeline.db import Database
from copilot.pipeline.users import User
from copilot.services.alarm_ops import LineRecorder, duration_s
from tests.cli_runner import Ran, copilot
from tests.conftest import free_port
from tests.copilot.conftest import PASSWORD
from tests.helpers import wait_until


def run(db_url: str, tmp_path: Path, *args: str) -> Ran:
    env = {"COPILOT_DATA_DIR": str(tmp_path / "data"), "COPILOT_DATABASE_URL": db_url, "COPILOT_PASSWORD": PASSWORD}
    return copilot(*args, env=env, cwd=tmp_path)


@pytest.fixture
def jammed(line: LineDefinition) -> Iterator[SimulatorThread]:
    """A line of the test's own with a bottle jam on the infeed (INF-101 and what follows it)."""
    with SimulatorThread(line, SimulatorOptions(port=free_port(), speed=5.0)) as served:
        served.call(partial(served.sim.inject, "conveyor_jam"))
        yield served


@pytest.mark.slow
def test_the_watcher_journals_a_jam_and_people_act_on_it_from_the_shell(
    jammed: SimulatorThread,
    line: LineDefinition,
    db_url: str,
    db: Database,
    people: dict[str, User],
    tmp_path: Path,
) -> None:
    with LiveLine(line, ConnectionOptions(endpoint=jammed.sim.endpoint), publishing_interval_ms=100) as live:
        live.wait_ready()
        watcher = LineRecorder(db, line, live, period_s=0.2).start()
        try:
            wait_until(
                lambda: any(a.code == "INF-101" for a in alarms.alarms(db, now=1e12)),
                what="the jam journaled",
                timeout_s=60,
            )
        finally:
            watcher.stop()

    listed = run(db_url, tmp_path, "alarms", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    jam = next(a for a in json.loads(listed.stdout) if a["code"] == "INF-101")
    assert (jam["state"], jam["priority"], jam["occurrence"]) == ("unacknowledged", "high", 1)

    refused = run(db_url, tmp_path, "alarms", "ack", "INF-101", "--as", "mia")
    assert refused.returncode == 1
    assert "may not acknowledge" in refused.stderr

    acked = run(db_url, tmp_path, "alarms", "ack", "INF-101", "--as", "olga", "--occurrence", "1", "--json")
    assert acked.returncode == 0, acked.stderr
    assert json.loads(acked.stdout)[0]["state"] == "acknowledged"
    again = run(db_url, tmp_path, "alarms", "ack", "INF-101", "--as", "oleg")
    assert again.returncode == 1
    assert "nothing to acknowledge" in again.stderr

    shelved = run(
        db_url, tmp_path, "alarms", "shelve", "INF-101", "--as", "olga", "--for", "20m", "--reason", "clearing it"
    )
    assert shelved.returncode == 0, shelved.stderr
    assert "shelved by olga" in shelved.stdout
    assert "clearing it" in shelved.stdout
    no_reason = run(db_url, tmp_path, "alarms", "shelve", "INF-101", "--as", "olga", "--reason", " ")
    assert no_reason.returncode == 1

    journal = run(db_url, tmp_path, "alarms", "journal", "--code", "INF-101", "--json")
    assert [(e["event"], e["by"]) for e in json.loads(journal.stdout)] == [
        ("activated", "line"),
        ("acknowledged", "olga"),
        ("shelved", "olga"),
    ]
    first = run(db_url, tmp_path, "alarms", "first", "--json")
    assert first.returncode == 0, first.stderr
    upset = json.loads(first.stdout)
    assert [e["first_out"] for e in upset] == [True] + [False] * (len(upset) - 1)
    activations = [e for e in alarms.journal(db) if e.event == "activated"]
    assert upset[0]["code"] == min(activations, key=lambda e: (e.at, e.seq)).code
    assert "INF-101" in [e["code"] for e in upset]
    said = run(db_url, tmp_path, "alarms", "first")
    assert said.stdout.startswith(f"first out: {upset[0]['code']} at ")
    floods = run(db_url, tmp_path, "alarms", "floods")
    assert floods.stdout.strip() == "no alarm flood in that time", "a jam raises a few alarms, not eleven"

    verified = run(db_url, tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    [shown] = [a for a in alarms.alarms(db, now=1e12, everything=True) if a.code == "INF-101"]
    assert shown.state is not AlarmState.SHELVED, "far in the future the shelf has run out"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("45", 2700)])
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert duration_s(text) == seconds


def test_a_duration_that_is_not_one_says_how_to_write_it() -> None:
    from copilot.errors import AlarmRefused

    with pytest.raises(AlarmRefused, match="for example 30m"):
        duration_s("soon")


def test_the_shift_report_of_a_past_shift_from_the_shell(
    db_url: str, db: Database, line: LineDefinition, tmp_path: Path
) -> None:
    import time

    from copilot.pipeline.shift_record import record_sample
    from copilot.pipeline.shifts import shift_id, shift_start

    production = line.line.production
    assert production is not None
    previous = shift_start(line.line, shift_start(line.line, time.time()) - 1)
    for minute in range(31):
        values = {
            production.good: 590.0 * minute,
            production.rejected: 10.0 * minute,
            production.energy_kwh: 2.5 * minute,
            production.state: 1,
        }
        record_sample(db, production, values, now=previous + 60 * minute)
    ran = run(db_url, tmp_path, "shift", "report", "--shift", shift_id(line.line, previous), "--json")
    assert ran.returncode == 0, ran.stderr
    [record] = json.loads(ran.stdout)
    assert record["shift"] == shift_id(line.line, previous)
    assert (record["good"], record["rejected"], record["samples"]) == (590 * 30, 10 * 30, 31)
    assert record["kwh_per_1000_good"] == pytest.approx(1000 * 2.5 / 590)
    assert record["oee"]["availability"] == pytest.approx(1.0)
    said = run(db_url, tmp_path, "shift", "report", "--shift", shift_id(line.line, previous))
    assert "good 17,700 bottles, rejected 300" in said.stdout
    assert "kWh per 1,000 good bottles" in said.stdout
    wrong = run(db_url, tmp_path, "shift", "report", "--shift", "yesterday")
    assert wrong.returncode == 1
    assert "write current, previous or its start" in wrong.stderr


def test_a_handover_is_drafted_and_signed_by_two_people_from_the_shell(
    db_url: str, db: Database, people: dict[str, User], tmp_path: Path
) -> None:
    import time

    from copilot.pipeline.alarms import Observation

    jam = Observation(code="INF-101", tag="infeed.jam_detected", priority="high", message="jam", value=1.0)
    alarms.observe(db, {"INF-101": jam}, now=time.time() - 5)
    shown = run(db_url, tmp_path, "handover", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    [drafted] = json.loads(shown.stdout)
    [item] = [i for i in drafted["items"] if i["kind"] == "alarm open"]
    assert item["text"].startswith("INF-101 (jam) is unacknowledged since ")
    assert item["ref"].startswith("journal #")
    out = run(db_url, tmp_path, "handover", "sign", "--as", "olga", "--side", "outgoing", "--digest", drafted["digest"])
    assert out.returncode == 0, out.stderr
    assert "signed out by olga" in out.stdout
    same = run(
        db_url, tmp_path, "handover", "sign", "--as", "olga", "--side", "incoming", "--digest", drafted["digest"]
    )
    assert same.returncode == 1
    assert "the incoming person signs it in" in same.stderr
    into = run(
        db_url,
        tmp_path,
        "handover",
        "sign",
        "--as",
        "otto",
        "--side",
        "incoming",
        "--digest",
        drafted["digest"],
        "--json",
    )
    assert into.returncode == 0, into.stderr
    [signed] = json.loads(into.stdout)
    assert (signed["signed_out_by"], signed["signed_in_by"]) == ("olga", "otto")
