"""End-to-end fixtures: `copilot demo` in its own process, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evals.demo_runner import CHROMIUM, Demo, start_demo, stop_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is missing at {CHROMIUM}: `make test` installs it as root (apt-get install chromium)"
        )
    running = start_demo(tmp_path_factory.mktemp("demo-data"))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop_demo(running)
