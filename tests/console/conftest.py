"""Console fixtures: a real simulated line and database behind the console's services, people of every role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from connectors.line import LineDefinition
from connectors.simulator.server import SimulatorOptions
from console import services
from copilot.fault_eval import SimulatorThread, free_port
from copilot.users import Role, User, add_user

PASSWORD = "console-test-password"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class Console:
    sim: SimulatorThread | None
    people: dict[str, User]

    def page(self, module: str, who: str | None, *, timeout: float = 30) -> AppTest:
        """One page rendered for one person, as the router would after sign-in."""
        script = f"from console import widgets, {module}\nwidgets.apply_tablet_style()\n{module}.render()\n"
        app = AppTest.from_string(script, default_timeout=timeout)
        if who is not None:
            app.session_state["user"] = self.people[who]
        return app.run()


def _people() -> dict[str, User]:
    db = services.context().db
    now = time.time()
    return {
        name: add_user(db, name, role, PASSWORD, by="test", at=now)
        for name, role in (
            ("olga", Role.OPERATOR),
            ("otto", Role.OPERATOR),
            ("sam", Role.SUPERVISOR),
            ("mia", Role.MAINTENANCE),
            ("ada", Role.ADMIN),
        )
    }


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: LineDefinition) -> Iterator[Console]:
    sim = SimulatorThread(line, SimulatorOptions(port=free_port(), speed=5.0))
    with sim:
        monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("COPILOT_ENDPOINT", sim.sim.endpoint)
        services.shutdown()
        try:
            services.live_line().wait_ready(15)
            yield Console(sim=sim, people=_people())
        finally:
            services.shutdown()


@pytest.fixture
def console_without_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_ENDPOINT", f"opc.tcp://127.0.0.1:{free_port()}/nothing-here/")
    services.shutdown()
    try:
        yield Console(sim=None, people=_people())
    finally:
        services.shutdown()
