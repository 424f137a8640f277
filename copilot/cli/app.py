"""The `copilot` command itself: its help, its verbosity, and nothing any command group needs to import."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

app = typer.Typer(
    help="Line-side co-pilot: simulate a line, discover and watch its tags.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log connection events.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # asyncua logs every failed reconnect attempt; our connector logs the loss and the recovery once.
        logging.getLogger("asyncua").setLevel(logging.CRITICAL)
