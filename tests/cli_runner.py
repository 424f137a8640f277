"""`copilot` commands run inside the test process, through the same entry point as the shell's `copilot`.

A `python -m copilot` process pays its imports (LangGraph for `ask`, MiniLM for the knowledge commands) on every
command; here they are paid once per test run. The code path is the console entry point itself, `copilot.cli.run`,
so usage errors come out as the shell shows them (one `error:` line, exit 2), and `asyncio.run` inside a command
runs as it does from a shell (the tests that use this are plain functions, with no event loop running).

What a new process would start with is set up around each command and put back afterwards: its environment, its
working directory, its standard streams and its logging (no handlers until the command configures them, so what it
logs lands on its stderr as in a shell, and none of it reaches the next test).
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from typer.testing import CliRunner

if TYPE_CHECKING:
    from knowledge import KnowledgeBase


@dataclass(frozen=True, kw_only=True)
class Ran:
    """What a command left behind, named as subprocess.CompletedProcess names it."""

    returncode: int
    stdout: str
    stderr: str


def copilot(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None) -> Ran:
    """`copilot ARGS` in this process; `env` adds to the environment for the command, `stdin` is what a person types.

    An exception that escapes the entry point is raised here: from a shell it would be a traceback.
    """
    from copilot.cli import run

    code: int | str | None = None
    with (
        _working_directory(cwd),
        _argv(["copilot", *args]),
        CliRunner().isolation(input=stdin, env=env) as (out, err, _),
        _logging_as_in_a_new_process(),
        _what_a_process_end_closes(),
    ):
        try:
            run()
        except SystemExit as exit_:
            code = exit_.code
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode(errors="backslashreplace")
    return Ran(returncode=code if isinstance(code, int) else int(code is not None), stdout=stdout, stderr=stderr)


def copy_library(library: KnowledgeBase, data: Path) -> None:
    """The ingested plant library (the session's `library_kb`) as the knowledge of the data directory `data`.

    A copy the test may change; ingesting the library again costs a minute on a busy machine. `copilot ingest` of
    the library into it finds every file unchanged.
    """
    shutil.copytree(library.store.path.parent, data / "knowledge")


@contextmanager
def _what_a_process_end_closes() -> Iterator[None]:
    # Commands leave their database pool to the end of their process, which closes it without a word: Python ignores
    # ResourceWarning by default. Here the command's garbage is collected at its end, under that same default, so
    # what it left open is closed now and not reported as an error in some later test. Only what the command made is
    # looked at (the rest frozen meanwhile): a full collection over torch, Chroma and LangGraph takes half a second.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.freeze()
        try:
            yield
        finally:
            gc.collect()
            gc.unfreeze()


@contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    before = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    # Typer's app installs its own excepthook when called; the test process keeps its own.
    before, hook = sys.argv, sys.excepthook
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv, sys.excepthook = before, hook


@contextmanager
def _logging_as_in_a_new_process() -> Iterator[None]:
    # The command's logging.basicConfig is a no-op while pytest's handlers sit on the root logger, and its levels
    # (asyncua silenced) would outlive it: start from a bare root and put everything back afterwards.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("asyncua",)}
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
