"""The `copilot` command as a person uses it: exit codes, one-line errors, JSON output, a live simulator.

The commands run in this process through the console entry point (tests/cli_runner.py); two things run as real
processes because a process is what they are about: each entry point (`copilot` and `python -m copilot`) once,
end to end, and `copilot sim`, which serves until a signal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.simulator.faults import FAULTS
from tests.cli_runner import Ran, copilot
from tests.conftest import free_port


def run(*args: str, env: dict[str, str] | None = None) -> Ran:
    return copilot(*args, env=env)


def assert_one_line_error(result: Ran, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def sim_endpoint(tmp_path: Path) -> Iterator[str]:
    """`python -m copilot sim` as its own process on a free loopback port; stopped with SIGTERM after the test.

    A real process, not the runner: `sim` serves until SIGINT or SIGTERM (its handlers need a process's main
    thread), and its clean exit on SIGTERM is what is checked here. It is also the `python -m copilot` smoke test.
    """
    port = free_port()
    env = {**os.environ, "COPILOT_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "copilot", "sim", "--port", str(port), "--speed", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "serving" in first, first + (proc.stderr.read() if proc.stderr else "")
        yield f"opc.tcp://127.0.0.1:{port}/line-copilot/"
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=15)
    assert proc.returncode == 0, errors  # SIGTERM is a clean stop, not a crash


def test_unreachable_endpoint_is_one_clear_line(data_dir: Path) -> None:
    port = free_port()
    result = run("tags", "--endpoint", f"opc.tcp://127.0.0.1:{port}/")
    assert_one_line_error(result, "error:", "refused")


def test_bad_endpoint_setting_is_one_clear_line(data_dir: Path) -> None:
    result = run("tags", env={"COPILOT_ENDPOINT": "http://plc/"})
    assert_one_line_error(result, "COPILOT_ENDPOINT", "opc.tcp://")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sim", "--port", "70000"], ["--port", "65535"]),
        (["sim", "--fault", "volcano"], ["unknown fault 'volcano'"]),
        (["watch", "--bogus"], ["No such option: --bogus"]),
        (["fault", "explode"], ["explode"]),
    ],
)
def test_bad_arguments_are_one_line_and_exit_two(args: list[str], words: list[str]) -> None:
    result = run(*args)
    assert_one_line_error(result, "error:", *words)
    assert result.returncode == 2


def test_invalid_line_file(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("line: {id: x}\n")
    result = run("watch", "--line", str(bad), "--endpoint", "opc.tcp://127.0.0.1:1/")
    assert result.returncode == 1
    assert f"{bad}:1: line.name" in result.stderr
    assert "Traceback" not in result.stderr


def test_fault_list() -> None:
    result = run("fault", "list", "--json")
    assert result.returncode == 0
    assert [f["name"] for f in json.loads(result.stdout)] == [f.name for f in FAULTS]


def test_the_copilot_script_runs_a_command_end_to_end() -> None:
    # The one run of the installed console script: its entry point, its imports, its exit code, its output.
    script = Path(sys.executable).with_name("copilot")
    assert script.is_file(), f"no console script at {script}: install the project with `make`"
    result = subprocess.run([str(script), "fault", "list", "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [f["name"] for f in json.loads(result.stdout)] == [f.name for f in FAULTS]


def test_tags_watch_and_faults_against_a_running_simulator(sim_endpoint: str, data_dir: Path) -> None:
    result = run("tags", "--endpoint", sim_endpoint, "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    level = next(r for r in rows if r["node_id"].endswith(";s=Filler.BowlLevel"))
    assert set(level) >= {"node_id", "browse_path", "data_type", "unit", "eu_low", "eu_high", "writable"}
    assert level["writable"] is False

    result = run("tags", "--endpoint", sim_endpoint, "--draft-line")
    assert result.returncode == 0
    assert "writable: false" in result.stdout
    assert "      writable: true" not in result.stdout

    result = run(
        "watch", "--endpoint", sim_endpoint, "--tag", "filler.bowl_level", "--json", "--count", "2", "--interval", "0.5"
    )
    assert result.returncode == 0, result.stderr
    readings = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(readings) == 2
    assert {r["tag"] for r in readings} == {"filler.bowl_level"}
    assert all(r["quality"] == "good" and r["source_time"] for r in readings)

    result = run("fault", "inject", "label_web_break", "--endpoint", sim_endpoint)
    assert result.returncode == 0, result.stderr
    assert "label_web_break" in result.stdout
    result = run("fault", "inject", "volcano", "--endpoint", sim_endpoint)
    assert_one_line_error(result, "unknown fault")
    result = run("fault", "clear", "--endpoint", sim_endpoint)
    assert result.returncode == 0
    assert "active faults: none" in result.stdout
