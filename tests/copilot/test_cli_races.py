"""The race people ran by hand: `copilot approve` and `copilot reject` started together, as separate processes.

The two racers are real processes on purpose (races are tested with real processes racing: two shells share no
locks, caches or connection pools); the setup and the checks around them run in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from copilot.pipeline.db import Database
from copilot.pipeline.states import Role
from copilot.pipeline.users import add_user
from tests.copilot.test_cli_pipeline import SECRET, line_endpoint, run  # noqa: F401  (fixture)

COPILOT = [sys.executable, "-m", "copilot"]


def _start(data: Path, endpoint: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COPILOT_DATA_DIR": str(data), "COPILOT_PASSWORD": SECRET, "COPILOT_ENDPOINT": endpoint}
    return subprocess.Popen(
        [*COPILOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=data.parent
    )


@pytest.mark.slow
def test_approve_and_reject_at_once_from_two_shells(
    tmp_path: Path,
    line_endpoint: str,  # noqa: F811
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("COPILOT_DATABASE_URL", db_url)
    db = Database(db_url)
    for name, role in (("olga", Role.OPERATOR), ("otto", Role.OPERATOR), ("sam", Role.SUPERVISOR)):
        add_user(db, name, role, SECRET, by="test", at=time.time())
    db.dispose()
    results = {}
    for race, (first, second) in enumerate(
        [
            (("approve", "{id}", "--as", "otto"), ("reject", "{id}", "--as", "sam", "--reason", "not now")),
            (("approve", "{id}", "--as", "otto"), ("approve", "{id}", "--as", "otto")),
        ]
    ):
        proposed = run(
            data,
            "propose",
            "filler.bowl_level_sp",
            str(50 + race),
            "--as",
            "olga",
            "--reason",
            "level",
            "--json",
            endpoint=line_endpoint,
        )
        assert proposed.returncode == 0, proposed.stderr
        action_id = json.loads(proposed.stdout)["id"]
        both = [_start(data, line_endpoint, *(a.format(id=action_id) for a in cmd)) for cmd in (first, second)]
        outs = [p.communicate(timeout=120) for p in both]
        codes = [p.returncode for p in both]
        shown = json.loads(run(data, "actions", "show", action_id, "--json").stdout)
        results[race] = (codes, outs, shown)
        # Exactly one of the two won; the other was told who decided first, with no traceback.
        assert sorted(codes) == [0, 1], outs
        loser = outs[codes.index(1)][1]
        assert "already decided" in loser or "counts once per person" in loser, loser
        assert "Traceback" not in loser
        decisions = [a for a in shown["approvals"] if a["user"] == "otto"]
        assert len(decisions) == (1 if race == 1 else len(decisions)) <= 1, shown["approvals"]
        if shown["status"] == "rejected":
            # The rejection won: nothing may have been written, whatever the approver's process printed.
            assert shown["read_back"] is None
        else:
            assert shown["status"] == "succeeded", shown
    verified = run(data, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
