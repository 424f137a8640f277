"""The offline provider: observe the line, match the troubleshooting records, rank causes and remedies."""

__all__ = ["diagnosis", "engine", "observe", "remedies"]
