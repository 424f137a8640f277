"""Sign-in attempts made from separate processes at one instant; kept light so a spawned process starts fast."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from copilot.pipeline.db import Database
from copilot.pipeline.signin import SignInRefused, Throttle, sign_in


def attempt(db: Database, name: str, password: str, at: float, *, client: str = "test", **kw: Any) -> str:
    """One sign-in: "ok", "wrong" (checked), "wrong+wait", "wrong+locked", "wait" or "locked" (turned away)."""
    try:
        sign_in(db, name, password, clients=(client,), now=at, **kw)
    except SignInRefused as err:
        state = "locked" if err.locked else "wait" if err.until else ""
        return f"wrong+{state}".rstrip("+") if err.checked else state
    return "ok"


def _racer(url: str, name: str, tries: int, at: float, throttle: Throttle, barrier: Any, results: Any) -> None:
    db = Database(url)
    barrier.wait(60)  # every process connected and imported: the attempts start together
    client = f"pid{os.getpid()}"
    results.put([attempt(db, name, "wrong password!", at, client=client, throttle=throttle) for _ in range(tries)])
    db.dispose()


def race(url: str, name: str, *, processes: int, tries: int, at: float, throttle: Throttle) -> list[str]:
    """`processes` separate processes, released at once, each making `tries` wrong sign-ins at the instant `at`."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    workers = [
        ctx.Process(target=_racer, args=(url, name, tries, at, throttle, barrier, results)) for _ in range(processes)
    ]
    for w in workers:
        w.start()
    outcomes = [o for _ in workers for o in results.get(timeout=120)]
    for w in workers:
        w.join(30)
        if w.exitcode != 0:
            raise AssertionError(f"a racing process ended with exit code {w.exitcode}")
    return outcomes
