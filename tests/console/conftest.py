"""Console fixtures: a real simulated line and a real SQLite database behind the console's services, people of every
role, and AppTest drivers for one page or the whole app."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from connectors.line import LineDefinition
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from console import services
from copilot.pipeline.actions import Action
from copilot.pipeline.db import Database
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role
from copilot.pipeline.users import User, add_user
from copilot.services.pipeline_ops import Context
from tests.helpers import left_as_found

PASSWORD = "console-test-password"
ROOT = Path(__file__).resolve().parents[2]
PEOPLE = {
    "olga": Role.OPERATOR,
    "otto": Role.OPERATOR,
    "oleg": Role.OPERATOR,
    "sam": Role.SUPERVISOR,
    "mia": Role.MAINTENANCE,
    "ada": Role.ADMIN,
}
PAGE_SPECS = {
    "line": "LINE",
    "alarms": "ALARMS",
    "copilot": "CHAT",
    "troubleshooting": "SEARCH",
    "actions": "ACTIONS",
    "shift": "SHIFT",
    "handover": "HANDOVER",
}


@dataclass(frozen=True, kw_only=True)
class Console:
    """The console's services over one data directory, and the people in its database."""

    sim: SimulatorThread | None
    people: dict[str, User]
    data_dir: Path

    @property
    def ctx(self) -> Context:
        return services.context()

    def page(self, name: str, who: str | None, *, timeout: float = 30) -> AppTest:
        """One page rendered for one person as the router renders it after sign-in (errors shown, not raised)."""
        script = (
            "from console import navigation, widgets\n"
            "widgets.apply_tablet_style()\n"
            f"navigation.guarded(navigation.{PAGE_SPECS[name]})()\n"
        )
        app = AppTest.from_string(script, default_timeout=timeout)
        if who is not None:
            app.session_state["user"] = self.people[who]
        return app.run()

    def app(self, who: str | None = None, *, timeout: float = 30) -> AppTest:
        """The whole console (app.py), signed in as `who` or at its sign-in page."""
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        if who is not None:
            app.session_state["user"] = self.people[who]
        return app.run()

    def propose(self, tag: str, value: float, who: str, *, reason: str = "test change") -> Action:
        """A proposal judged by policy against the live line, as the co-pilot or the CLI would make it."""
        live = services.live_line()
        snapshot = LineSnapshot(available=live.available, readings=live.cache.readings())
        return self.ctx.service.propose(tag, value, requester=self.people[who], reason=reason, snapshot=snapshot)

    def value(self, tag: str) -> float:
        """The tag's value as the console sees it now."""
        reading = services.live_line().cache.readings([tag])[tag]
        assert reading is not None, f"{tag} has no reading"
        assert reading.usable, f"{tag} has no usable reading: {reading}"
        assert isinstance(reading.value, int | float)
        return float(reading.value)


@pytest.fixture(scope="package")
def people_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the people, made once: argon2 hashing costs a third of a second per person."""
    path = tmp_path_factory.mktemp("people") / "copilot.db"
    db = Database(f"sqlite:///{path}")
    now = time.time()
    for name, role in PEOPLE.items():
        add_user(db, name, role, PASSWORD, by="test", at=now)
    db.dispose()
    return path


def _open(
    sim: SimulatorThread | None, endpoint: str, people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Console:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(people_db, data_dir / "copilot.db")  # each test starts from the people and nothing else
    monkeypatch.setenv("COPILOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COPILOT_ENDPOINT", endpoint)
    monkeypatch.chdir(tmp_path)  # no copilot.toml from the developer's checkout leaks in
    services.shutdown()
    if sim is not None:
        services.live_line().wait_ready(15)
    people = {name: User(name=name, role=role, active=True) for name, role in PEOPLE.items()}
    return Console(sim=sim, people=people, data_dir=data_dir)


def _simulator(line: LineDefinition) -> SimulatorThread:
    return SimulatorThread(line, SimulatorOptions(port=free_port(), speed=10.0, publish_interval_s=0.2))


@pytest.fixture(scope="package")
def shared_sim(line: LineDefinition) -> Iterator[SimulatorThread]:
    """One simulated line for the tests that leave it as they found it (no faults, no writes, no stop)."""
    with _simulator(line) as sim:
        yield sim


@pytest.fixture
def console(
    shared_sim: SimulatorThread, people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Console]:
    """A fresh database and data directory over the shared line (a test that changes the line fails: own_console)."""
    with left_as_found(shared_sim.sim):
        try:
            yield _open(shared_sim, shared_sim.sim.endpoint, people_db, tmp_path, monkeypatch)
        finally:
            services.shutdown()


@pytest.fixture
def own_console(
    line: LineDefinition, people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Console]:
    """A line of the test's own, for tests that inject faults, write setpoints or stop the server."""
    with _simulator(line) as sim:
        try:
            yield _open(sim, sim.sim.endpoint, people_db, tmp_path, monkeypatch)
        finally:
            services.shutdown()


@pytest.fixture
def console_without_line(people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """The console configured for an endpoint where nothing listens."""
    try:
        yield _open(None, f"opc.tcp://127.0.0.1:{free_port()}/nothing-here/", people_db, tmp_path, monkeypatch)
    finally:
        services.shutdown()


def as_read(markdown: str) -> str:
    """Markdown source as a person reads it once rendered: escapes resolved, the invisible word joiners gone."""
    return ESCAPED.sub(r"\1", markdown).replace("\u2060", "").replace("  \n", "\n")


ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def read(elements: Iterable[Any]) -> list[str]:
    """The values of Markdown elements (markdown, caption, messages) as a person reads them."""
    return [as_read(str(e.value)) for e in elements]


def text_of(app: AppTest) -> str:
    """Everything a person reads on the page (HTML tiles included), one element per line."""
    parts: list[object] = [t.value for t in app.title] + [s.value for s in app.subheader]
    parts += [m.value for m in app.markdown] + [c.value for c in app.caption] + [t.value for t in app.text]
    parts += [e.value for e in app.error] + [w.value for w in app.warning] + [i.value for i in app.info]
    parts += [s.value for s in app.success] + [x.label for x in app.expander]
    parts += [f"EXCEPTION: {x.value}" for x in app.exception]
    return as_read("\n".join(str(p) for p in parts))


def sidebar_text(app: AppTest) -> str:
    return as_read("\n".join(str(m.value) for m in app.sidebar.markdown))


def labels(app: AppTest) -> list[str]:
    return [str(b.label) for b in app.button]


def button(app: AppTest, label: str, *, key_part: str = "") -> Button:
    """The one button with this label (and a key containing `key_part`); fails when it is missing or ambiguous."""
    found = [b for b in app.button if b.label == label and key_part in (b.key or "")]
    assert found, f"no button {label!r}; buttons: {labels(app)}"
    assert len(found) == 1, f"{len(found)} buttons {label!r}"
    return found[0]
