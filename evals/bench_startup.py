"""How fast `copilot` commands start, against the imports a light command legitimately needs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# What a light command needs: the CLI framework, the settings and the action store. The goal is 1.5x this.
BASELINE = [sys.executable, "-c", "import typer, pydantic, sqlalchemy"]
COPILOT = [sys.executable, "-m", "copilot"]
LIGHT = {
    "copilot --help": ["--help"],
    "copilot fault list": ["fault", "list"],
    "copilot users list": ["users", "list"],
    "copilot actions list": ["actions", "list"],
}
# Commands that must load something heavy; reported with what takes the time, judged against 3 s.
HEAVY = {
    "copilot search": ["search", "filler stopped low bottle count", "--k", "3"],
    "copilot records": ["records", "E-210"],
}
GOAL_RATIO = 1.5
LIBRARY = Path(__file__).resolve().parents[1] / "knowledge" / "library"
GOAL_HEAVY_S = 3.0


def _once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return elapsed


def timed(command: list[str], env: dict[str, str], runs: int) -> tuple[float, list[float]]:
    """Median wall time of `runs` runs after one warm-up (the OS file cache, as a person's second call sees it)."""
    times = [_once(command, env) for _ in range(runs + 1)][1:]
    return statistics.median(times), times


def interleaved(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Wall times of each command, run in turn round after round after one warm-up round.

    A ratio to the baseline is only fair if both saw the same machine: a neighbour's load that comes and goes then
    falls on every command of a round alike, instead of on whichever command happened to run during it.
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, command in commands.items():
            elapsed = _once(command, env)
            if round_:
                times[name].append(elapsed)
    return times


def heaviest_imports(args: list[str], env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """The top-level packages that cost the most import time (cumulative, seconds), from `python -X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "copilot", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        # CPython indents a nested import by two spaces per level; a top-level one has the separator's single space,
        # and its cumulative time already includes everything it pulled in.
        name = fields[2]
        if not name.startswith(" ") or name.startswith("   "):
            continue
        root = name.strip().split(".")[0]
        costs[root] = costs.get(root, 0.0) + int(fields[1]) / 1e6
    return sorted(costs.items(), key=lambda kv: -kv[1])[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        env = {**os.environ, "COPILOT_DATA_DIR": str(Path(folder) / "data"), "HF_HUB_OFFLINE": "1"}
        env.pop("COPILOT_DATABASE_URL", None)
        # The store needs its first admin and the knowledge commands an index: both made once, outside the timing.
        admin = {**env, "COPILOT_NEW_PASSWORD": "bench-startup-" + os.urandom(8).hex()}
        subprocess.run([*COPILOT, "users", "add", "ada", "--role", "admin"], env=admin, capture_output=True, check=True)
        subprocess.run([*COPILOT, "ingest", str(LIBRARY)], env=env, capture_output=True, check=True)
        commands = {"baseline": BASELINE} | {name: [*COPILOT, *cli_args] for name, cli_args in LIGHT.items()}
        rounds = interleaved(commands, env, args.runs)
        baseline = statistics.median(rounds.pop("baseline"))
        light: dict[str, Any] = {}
        for name, runs in rounds.items():
            median = statistics.median(runs)
            light[name] = {"median_s": round(median, 3), "ratio": round(median / baseline, 2), "runs": runs}
        heavy: dict[str, Any] = {}
        for name, cli_args in HEAVY.items():
            median, runs = timed([*COPILOT, *cli_args], env, args.runs)
            heavy[name] = {
                "median_s": round(median, 3),
                "runs": runs,
                "heaviest_imports_s": [(pkg, round(s, 2)) for pkg, s in heaviest_imports(cli_args, env)],
            }
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "baseline_s": round(baseline, 3),
        "light": light,
        "heavy": heavy,
        "goals": {
            f"light commands within {GOAL_RATIO}x the baseline": all(v["ratio"] <= GOAL_RATIO for v in light.values()),
            f"knowledge commands under {GOAL_HEAVY_S:g} s": all(v["median_s"] < GOAL_HEAVY_S for v in heavy.values()),
        },
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"# CLI start-up ({report['machine']}; median of {args.runs} runs after one warm-up, "
        "light commands and baseline in turn)"
    )
    print(f'baseline `python -c "import typer, pydantic, sqlalchemy"`: {baseline:.2f} s')
    print("| command | median s | times the baseline |")
    print("|---|---|---|")
    for name, row in light.items():
        print(f"| `{name}` | {row['median_s']:.2f} | {row['ratio']:.2f} |")
    for name, row in heavy.items():
        costs = ", ".join(f"{pkg} {s:.1f} s" for pkg, s in row["heaviest_imports_s"])
        print(f"| `{name}` | {row['median_s']:.2f} | (heaviest imports: {costs}) |")
    for goal, met in report["goals"].items():
        print(f"goal {goal}: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
