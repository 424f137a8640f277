"""The subscription benchmark end to end at a small size: simulator and both clients as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmark_reports_both_modes_and_their_ratio(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    command = [sys.executable, "-m", "evals.bench_subscription", "--tags", "200", "--seconds", "3", "--warmup", "0.5"]
    result = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    [row] = [r for r in report["results"] if r["tags"] == 200]
    for mode in ("bare", "ours"):
        assert row[mode]["client"]["mode"] == mode
        assert row[mode]["client"]["updates_per_s"] > 0, row[mode]
    assert row["ratio"] > 0
    assert row["ours"]["client"]["samples_stored"] > 0
    assert report["machine"]["asyncua"]
    assert "| 200 | ours |" in result.stdout  # the table a person reads
