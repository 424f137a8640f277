"""Setpoint changes that a troubleshooting remedy asks for, read from its sentences."""

from __future__ import annotations

import re

# "Reduce `infeed.speed_sp` by 4 m/min", "raise line.speed_sp to 600": a remedy that is a setpoint change.
_ADJUSTMENT = re.compile(
    r"\b(?P<verb>reduce|lower|decrease|raise|increase)\s+`?(?P<tag>[a-z][a-z0-9_]*\.[a-z0-9_]+)`?\s+"
    r"(?P<how>by|to)\s+(?P<amount>\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.;])\s+")


def adjustments(remedy: str) -> list[tuple[str, str, str, float]]:
    """Unconditional setpoint changes a remedy asks for, as (sentence, "by" or "to", tag, amount).

    A change "by" carries its sign: "reduce ... by 4" is -4. Steps under "if", "unless" or "when" are left out.

    A conditional step ("if jams come back, reduce ...") is for a person to judge after the first remedy, not for
    the co-pilot to draft at once.
    """
    found = []
    for sentence in _SENTENCE.split(remedy):
        if re.search(r"\b(if|unless|when)\b", sentence, re.IGNORECASE):
            continue
        for m in _ADJUSTMENT.finditer(sentence):
            verb = m["verb"].lower()
            amount = float(m["amount"])
            if m["how"].lower() == "by":
                amount = -amount if verb in ("reduce", "lower", "decrease") else amount
                found.append((sentence.strip(), "by", m["tag"], amount))
            else:
                found.append((sentence.strip(), "to", m["tag"], amount))
    return found


def moves(remedy: str) -> dict[str, str]:
    """Which way the remedy moves each setpoint it changes "by" an amount: tag -> "up" or "down"."""
    return {tag: ("up" if amount > 0 else "down") for _, how, tag, amount in adjustments(remedy) if how == "by"}
