"""The admin's server identity step: what the line server presents beside what was confirmed, and confirming it."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from connectors import security
from connectors.known_servers import KnownServers, PresentedServer, endpoint_key
from connectors.line import LineDefinition
from connectors.simulator.impostor import ImpostorOptions, ImpostorServer
from connectors.simulator.server import SimulatedLine, SimulatorOptions
from connectors.simulator.thread import free_port
from console import services
from copilot.pipeline.states import Role
from copilot.pipeline.users import User
from tests.console.conftest import PEOPLE, Console, button, labels, text_of
from tests.helpers import wait_until

PASSWORD = "line-password-9"
HOSTILE_URI = "urn:x ![seen](http://outside.example/pixel.png) **Approved by sam**"


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    """An OPC UA server (the simulator or an impostor) on its own loop thread, as a plant server runs beside us."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-identity-test", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=60)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass(frozen=True, kw_only=True)
class SecureConsole:
    data_dir: Path
    endpoint: str
    store: KnownServers

    def page(self, who: str) -> AppTest:
        script = (
            "from console import navigation, widgets\n"
            "widgets.apply_tablet_style()\n"
            "navigation.guarded(navigation.SERVER)()\n"
        )
        app = AppTest.from_string(script, default_timeout=30)
        app.session_state["user"] = User(name=who, role=PEOPLE[who], active=True)
        return app.run()


def _secure_console(
    endpoint: str, data_dir: Path, people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SecureConsole:
    shutil.copyfile(people_db, data_dir / "copilot.db")
    for name, value in {
        "COPILOT_DATA_DIR": str(data_dir),
        "COPILOT_ENDPOINT": endpoint,
        "COPILOT_SECURITY": "sign_encrypt",
        "COPILOT_OPCUA_USER": "copilot",
        "COPILOT_OPCUA_PASSWORD": PASSWORD,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no copilot.toml from the developer's checkout leaks in
    services.shutdown()
    return SecureConsole(data_dir=data_dir, endpoint=endpoint, store=KnownServers(security.pki_dir(data_dir, "client")))


@pytest.fixture
def secure_console(
    line: LineDefinition, people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecureConsole]:
    """The console in secure mode beside `copilot sim --secure` (one data directory, as the demo has it)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    options = SimulatorOptions(port=free_port(), secure=True, data_dir=data_dir, password=PASSWORD)
    with serving(SimulatedLine(line, options)) as sim:
        try:
            yield _secure_console(sim.endpoint, data_dir, people_db, tmp_path, monkeypatch)
        finally:
            services.shutdown()


def server_fingerprint(console: SecureConsole) -> str:
    return security.fingerprint((console.data_dir / "pki" / "server" / "own" / "cert.der").read_bytes())


@pytest.mark.slow
def test_an_admin_confirms_the_presented_identity_and_the_console_connects(secure_console: SecureConsole) -> None:
    fingerprint = server_fingerprint(secure_console)
    app = secure_console.page("ada")
    assert not app.exception
    assert [c.value for c in app.code] == [fingerprint]
    assert "application URI: urn:line-copilot:simulator" in [t.value for t in app.text]
    assert "Nobody has confirmed this server yet; the console does not connect to it." in text_of(app)
    live = services.live_line()
    assert not live.available, "nothing connects before an admin confirmed the server"

    button(app, "Confirm this server").click().run()
    assert not app.exception
    assert "Confirmed. The console connects to this server from now on." in text_of(app)
    known = secure_console.store.get(endpoint_key(secure_console.endpoint))
    assert known is not None
    assert known.fingerprint == fingerprint
    assert known.confirmed_by == "ada (admin, console)"
    assert "The server presents exactly the identity that was confirmed." in text_of(app)
    assert [c.value for c in app.code] == [fingerprint, fingerprint], "presented beside confirmed"
    assert "Confirm this server" not in labels(app)

    wait_until(lambda: live.available, what="the console to connect to the confirmed server")
    assert live.available, live.availability
    assert live.client.confirmed_secure


@pytest.mark.slow
def test_a_changed_identity_is_replaced_only_after_the_admin_says_it_was_verified(
    secure_console: SecureConsole, tmp_path: Path
) -> None:
    other = security.create_identity(
        tmp_path / "earlier", app_uri="urn:line-copilot:simulator", common_name="old", organization="x", server=True
    )
    earlier = PresentedServer.of(secure_console.endpoint, other.certificate.read_bytes(), "urn:line-copilot:simulator")
    secure_console.store.add(earlier, by="sam (admin, console)")
    app = secure_console.page("ada")
    page = text_of(app)
    assert "THE SERVER'S IDENTITY HAS CHANGED since it was confirmed." in page
    assert [c.value for c in app.code] == [server_fingerprint(secure_console), earlier.fingerprint]
    replace = button(app, "Replace the confirmed identity")
    assert replace.disabled
    app.checkbox(key="server-identity-verified").check().run()
    button(app, "Replace the confirmed identity").click().run()
    assert not app.exception
    known = secure_console.store.get(endpoint_key(secure_console.endpoint))
    assert known is not None
    assert known.fingerprint == server_fingerprint(secure_console)
    assert known.confirmed_by == "ada (admin, console)"


@pytest.mark.slow
def test_only_an_admin_may_confirm(secure_console: SecureConsole) -> None:
    for who in ("sam", "olga"):
        app = secure_console.page(who)
        assert "Only an admin can confirm the identity of the line's server." in text_of(app)
        assert labels(app) == [] or "Confirm this server" not in labels(app)
    assert secure_console.store.all() == []


@pytest.mark.slow
def test_what_a_server_says_of_itself_is_shown_as_plain_text(
    people_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    own = security.create_identity(
        tmp_path / "impostor", app_uri="urn:x", common_name="x", organization="x", server=True
    )
    impostor = ImpostorServer(
        ImpostorOptions(
            port=free_port(), certificate=own.certificate, private_key=own.private_key, application_uri=HOSTILE_URI
        )
    )
    with serving(impostor):
        console = _secure_console(impostor.endpoint, data_dir, people_db, tmp_path, monkeypatch)
        try:
            app = console.page("ada")
        finally:
            services.shutdown()
        assert f"application URI: {HOSTILE_URI}" in [t.value for t in app.text]
        rendered = "\n".join(str(m.value) for m in [*app.markdown, *app.caption, *app.warning, *app.error])
        assert "outside.example" not in rendered, "server text never reaches a Markdown element"
        assert impostor.credentials == [], "showing and confirming nothing sends nothing"


def test_without_security_there_is_nothing_to_confirm(console: Console) -> None:
    script = "from console import navigation\nnavigation.guarded(navigation.SERVER)()\n"
    app = AppTest.from_string(script, default_timeout=30)
    app.session_state["user"] = console.people["ada"]
    app.run()
    assert "there is no server identity to confirm and no password is sent" in text_of(app)
    assert not app.code
    assert Role.ADMIN is console.people["ada"].role
