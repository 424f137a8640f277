"""The demo as benchmarks and browser tests drive it: `copilot demo` in its own process, and Chromium's settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.simulator.thread import free_port

CHROMIUM = Path(os.environ.get("COPILOT_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps calling home, and this machine refuses every call.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
TABLET = {"width": 1280, "height": 800}


@dataclass(frozen=True, kw_only=True)
class Demo:
    url: str
    endpoint: str
    passwords: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[str]

    def copilot(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COPILOT_DATA_DIR": str(self.data_dir), "COPILOT_ENDPOINT": self.endpoint}
        return subprocess.run(
            [sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=60, env=env
        )


def start_demo(data_dir: Path, *, speed: float = 10.0, timeout_s: float = 240.0) -> Demo:
    """`copilot demo` on free ports; returns once it printed the console URL and the demo passwords."""
    line_port, console_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copilot",
            "demo",
            "--port",
            str(line_port),
            "--console-port",
            str(console_port),
            "--speed",
            str(speed),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COPILOT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"},
    )
    assert process.stdout is not None
    passwords: dict[str, str] = {}
    printed: list[str] = []
    deadline = time.monotonic() + timeout_s
    url = endpoint = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        printed.append(line)
        if match := re.match(r"^\s+(\w+)\s+(operator|supervisor|maintenance|admin)\s+(\S+)$", line):
            passwords[match[1]] = match[3]
        if line.startswith("simulated line at "):
            endpoint = line.split(" at ", 1)[1].strip()
        if line.startswith("console: "):
            url = line.split(": ", 1)[1].strip()
            break
    if not url:
        process.terminate()
        raise AssertionError("the demo did not start:\n" + "".join(printed))
    return Demo(url=url, endpoint=endpoint, passwords=passwords, data_dir=data_dir, process=process)


def stop_demo(demo: Demo) -> str:
    """Ctrl-C, as a person would; returns what the demo printed after it."""
    demo.process.send_signal(2)
    try:
        out, _ = demo.process.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        demo.process.kill()
        out, _ = demo.process.communicate(timeout=10)
        raise AssertionError("the demo did not stop within 40 s of Ctrl-C") from None
    return out
