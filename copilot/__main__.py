"""`python -m copilot` runs the same command as the `copilot` script."""

from copilot.cli import run

run()
