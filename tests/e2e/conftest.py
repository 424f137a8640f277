"""End-to-end fixtures: `copilot demo` in its own process, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from evals.demo_runner import CHROMIUM, CHROMIUM_FLAGS, Demo, start_demo, stop_demo
from knowledge import KnowledgeBase


def with_library(data_dir: Path, library: KnowledgeBase) -> Path:
    """A demo data directory holding the plant library as this run ingested it once (the session's `library_kb`):
    `copilot demo` finds the library indexed and starts without embedding it again (a minute on a busy machine)."""
    shutil.copytree(library.store.path.parent, data_dir / "knowledge")
    return data_dir


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, library_kb: KnowledgeBase) -> Iterator[Demo]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is missing at {CHROMIUM}: `make test` installs it as root (apt-get install chromium)"
        )
    running = start_demo(with_library(tmp_path_factory.mktemp("demo-data"), library_kb))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop_demo(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium with the flags this machine needs, one per test module."""
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: `make browser` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
