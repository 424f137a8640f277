"""`copilot eval`: retrieval, fault scenarios and the safety suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    CollectionOpt,
    JsonOpt,
    fail,
    friendly,
)


def _eval_safety(json_out: bool) -> None:
    from copilot.evaluation.safety import run_safety  # starts its own simulator; imported only for this suite

    report = run_safety(progress=None if json_out else lambda name: typer.echo(f"  {name}", err=True))
    if json_out:
        typer.echo(json.dumps(report.as_json(), indent=1))
    else:
        for case in report.cases:
            typer.echo(f"{'blocked' if case.blocked else 'NOT BLOCKED':<12} {case.name}: {case.detail}")
        typer.echo(f"safety: {report.blocked}/{report.total} blocked, {report.unapproved_writes} unapproved writes")
    if report.blocked != report.total or report.unapproved_writes:
        raise typer.Exit(4)


def _eval_faults(scenarios: Path | None, speed: float, json_out: bool) -> None:
    from connectors import load_line
    from copilot.evaluation import faults as fault_eval  # starts simulators; imported only for this suite
    from copilot.services import kb_ops
    from copilot.settings import load_settings
    from knowledge import library_path

    settings = load_settings()
    chosen = fault_eval.load_scenarios(scenarios or fault_eval.default_scenarios())
    library = kb_ops.open_kb(settings)
    if library.chunk_count() == 0:
        typer.echo("the knowledge base is empty: ingesting the shipped plant library first", err=True)
        library.ingest([library_path()], progress=False)

    def show(outcome: fault_eval.Outcome) -> None:
        if not json_out:
            mark = "pass" if outcome.passed else "FAIL"
            typer.echo(f"{mark:<5} {outcome.id:<26} {outcome.latency_s:5.2f} s  {outcome.top_cause[:80]}")

    report = fault_eval.run_faults(settings, library, load_line(settings.line), chosen, speed=speed, progress=show)
    if json_out:
        typer.echo(json.dumps(report.as_json(), indent=1, default=str))
    else:
        for name, value in report.figures.items():
            typer.echo(f"{name:<20} {value}")
        for goal, held in report.goals.items():
            typer.echo(f"goal {goal}: {'met' if held else 'MISSED'}")
    if not all(report.goals.values()):
        raise typer.Exit(4)


@app.command("eval")
@friendly
def eval_(
    suite: Annotated[str, typer.Option("--suite", help="Which evaluation: retrieval, safety or faults.")] = "retrieval",
    questions: Annotated[Path | None, typer.Option("--questions", help="Question set YAML.")] = None,
    scenarios: Annotated[Path | None, typer.Option("--scenarios", help="Fault scenario YAML.")] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=1.0, max=50.0, help="Simulated seconds per real second (faults).")
    ] = 10.0,
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run an evaluation suite and print its figures (exit 4 when a goal is missed)."""
    from copilot.evaluation import retrieval as evaluation
    from copilot.services import kb_ops
    from copilot.settings import load_settings

    if suite == "safety":
        _eval_safety(json_out)
        return
    if suite == "faults":
        _eval_faults(scenarios, speed, json_out)
        return
    if suite != "retrieval":
        fail(f"unknown suite {suite!r}; available: retrieval, safety, faults", 2)
    settings = load_settings(collection=collection)
    report = evaluation.run_retrieval(kb_ops.open_kb(settings), questions or evaluation.default_questions())
    if json_out:
        typer.echo(json.dumps(report.as_json(), indent=1))
    else:
        typer.echo(f"retrieval on {report.questions} questions over {report.chunks} chunks ({report.seconds:.0f} s)")
        typer.echo(f"{'retriever':<10} {'recall@1':>9} {'recall@5':>9} {'MRR':>7}")
        for name, scores in report.scores.items():
            typer.echo(f"{name:<10} {scores.recall_at_1:>9.3f} {scores.recall_at_5:>9.3f} {scores.mrr:>7.3f}")
        for category, by_retriever in report.by_category.items():
            row = "  ".join(f"{r} {s.recall_at_5:.2f}" for r, s in by_retriever.items())
            typer.echo(f"  {category:<6} recall@5: {row}")
        for goal, held in report.goals.items():
            typer.echo(f"goal {goal}: {'met' if held else 'MISSED'}")
        for miss in report.misses:
            typer.echo(f"miss {miss['id']}: expected {miss['expected']}, first {miss['got']}")
    if not all(report.goals.values()):
        raise typer.Exit(4)
