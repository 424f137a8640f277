"""Decision races at scale: 1,000+ random races per backend (threads and processes), judged race by race."""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from copilot.evaluation.races import RaceReport, run_races
from copilot.pipeline import default_url

POSTGRES = os.environ.get("COPILOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """A new empty store for one run: a SQLite file in a temporary folder, or a PostgreSQL database dropped after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-races-") as folder:
            yield default_url(Path(folder))
        return
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"copilot_bench_{secrets.token_hex(5)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _row(report: RaceReport) -> str:
    return (
        f"| {report.backend} | {report.mode} | {report.races} | {report.decisions} | {report.conflicts} | "
        f"{report.writes} | {report.unapproved_writes} | {report.double_decisions} | {report.double_writes} | "
        f"{report.value_mismatches} | {report.errors} | {'yes' if report.chain_ok else 'NO'} | {report.seconds} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--races", type=int, default=500, help="races per backend and mode (default 500)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default="threads,processes")
    parser.add_argument("--workers", type=int, default=3, help="people acting at once in each race")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args(argv)
    reports: list[RaceReport] = []
    for backend in args.backends.split(","):
        for mode in args.modes.split(","):
            with scratch_database(backend) as url:
                print(f"{backend} {mode}: {args.races} races...", file=sys.stderr, flush=True)
                report = run_races(
                    url, races=args.races, mode=mode, workers=args.workers, seed=args.seed, backend=backend
                )
            reports.append(report)
            for problem in report.problems:
                print(f"  {problem}", file=sys.stderr)
    print(
        "| backend | mode | races | decisions | lost (told who won) | writes | unapproved writes | "
        "double decisions | double writes | line disagrees | errors | chain | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for report in reports:
        print(_row(report))
    total = sum(r.races for r in reports)
    bad = sum(r.unapproved_writes + r.double_decisions + r.double_writes + r.value_mismatches for r in reports)
    print(
        f"\n{total} races, {bad} violations; endings: "
        + "; ".join(f"{r.backend}/{r.mode} {json.dumps(r.endings, sort_keys=True)}" for r in reports)
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        machine: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(), "at": time.time()}
        args.out.write_text(json.dumps({"machine": machine, "reports": [r.as_json() for r in reports]}, indent=1))
    return 0 if all(r.held for r in reports) else 4


if __name__ == "__main__":
    raise SystemExit(main())
