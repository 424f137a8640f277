"""`copilot ask`: a question to the co-pilot from the shell."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from copilot.cli.app import app
from copilot.cli.common import (
    AsOpt,
    EndpointOpt,
    JsonOpt,
    LineOpt,
    friendly,
    line_settings,
    login,
)
from copilot.untrusted import plain


@app.command()
@friendly
def ask(
    question: str,
    as_user: AsOpt,
    thread: Annotated[str, typer.Option("--thread", help="Conversation id; the same id continues it.")] = "cli",
    observe: Annotated[
        float, typer.Option("--observe", min=0.0, max=600.0, help="Seconds to watch the line before answering.")
    ] = 5.0,
    endpoint: EndpointOpt = None,
    line: LineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask the co-pilot about the line; it answers with causes, citations, the readings it used and proposals."""
    from copilot.services import pipeline_ops

    ctx = pipeline_ops.open_context(line_settings(endpoint, line))
    from copilot.services import ask_ops  # LangGraph and a model client: seconds of imports only `ask` needs

    answer = ask_ops.ask(ctx, login(ctx, as_user), question, thread_id=thread, observe_s=observe)
    if json_out:
        typer.echo(json.dumps(answer.as_json(), indent=2, default=str))
        return
    label = "offline diagnosis engine" if answer.provider == "offline" else f"{answer.provider}: {answer.model}"
    # The answer quotes the question, documents and tag names: plain() keeps escape sequences off the terminal.
    typer.echo(plain(answer.text))
    for sentence in answer.unverified:
        typer.echo(f"  UNVERIFIED: {plain(sentence)}")
    for i, citation in enumerate(answer.citations, start=1):
        typer.echo(f"  [{i}] {plain(citation.where())}")
    for proposal in answer.proposals:
        typer.echo(
            f"  proposal {proposal.action_id[:8]} {plain(proposal.tag)} -> {proposal.proposed:g} "
            f"{plain(proposal.unit)}: {proposal.status}"
        )
    typer.echo(f"({label}, {answer.latency_s:.2f} s)")
