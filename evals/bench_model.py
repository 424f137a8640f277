"""The fault scenarios answered by a real language model (llama.cpp, Gemma 3 270M): how much of its text holds."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from connectors.simulator.thread import free_port
from copilot.evaluation.faults import default_scenarios
from evals.llama_server import MODEL_ALIAS, serving

ROOT = Path(__file__).resolve().parents[1]
# The joined model is kept where the tests keep it, so it is assembled once per checkout.
MODEL_DIR = ROOT / ".pytest_cache" / "d" / "llm-model"
# One scenario per kind of question: a cause to explain, a met stop condition, a remembered rejection, a healthy
# line. The model writes the text of each answer; the grounding and the proposals stay the engine's.
DEFAULT_IDS = (
    "infeed-jam",
    "capper-clutch",
    "filler-leak",
    "chiller-warm-product",
    "bearing-past-stop-limit",
    "leak-after-rejection",
    "jam-stops-the-line",
    "healthy-anything-wrong",
)


def subset(ids: list[str], folder: Path) -> Path:
    """A scenario file holding the chosen shipped scenarios, in the order given."""
    shipped = {s["id"]: s for s in yaml.safe_load(default_scenarios().read_text(encoding="utf-8"))}
    unknown = [i for i in ids if i not in shipped]
    if unknown:
        raise SystemExit(f"no shipped scenario {', '.join(unknown)}; see `copilot eval --suite faults`")
    path = folder / "scenarios.yaml"
    path.write_text(yaml.safe_dump([shipped[i] for i in ids], sort_keys=False), encoding="utf-8")
    return path


def run(ids: list[str], speed: float, max_tokens: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="copilot-model-eval-") as tmp:
        folder = Path(tmp)
        scenarios = subset(ids, folder)
        MODEL_DIR.mkdir(parents=True, exist_ok=True)
        with serving(MODEL_DIR, folder / "server.log", free_port()) as base_url:
            env = {
                **os.environ,
                "HF_HUB_OFFLINE": "1",
                "COPILOT_DATA_DIR": str(folder / "data"),
                "COPILOT_PROVIDER": "openai",
                "COPILOT_LLM_BASE_URL": base_url,
                "COPILOT_LLM_MODEL": MODEL_ALIAS,
                "COPILOT_LLM_MAX_TOKENS": str(max_tokens),
                "COPILOT_LLM_TIMEOUT_S": "300",
            }
            command = [sys.executable, "-m", "copilot", "eval", "--suite", "faults", "--json"]
            command += ["--scenarios", str(scenarios), "--speed", str(speed)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 4):  # 4: a goal missed, which is a figure here
            raise SystemExit(f"the fault evaluation failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        report: dict[str, Any] = json.loads(done.stdout)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", nargs="*", default=list(DEFAULT_IDS), help="shipped scenario ids")
    parser.add_argument("--speed", type=float, default=10.0, help="simulated seconds per second")
    parser.add_argument("--max-tokens", type=int, default=160, help="tokens per model reply")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args()
    report = run(args.scenarios, args.speed, args.max_tokens)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    outcomes = report["outcomes"]
    for o in outcomes:
        shown = f"{o['unverified']:>2} of {o['sentences']:>2} sentences unverified"
        print(f"{o['id']:<28} {shown}  {o['latency_s']:6.1f} s")
    figures = report["figures"]
    sentences = sum(o["sentences"] for o in outcomes)
    unverified = sum(o["unverified"] for o in outcomes)
    print(f"unverified sentence rate: {figures['unverified_sentence_rate']} ({unverified} of {sentences})")
    for name in ("top1", "proposal_correct", "unsafe_proposals", "latency_p50_s", "latency_p95_s"):
        print(f"{name:<24} {figures[name]}")


if __name__ == "__main__":
    main()
