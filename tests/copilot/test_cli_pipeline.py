"""The pipeline as people drive it from the command line, against a served simulated line.

The commands run in this process through the console entry point (tests/cli_runner.py) and the line is served from
a thread of it: neither is about being a process here. `copilot sim`'s own start and stop are tested in
tests/test_cli.py, and the races between processes in test_cli_races.py start real ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.line import LineDefinition
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread
from tests.cli_runner import Ran, copilot
from tests.conftest import free_port

SECRET = "a long enough secret"


def run(data: Path, *args: str, password: str = SECRET, new_password: str = SECRET, endpoint: str | None = None) -> Ran:
    env = {
        "COPILOT_DATA_DIR": str(data),
        "COPILOT_PASSWORD": password,
        "COPILOT_NEW_PASSWORD": new_password,
    }
    if endpoint:
        env["COPILOT_ENDPOINT"] = endpoint
    return copilot(*args, env=env, cwd=data.parent)


@pytest.fixture
def line_endpoint(line: LineDefinition) -> Iterator[str]:
    """The bottling line as `copilot sim` serves it (real time, its defaults), from a thread of this process."""
    with SimulatorThread(line, SimulatorOptions(port=free_port())) as served:
        yield served.sim.endpoint


def test_propose_approve_write_and_audit(
    tmp_path: Path, line_endpoint: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("COPILOT_DATABASE_URL", db_url)  # every command below shares this store
    first = run(data, "users", "add", "ada", "--role", "admin")  # the first admin creates the store
    assert first.returncode == 0, first.stderr
    for name, role in (("olga", "operator"), ("otto", "operator"), ("sam", "supervisor")):
        result = run(data, "users", "add", name, "--role", role, "--as", "ada")
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
    assert run(data, "users", "add", "eve", "--role", "operator", "--as", "ada", new_password="short").returncode == 1

    refused = run(
        data,
        "propose",
        "filler.bowl_level_sp",
        "95",
        "--as",
        "olga",
        "--reason",
        "test",
        "--json",
        endpoint=line_endpoint,
    )
    assert refused.returncode == 2, refused.stderr
    reasons = json.loads(refused.stdout)["refusals"]
    assert any("envelope" in r for r in reasons)
    assert any("maximum step" in r for r in reasons)

    proposed = run(
        data,
        "propose",
        "filler.bowl_level_sp",
        "52",
        "--as",
        "olga",
        "--reason",
        "level low",
        "--json",
        endpoint=line_endpoint,
    )
    assert proposed.returncode == 0, proposed.stderr
    action = json.loads(proposed.stdout)
    assert action["status"] == "pending"

    assert run(data, "approve", action["id"], "--as", "olga", endpoint=line_endpoint).returncode == 1  # own
    assert run(data, "approve", action["id"], "--as", "otto", password="wrong password").returncode == 1
    approved = run(data, "approve", action["id"], "--as", "otto", "--json", endpoint=line_endpoint)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    done = json.loads(approved.stdout)
    assert done["status"] == "succeeded"
    assert done["read_back"] == pytest.approx(52.0)

    listed = json.loads(run(data, "actions", "list", "--json").stdout)
    assert [a["status"] for a in listed] == ["succeeded", "refused"]
    assert run(data, "audit", "verify").returncode == 0
    exported = run(data, "audit", "export", "--csv").stdout.splitlines()
    assert exported[0].startswith("seq,at,event")
    assert any(",verified," in row for row in exported)

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit SET new_value = '99.0' WHERE event = 'approved'"))
    engine.dispose()
    broken = run(data, "audit", "verify")
    assert broken.returncode == 1
    assert "broken at entry" in broken.stderr
