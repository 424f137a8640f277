"""Secure mode from the command line: every command that connects works against `copilot sim --secure` once a person
confirmed the server, and nothing connects before; secure writes are required off loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors import security
from connectors.client import LineClient
from connectors.known_servers import KnownServers
from connectors.line import LineDefinition
from connectors.security import SecurityMode
from connectors.session import presented_server
from connectors.simulator.server import SimulatedLine, SimulatorOptions
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database, default_url
from copilot.pipeline.executor import Executor, ExecutorOptions
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import User, add_user
from copilot.services import line_ops
from copilot.settings import ConfigError, load_settings
from tests.cli_runner import Ran, copilot
from tests.conftest import free_port
from tests.copilot.conftest import FakeClock
from tests.helpers import eventually

COPILOT = [sys.executable, "-m", "copilot"]
OPCUA_PASSWORD = "line-password-7"
PERSON_PASSWORD = "a long enough secret"
TAG = "filler.bowl_level_sp"


@dataclass(frozen=True, kw_only=True)
class SecureLine:
    data: Path
    endpoint: str
    fingerprint: str  # as the simulator printed it at start

    @property
    def key(self) -> str:
        return self.endpoint.split("/")[2]


@pytest.fixture
def secure_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecureLine]:
    """`copilot sim --secure` in its own process, sharing the data directory with the commands (as the demo does).

    A real process: the fingerprint it prints at start is what a person compares with `copilot servers trust`, and
    `sim` serves until a signal (its handlers need a process's main thread).
    """
    data = tmp_path / "data"
    monkeypatch.chdir(tmp_path)  # no copilot.toml from the developer's checkout leaks into the commands
    port = free_port()
    proc = subprocess.Popen(
        [*COPILOT, "sim", "--secure", "--port", str(port), "--password", OPCUA_PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COPILOT_DATA_DIR": str(data)},
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        printed = ""
        while "press Ctrl-C" not in printed:
            line = proc.stdout.readline()
            assert line, f"the simulator ended: {printed}"
            printed += line
        found = re.search(r"server certificate fingerprint (SHA256:[0-9A-F:]{95})", printed)
        assert found, printed
        yield SecureLine(data=data, endpoint=f"opc.tcp://127.0.0.1:{port}/line-copilot/", fingerprint=found[1])
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def run(line: SecureLine, *args: str, stdin: str | None = None, **env: str) -> Ran:
    """A command as a person runs it in secure mode; `env` adds or overrides COPILOT_* settings.

    In this process through the console entry point (tests/cli_runner.py): `python -m copilot` pays seconds of
    imports per command. The code path is the same, asyncio.run and all, so the crash of issue 12 (asyncio.run
    inside the command's own loop) shows here as it did in a shell.
    """
    settings = {
        "COPILOT_DATA_DIR": str(line.data),
        "COPILOT_ENDPOINT": line.endpoint,
        "COPILOT_SECURITY": "sign_encrypt",
        "COPILOT_OPCUA_USER": "copilot",
        "COPILOT_OPCUA_PASSWORD": OPCUA_PASSWORD,
        "COPILOT_REQUIRE_SECURE_WRITES": "true",  # loopback would not require it: prove the secure write path
        "COPILOT_PASSWORD": PERSON_PASSWORD,
        **env,
    }
    return copilot(*args, env=settings, stdin=stdin)


def clean(result: Ran) -> str:
    """Everything the command printed; fails on a traceback or the OPC UA password in any output."""
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    assert OPCUA_PASSWORD not in out, out
    return out


@pytest.mark.slow
def test_every_command_that_connects_works_once_the_server_is_confirmed(secure_line: SecureLine) -> None:
    line = secure_line
    refused = run(line, "tags")
    assert refused.returncode == 1
    assert "has not been confirmed, so nothing was sent to it" in clean(refused)
    assert line.fingerprint in refused.stderr

    shown = run(line, "servers", "show", "--json")
    assert shown.returncode == 0, clean(shown)
    facts = json.loads(shown.stdout)
    assert (facts["fingerprint"], facts["application_uri"], facts["status"]) == (
        line.fingerprint,
        security.SERVER_APP_URI,
        "unknown",
    )

    assert run(line, "servers", "trust", "--yes").returncode == 2, "--yes alone would skip the comparison"
    wrong = "SHA256:" + ":".join(["00"] * 32)
    mismatch = run(line, "servers", "trust", "--fingerprint", wrong, "--yes")
    assert mismatch.returncode == 1
    assert "nothing was recorded" in clean(mismatch)
    typed = line.fingerprint.removeprefix("SHA256:").replace(":", "").lower()  # as copied from another tool
    trusted = run(line, "servers", "trust", "--fingerprint", typed, "--yes")
    assert trusted.returncode == 0, clean(trusted)
    listed = json.loads(run(line, "servers", "list", "--json").stdout)
    assert [(k["key"], k["fingerprint"]) for k in listed] == [(line.key, line.fingerprint)]
    assert "(shell on " in listed[0]["confirmed_by"]

    tags = run(line, "tags", "--json")
    assert tags.returncode == 0, clean(tags)
    assert any(json.loads(row)["node_id"].endswith("Filler.BowlLevel") for row in tags.stdout.splitlines())

    watched = run(line, "watch", "--tag", "filler.bowl_level", "--count", "1", "--interval", "0.5", "--json")
    assert watched.returncode == 0, clean(watched)
    assert json.loads(watched.stdout.splitlines()[0])["tag"] == "filler.bowl_level"

    injected = run(line, "fault", "inject", "conveyor_jam")
    assert injected.returncode == 0, clean(injected)
    assert "active faults: conveyor_jam" in injected.stdout
    cleared = run(line, "fault", "clear")
    assert cleared.returncode == 0, clean(cleared)
    assert "active faults: none" in cleared.stdout

    db = Database(default_url(line.data))
    for name in ("olga", "otto"):
        add_user(db, name, Role.OPERATOR, PERSON_PASSWORD, by="test", at=0.0)
    db.dispose()
    proposed = run(line, "propose", TAG, "52", "--as", "olga", "--reason", "level low", "--json")
    assert proposed.returncode == 0, clean(proposed)
    action = json.loads(proposed.stdout)
    assert action["status"] == "pending", action
    approved = run(line, "approve", action["id"], "--as", "otto", "--json")
    assert approved.returncode == 0, clean(approved)
    done = json.loads(approved.stdout)
    assert done["status"] == "succeeded", done
    assert done["read_back"] == pytest.approx(52.0)

    asked = run(line, "ask", "Is the filler bowl level normal?", "--as", "olga", "--observe", "0.5", "--json")
    assert asked.returncode == 0, clean(asked)
    assert json.loads(asked.stdout)["provider"] == "offline"


@pytest.mark.slow
def test_trust_asks_a_person_and_a_forgotten_server_is_refused_again(secure_line: SecureLine) -> None:
    line = secure_line
    db = Database(default_url(line.data))
    add_user(db, "olga", Role.OPERATOR, PERSON_PASSWORD, by="test", at=0.0)
    db.dispose()
    declined = run(line, "servers", "trust", line.key, stdin="n\n")
    assert declined.returncode == 1
    assert line.fingerprint in clean(declined), "the person is shown what to compare"
    assert "nothing recorded" in declined.stderr
    assert json.loads(run(line, "servers", "list", "--json").stdout) == []
    accepted = run(line, "servers", "trust", line.key, stdin="y\n")
    assert accepted.returncode == 0, clean(accepted)
    assert f"confirmed {line.key}" in accepted.stdout
    assert run(line, "tags").returncode == 0

    without_security = run(line, "tags", COPILOT_SECURITY="none")
    assert without_security.returncode == 1
    assert "passwords go only over sign_encrypt to a confirmed server" in clean(without_security)

    forgotten = run(line, "servers", "forget", line.key)
    assert forgotten.returncode == 0, clean(forgotten)
    for command in (
        ("tags",),
        ("ask", "Why did the infeed stop?", "--as", "olga", "--observe", "0"),
        ("propose", TAG, "52", "--as", "olga", "--reason", "level low"),
    ):
        again = run(line, *command)
        assert again.returncode == 1, command
        assert "has not been confirmed, so nothing was sent to it" in clean(again), command
    assert run(line, "servers", "forget", line.key).returncode == 1


# -- secure writes required off loopback ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "setting", "required"),
    [
        ("opc.tcp://127.0.0.1:4840/", None, False),
        ("opc.tcp://127.8.9.10:4840/", None, False),
        ("opc.tcp://localhost:4840/", None, False),
        ("opc.tcp://[::1]:4840/", None, False),
        ("opc.tcp://10.0.0.5:4840/", None, True),
        ("opc.tcp://plc-line1.example:4840/", None, True),
        ("opc.tcp://localhost.example:4840/", None, True),
        ("opc.tcp://10.0.0.5:4840/", "false", False),
        ("opc.tcp://127.0.0.1:4840/", "true", True),
    ],
)
def test_secure_writes_are_required_unless_the_line_is_loopback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str, setting: str | None, required: bool
) -> None:
    monkeypatch.delenv("COPILOT_REQUIRE_SECURE_WRITES", raising=False)
    if setting is not None:
        monkeypatch.setenv("COPILOT_REQUIRE_SECURE_WRITES", setting)
    assert load_settings(endpoint=endpoint).secure_writes_required() is required


def test_credentials_in_the_endpoint_are_refused_by_the_configuration(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="must not carry a user or password"):
        load_settings(endpoint="opc.tcp://copilot:secret@10.0.0.5:4840/")


async def test_secure_options_are_made_inside_a_running_event_loop(data_dir: Path) -> None:
    # The crash of issue 12: the client certificate was made with asyncio.run inside the CLI's own loop.
    settings = load_settings(security="sign_encrypt")
    options = line_ops.connection(settings)
    assert options.security.mode is SecurityMode.SIGN_AND_ENCRYPT
    assert options.security.identity is not None
    assert options.security.identity.certificate.is_file()
    assert options.security.known_servers == data_dir / "pki" / "client"
    assert line_ops.connection(settings).security.identity == options.security.identity, "made once"


@pytest.fixture
async def confirmed_client(line: LineDefinition, port: int, tmp_path: Path) -> AsyncIterator[LineClient]:
    """A secure simulated line and a client whose store holds it, as after `copilot servers trust`."""
    data = tmp_path / "data"
    async with SimulatedLine(
        line, SimulatorOptions(port=port, secure=True, data_dir=data, password=OPCUA_PASSWORD, speed=10.0)
    ) as sim:
        settings = load_settings(
            data_dir=data,
            endpoint=sim.endpoint,
            security="sign_encrypt",
            opcua_user="copilot",
            opcua_password=OPCUA_PASSWORD,
        )
        KnownServers(line_ops.known_servers_dir(settings)).add(await presented_server(sim.endpoint), by="ada")
        async with LineClient(line, line_ops.connection(settings), publishing_interval_ms=100) as client:
            await client.wait_available(15)
            await eventually(lambda: all(r is not None for r in client.cache.readings().values()), what="readings")
            yield client


@pytest.mark.slow
async def test_a_write_that_requires_security_goes_over_a_confirmed_session(
    db: Database, people: dict[str, User], line: LineDefinition, clock: FakeClock, confirmed_client: LineClient
) -> None:
    service = ActionService(db, line, clock=clock)
    # Fixtures that block the loop (password hashing) let readings age: wait for fresh ones.
    await eventually(
        lambda: all(r is not None and r.usable for r in confirmed_client.cache.readings().values()), what="fresh"
    )
    snapshot = LineSnapshot(available=confirmed_client.available, readings=confirmed_client.cache.readings())
    reading = confirmed_client.cache.readings()[TAG]
    assert reading is not None
    assert isinstance(reading.value, float)
    target = round(reading.value) + 2.0
    action = service.propose(TAG, target, requester=people["olga"], reason="level low", snapshot=snapshot)
    assert action.status is Status.PENDING, action.refusals
    service.approve(action.id, people["otto"])
    assert confirmed_client.confirmed_secure
    strict = Executor(db, line, confirmed_client, clock=clock, options=ExecutorOptions(require_secure=True))
    done = await strict.execute(action.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert done.read_back == pytest.approx(target)
