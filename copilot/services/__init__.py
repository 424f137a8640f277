"""One service per capability (line, knowledge, actions, ask, demo): the API the CLI and the console share."""

# Each service is imported on its own (`from copilot.services import line_ops`): `ask` pulls in the agent,
# `kb_ops` the embedding model, and a command should pay only for what it uses.
__all__ = ["ask_ops", "demo_ops", "kb_ops", "line_ops", "pipeline_ops"]
