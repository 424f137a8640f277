"""The co-pilot: the action pipeline, the agent, the services the CLI and console call, and the evaluations."""

# The rooms are imported where they are used (`from copilot.pipeline import ...`), so `import copilot` stays light.
__all__ = ["agent", "cli", "errors", "evaluation", "pipeline", "services", "settings", "untrusted"]
