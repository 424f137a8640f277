"""`copilot ingest`, `search` and `records`: the plant library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    CollectionOpt,
    JsonOpt,
    echo_json,
    friendly,
)
from copilot.untrusted import plain


@app.command()
@friendly
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest manuals and work instructions; unchanged files are skipped, removed ones leave the index.

    Exit 0 when every file was read, 3 when some were skipped (listed with the reason).
    """
    from copilot.services import kb_ops
    from copilot.settings import load_settings

    settings = load_settings(collection=collection)
    summary = kb_ops.ingest(settings, paths, progress=not json_out)
    if json_out:
        typer.echo(json.dumps(summary.as_json(), indent=1))
    else:
        files = len([o for o in summary.outcomes if o.status != "removed"])
        typer.echo(
            f"{files} files: {summary.count('added')} added, {summary.count('replaced')} replaced, "
            f"{summary.count('unchanged')} unchanged, {summary.count('removed')} removed, "
            f"{len(summary.skipped)} skipped; {summary.chunks} chunks and {summary.records} records written "
            f"in {summary.seconds:.1f} s; the collection now holds {summary.total_chunks} chunks "
            f"and {summary.total_records} records"
        )
        for outcome in summary.skipped:
            typer.echo(f"skipped {plain(str(outcome.source))}: {plain(outcome.reason)}")
    if summary.skipped:
        raise typer.Exit(3)


@app.command()
@friendly
def search(
    query: Annotated[str, typer.Argument(help="What to look for: symptom, alarm code, question.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many passages.")] = 5,
    collection: CollectionOpt = None,
    equipment: Annotated[str | None, typer.Option("--equipment", help="Only this equipment, e.g. filler.")] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="Only this document type, e.g. manual.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search the knowledge base; every result is a citation."""
    from copilot.services import kb_ops
    from copilot.settings import load_settings

    loading_notice()

    settings = load_settings(collection=collection)
    hits = kb_ops.search(settings, query, k=k, equipment=equipment, doc_type=doc_type)
    if json_out:
        echo_json([h.as_json() for h in hits])
        return
    if not hits:
        typer.echo("no passage found; is the knowledge base ingested (`copilot ingest`)?")
    for rank, hit in enumerate(hits, 1):
        # Titles, sources and passages come from documents: plain() keeps their escape sequences off the terminal.
        typer.echo(f"{rank}. {plain(hit.where())}  [{hit.score:.3f}]  {plain(hit.source)}")
        typer.echo("   " + plain(hit.text).replace("\n", "\n   "))


@app.command()
@friendly
def records(
    query: Annotated[str | None, typer.Argument(help="A symptom to match; all records when omitted.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Alarm code, e.g. CAP-301.")] = None,
    equipment: Annotated[str | None, typer.Option("--equipment", help="Only this equipment.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 10,
    collection: CollectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Troubleshooting records (cause and remedy) by alarm code or symptom."""
    from copilot.services import kb_ops
    from copilot.settings import load_settings

    loading_notice()

    settings = load_settings(collection=collection)
    hits = kb_ops.records(settings, query, code=code, equipment=equipment, k=k)
    if json_out:
        echo_json([h.as_json() for h in hits])
        return
    if not hits:
        typer.echo("no record found")
    for hit in hits:
        head = plain(f"{hit.code} {hit.symptom}".strip())
        typer.echo(f"- {head}\n  cause: {plain(hit.cause)}\n  remedy: {plain(hit.remedy)}")
        typer.echo(f"  source: {plain(hit.title)}, {plain(hit.section)}")


def loading_notice() -> None:
    """Tell a person at a terminal why the first answer takes seconds; scripts and pipes get only the results."""
    if sys.stderr.isatty():
        # Measured by `python -m evals.bench_startup`: the embedding model (sentence-transformers, torch) and Chroma
        # are most of a search's time in a fresh process; the console keeps them loaded.
        typer.echo("loading the index and the embedding model: a few seconds in a new process...", err=True)
