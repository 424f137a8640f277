"""Small waiting helpers for tests that watch a live server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll `check` until it holds; fail with `what` when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
