"""The one-command demo: the simulated line, the plant library, demo people and the console, stopped by Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from copilot.errors import CopilotError, NotAllowed
from copilot.pipeline.db import Database
from copilot.pipeline.states import Role
from copilot.pipeline.users import add_user, set_password
from copilot.services.kb_ops import open_kb
from copilot.settings import Settings
from knowledge import library_path

DEMO_PEOPLE: tuple[tuple[str, Role], ...] = (
    ("olga", Role.OPERATOR),
    ("otto", Role.OPERATOR),
    ("sam", Role.SUPERVISOR),
    ("mia", Role.MAINTENANCE),
    ("ada", Role.ADMIN),
)


class DemoError(CopilotError):
    """A part of the demo did not start; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class DemoPerson:
    name: str
    role: Role
    password: str


def app_path() -> Path:
    return Path(__file__).resolve().parents[2] / "app.py"


def prepare_library(settings: Settings, say: Callable[[str], None]) -> int:
    """Ingest the shipped plant library the first time; later starts reuse the index. Returns the chunk count."""
    library = open_kb(settings)
    if library.chunk_count() == 0:
        say("ingesting the plant library (once; later starts reuse it)...")
        library.ingest([library_path()], progress=False)
    return library.chunk_count()


def prepare_people(settings: Settings) -> list[DemoPerson]:
    """The demo people, each with a fresh random password for this start (printed once, stored only hashed)."""
    db = Database(settings.database())
    people = []
    for name, role in DEMO_PEOPLE:
        password = secrets.token_urlsafe(9)
        try:
            add_user(db, name, role, password, by="demo", at=time.time())
        except NotAllowed:
            set_password(db, name, password, by="demo", at=time.time())
        people.append(DemoPerson(name=name, role=role, password=password))
    return people


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_for(url: str, process: subprocess.Popen[bytes], what: str, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-800:]
            raise DemoError(f"{what} exited with code {process.returncode}; its log ({log}) ends:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise DemoError(f"{what} did not answer at {url} within {timeout_s:g} s; see {log}")


def _wait_for_line(process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the simulated line exited with code {process.returncode}; see {log}")
        if "serving" in log.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.2)
    raise DemoError(f"the simulated line did not start within {timeout_s:g} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def run_demo(
    settings: Settings,
    *,
    line_port: int,
    console_port: int,
    speed: float,
    say: Callable[[str], None],
    started: Callable[[str, str, list[DemoPerson]], None],
    stop: threading.Event | None = None,
) -> None:
    """Start everything, report the URL and the people, then wait for Ctrl-C (or `stop`) and stop everything."""
    data = settings.ensure_data_dir().resolve()
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    endpoint = f"opc.tcp://127.0.0.1:{line_port}/line-copilot/"
    env = {**os.environ, "COPILOT_DATA_DIR": str(data), "COPILOT_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "1"}
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    children: list[subprocess.Popen[bytes]] = []
    try:
        line_log = logs / "line.log"
        line = _start(
            [sys.executable, "-m", "copilot", "sim", "--port", str(line_port), "--speed", str(speed)], env, line_log
        )
        children.append(line)
        _wait_for_line(line, line_log)
        chunks = prepare_library(settings, say)
        say(f"plant library: {chunks} passages indexed")
        people = prepare_people(settings)
        console_log = logs / "console.log"
        console = _start(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(app_path()),
                "--server.address=127.0.0.1",
                f"--server.port={console_port}",
                "--server.headless=true",
                "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
                "--client.toolbarMode=viewer",
                # Streamlit runs a full garbage collection after every script run, fragments included: with
                # torch and Chroma in the heap that was over half of the console's CPU with one Line page open.
                "--runner.postScriptGC=false",
            ],
            env,
            console_log,
        )
        children.append(console)
        url = f"http://127.0.0.1:{console_port}/"
        _wait_for(f"{url}_stcore/health", console, "the console", console_log)
        started(url, endpoint, people)
        while not stop.is_set():
            for child, what in ((line, "the simulated line"), (console, "the console")):
                if child.poll() is not None:
                    raise DemoError(f"{what} stopped unexpectedly (code {child.returncode}); see {logs}")
            stop.wait(0.5)
    finally:
        for child in reversed(children):
            _stop(child)
