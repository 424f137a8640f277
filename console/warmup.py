"""The co-pilot warmed once per server process, in the background, with a state every page can show."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from streamlit.logger import get_logger

from console.messages import OURS, describe
from copilot.untrusted import markdown_escape

_LOG = get_logger(__name__)  # Streamlit's format and level, so the lines land in the console's log


class Phase(StrEnum):
    IDLE = "idle"  # nothing started it: the console runs without its server (AppTest); pages load on demand
    WARMING = "warming"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Step:
    """One part of the warm-up; `doing` completes "Co-pilot: warming up (…)"."""

    doing: str
    run: Callable[[], object]


@dataclass(frozen=True, kw_only=True)
class Readiness:
    """Where the warm-up is, in words a person can act on."""

    phase: Phase
    doing: str = ""  # the step under way (warming) or the step that failed
    done: int = 0  # steps finished
    total: int = 0
    problem: str = ""  # failed: what went wrong and what to do, safe for Markdown

    @property
    def headline(self) -> str:
        return HEADLINES[self.phase].format(doing=self.doing)


# What the sidebar and the Co-pilot page say in each phase.
HEADLINES: dict[Phase, str] = {
    Phase.IDLE: "Co-pilot: starts when its page is opened",
    Phase.WARMING: "Co-pilot: warming up ({doing})…",
    Phase.READY: "Co-pilot ready",
    Phase.FAILED: "Co-pilot could not start",
}

UNEXPECTED = (
    "The console's log has the details. Fix what it names, then press **Try again**; "
    "if it fails again, restart the console."
)


def problem_text(doing: str, err: Exception) -> str:
    """Our errors with their advice; anything else with its type and where to read more."""
    if isinstance(err, OURS):
        return describe(doing, err)
    return f"Could not finish {doing}: {markdown_escape(f'{type(err).__name__}: {err}')}\n\n{UNEXPECTED}"


class Warmup:
    """Runs its steps once, in a daemon thread, and keeps a Readiness that any thread may read at any time.

    A failure stops the warm-up where it happened and is kept as a problem to show; `retry` runs it again.
    """

    def __init__(self, steps: Sequence[Step]) -> None:
        if not steps:
            raise ValueError("a warm-up needs at least one step")
        self.steps = tuple(steps)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._attempts = 0
        self._readiness = Readiness(phase=Phase.IDLE, total=len(self.steps))

    @property
    def readiness(self) -> Readiness:
        with self._lock:
            return self._readiness

    def start(self) -> bool:
        """Start the warm-up unless it has started already in this process; True when this call started it."""
        with self._lock:
            return self._begin() if self._thread is None else False

    def retry(self) -> bool:
        """Run a failed warm-up again (after its cause was fixed); False when it has not failed."""
        with self._lock:
            return self._begin() if self._readiness.phase is Phase.FAILED else False

    def _begin(self) -> bool:
        # Called with the lock held, so two sessions pressing "Try again" at once start one warm-up.
        self._attempts += 1
        self._readiness = Readiness(phase=Phase.WARMING, doing=self.steps[0].doing, total=len(self.steps))
        self._thread = threading.Thread(target=self._run, args=(self._attempts,), name="copilot-warm-up", daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout_s: float | None = None) -> Readiness:
        """Block until the warm-up has ended (or `timeout_s` passed); the readiness then."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.readiness

    def reset(self, timeout_s: float = 300.0) -> None:
        """Wait for a running warm-up to end, then forget it, so the next `start` warms again (tests, restarts)."""
        if self.wait(timeout_s).phase is Phase.WARMING:
            raise RuntimeError(f"the co-pilot warm-up did not end within {timeout_s:g} s")
        with self._lock:
            self._thread = None
            self._attempts = 0
            self._readiness = Readiness(phase=Phase.IDLE, total=len(self.steps))

    def _set(self, readiness: Readiness) -> None:
        with self._lock:
            self._readiness = readiness

    def _run(self, attempt: int) -> None:
        started = time.monotonic()
        total = len(self.steps)
        _LOG.info("co-pilot warm-up started" if attempt == 1 else f"co-pilot warm-up started again (attempt {attempt})")
        for index, step in enumerate(self.steps):
            self._set(Readiness(phase=Phase.WARMING, doing=step.doing, done=index, total=total))
            try:
                step.run()
            # Whatever stops a background thread must reach the page, or the page would wait for ever.
            except Exception as err:
                if isinstance(err, OURS):
                    _LOG.warning("co-pilot warm-up failed while %s: %s", step.doing, err)
                else:
                    _LOG.exception("co-pilot warm-up failed while %s", step.doing)
                self._set(
                    Readiness(
                        phase=Phase.FAILED,
                        doing=step.doing,
                        done=index,
                        total=total,
                        problem=problem_text(step.doing, err),
                    )
                )
                return
        _LOG.info("co-pilot warm-up ready in %.1f s", time.monotonic() - started)
        self._set(Readiness(phase=Phase.READY, done=total, total=total))
