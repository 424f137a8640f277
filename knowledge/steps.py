"""A remedy read as ordered steps: what to do, to which tag, and the condition under which it applies."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from knowledge.records import TAG_NAME


class StepKind(StrEnum):
    ADJUST = "adjust"  # change a setpoint by or to an amount
    REPLACE = "replace"  # replace a part
    STOP = "stop"  # stop or lock out equipment
    MAINTENANCE = "maintenance"  # call, plan or schedule people and stops
    INSPECT = "inspect"  # look, check, compare, ask
    AVOID = "avoid"  # "do not change ...": a setpoint the remedy forbids touching
    OTHER = "other"

    @property
    def escalates(self) -> bool:
        """A step no setpoint stopgap can stand in for once its condition is met."""
        return self in (StepKind.REPLACE, StepKind.STOP, StepKind.MAINTENANCE)


class ConditionKind(StrEnum):
    THRESHOLD = "threshold"  # a measurement against a value
    TREND = "trend"  # a measurement that keeps rising or falling
    ALARM = "alarm"  # an alarm code active
    BAND = "band"  # a measurement high, low or normal against its normal band
    UNCLEAR = "unclear"  # a condition in words no reading can settle: a person judges it


@dataclass(frozen=True, kw_only=True)
class Condition:
    """When a step applies, as written and as far as it could be read."""

    kind: ConditionKind
    text: str  # the clause as written, with its word: "if `capper.reject_rate` exceeds 1 %"
    tag: str = ""  # the tag the clause names, or the one "it" refers to
    subject: str = ""  # the words for what is measured when no tag is named: "vibration", "the product"
    op: str = ""  # >, >=, <, <=
    value: float | None = None
    unit: str = ""
    direction: str = ""  # rising or falling for a trend; high, low or normal for a band
    code: str = ""  # for an alarm
    lasting: bool = False  # "stays above": the whole recent window, not one reading


@dataclass(frozen=True, kw_only=True)
class Step:
    """One thing a remedy asks for, in the order it asks."""

    order: int
    text: str
    kind: StepKind
    tags: tuple[str, ...]  # every tag the step names
    condition: Condition | None  # None: the step applies as it stands
    urgent: bool  # "at once", "immediately"
    tag: str = ""  # for an adjustment: the setpoint
    how: str = ""  # "by" or "to"
    amount: float | None = None  # signed for "by": "reduce ... by 4" is -4

    def as_json(self) -> dict[str, Any]:
        # Plain strings for the kinds: answers are stored as JSON in the conversation's checkpoints.
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return data


_SENTENCE = re.compile(r"(?<=[.;])\s+(?=[A-Za-z`(])")
# "…, and if the product stays above 10 °C reduce …": a second step with its own condition in the same sentence.
_CLAUSE = re.compile(r",\s+(?:and|then|or)\s+(?=(?:if|when|unless|until|once)\b)", re.IGNORECASE)
_ADJUSTMENT = re.compile(
    r"\b(?P<verb>reduce|lower|decrease|raise|increase)\s+`?(?P<tag>[a-z][a-z0-9_]*\.[a-z0-9_]+)`?\s+"
    r"(?P<how>by|to)\s+(?P<amount>\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_AVOID = re.compile(r"\b(do not|don't|never)\s+(change|touch|raise|lower|adjust|reduce|increase)\b", re.IGNORECASE)
_KIND_WORDS: tuple[tuple[StepKind, re.Pattern[str]], ...] = (
    (StepKind.REPLACE, re.compile(r"\b(replace|renew|fit a new|change the (bearing|seal|clutch|blade|knife))", re.I)),
    (StepKind.STOP, re.compile(r"\b(stop the|stop at|lock out|shut down|shut off|isolate|close the product)", re.I)),
    (
        StepKind.MAINTENANCE,
        re.compile(r"\b(call|have (the|a)\b.*\btechnician|plan a|schedule|inform|notify|bearing change)", re.I),
    ),
    (StepKind.INSPECT, re.compile(r"\b(check|compare|look|listen|watch|ask|walk|inspect|verify|find)\b", re.I)),
)
_URGENT = re.compile(r"\b(at once|immediately|without delay|right away)\b", re.IGNORECASE)
# The condition word and its clause: up to a comma, the end, or the verb of the step it governs.
_CONDITION = re.compile(
    r"(?<!at )\b(?P<word>only if|if|unless|when|until|once|provided(?: that)?)\s+(?P<clause>.+?)"
    r"(?=,|;|\.$|$|\s+(?:reduce|lower|raise|increase|stop|replace|call|look|check|lock|close|plan)\b)",
    re.IGNORECASE,
)
_NUMBER = r"(?P<value>-?\d+(?:[.,]\d+)?)\s*(?P<unit>°C|%|[A-Za-z³²·/]+)?"
_ABOVE = {
    "reaches": ">=",
    "is at or above": ">=",
    "exceeds": ">",
    "is above": ">",
    "goes above": ">",
    "rises above": ">",
    "stays above": ">",
    "is back above": ">",
    "is over": ">",
    "is more than": ">",
    "is higher than": ">",
    "is below": "<",
    "falls below": "<",
    "drops below": "<",
    "stays below": "<",
    "goes below": "<",
    "is back below": "<",
    "is under": "<",
    "is less than": "<",
    "is at or below": "<=",
}
_THRESHOLD = re.compile(
    r"^(?P<subject>.+?)\s+(?P<verb>" + "|".join(sorted(_ABOVE, key=len, reverse=True)) + r")\s+" + _NUMBER,
    re.IGNORECASE,
)
_TREND = re.compile(
    r"^(?P<subject>.+?)\s+(?:keeps?|continues? to|is still|goes on)\s+(?P<way>rising|rise|climbing|climb|"
    r"increasing|increase|falling|fall|dropping|drop|decreasing|decrease)\b",
    re.IGNORECASE,
)
_BAND = re.compile(
    r"^(?P<subject>.+?)\s+(?:is|are|reads|stays|is still|still reads)\s+"
    r"(?P<state>high|low|normal|too high|too low|hot)$",
    re.IGNORECASE,
)
_ALARM = re.compile(r"\b(?P<code>[A-Z]{2,4}-\d{3})\b")
_FLIPPED = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def _condition(word: str, clause: str, last_tag: str) -> Condition:
    text = f"{word} {clause}".strip()
    # "Until the product is below 10 °C again, lower …": the step applies while the opposite holds.
    until = word.lower() == "until"
    unless = word.lower() == "unless"
    plain_clause = clause.strip().rstrip(".").removesuffix(" again")
    if (alarm := _ALARM.search(plain_clause)) and re.search(r"\b(active|is on|sounds|comes up|raised)\b", clause):
        return Condition(kind=ConditionKind.ALARM, text=text, code=alarm["code"])
    if until or unless or word.lower() in ("if", "when", "once", "only if") or word.lower().startswith("provided"):
        if m := _THRESHOLD.match(plain_clause):
            op = _ABOVE[m["verb"].lower()]
            if until or unless:
                op = _FLIPPED[op]
            tag, subject = _subject(m["subject"], last_tag)
            return Condition(
                kind=ConditionKind.THRESHOLD,
                text=text,
                tag=tag,
                subject=subject,
                op=op,
                value=float(m["value"].replace(",", ".")),
                unit=(m["unit"] or "").strip(),
                lasting=m["verb"].lower().startswith("stays"),
            )
        if (m := _TREND.match(plain_clause)) and not (until or unless):
            tag, subject = _subject(m["subject"], last_tag)
            way = m["way"].lower()
            direction = "rising" if way.startswith(("ris", "clim", "incr")) else "falling"
            return Condition(kind=ConditionKind.TREND, text=text, tag=tag, subject=subject, direction=direction)
        if m := _BAND.match(plain_clause):
            tag, subject = _subject(m["subject"], last_tag)
            state = {"hot": "high", "too high": "high", "too low": "low"}.get(m["state"].lower(), m["state"].lower())
            if until or unless:
                state = {"high": "normal", "low": "normal"}.get(state, "out of band")
            return Condition(kind=ConditionKind.BAND, text=text, tag=tag, subject=subject, direction=state)
    return Condition(kind=ConditionKind.UNCLEAR, text=text)


def _subject(words: str, last_tag: str) -> tuple[str, str]:
    """The tag a clause names (or "it", the last tag named before it), else the words that name the quantity."""
    words = words.strip().strip("`")
    if named := TAG_NAME.findall(words):
        return named[0], ""
    if words.lower() in ("it", "this", "the value", "the reading") and last_tag:
        return last_tag, ""
    return "", words


def _kind(text: str) -> StepKind:
    if _AVOID.search(text):
        return StepKind.AVOID
    for kind, words in _KIND_WORDS:
        if words.search(text):
            return kind
    return StepKind.OTHER


def parse_steps(remedy: str) -> tuple[Step, ...]:
    """Every step of a remedy, conditions read where the wording allows; nothing is dropped.

    A step whose condition cannot be read keeps it as UNCLEAR: shown to a person to judge, never acted on.
    """
    steps: list[Step] = []
    last_tag = ""
    for sentence in _SENTENCE.split(remedy.strip()):
        for part in _CLAUSE.split(sentence):
            text = part.strip()
            if not text:
                continue
            condition_match = _CONDITION.search(text)
            condition = (
                _condition(condition_match["word"], condition_match["clause"], last_tag) if condition_match else None
            )
            named = tuple(dict.fromkeys(TAG_NAME.findall(text)))
            adjustment = _ADJUSTMENT.search(text)
            kind = StepKind.ADJUST if adjustment and not _AVOID.search(text) else _kind(text)
            tag, how, amount = "", "", None
            if kind is StepKind.ADJUST and adjustment is not None:
                tag, how, amount = adjustment["tag"], adjustment["how"].lower(), float(adjustment["amount"])
                if how == "by" and adjustment["verb"].lower() in ("reduce", "lower", "decrease"):
                    amount = -amount
            steps.append(
                Step(
                    order=len(steps) + 1,
                    text=text,
                    kind=kind,
                    tags=named,
                    condition=condition,
                    urgent=bool(_URGENT.search(text)),
                    tag=tag,
                    how=how,
                    amount=amount,
                )
            )
            if named:
                last_tag = named[-1]
    return tuple(steps)


def adjustments(steps: tuple[Step, ...]) -> list[Step]:
    """The setpoint changes among the steps, in order."""
    return [s for s in steps if s.kind is StepKind.ADJUST]


def moves(remedy: str) -> dict[str, str]:
    """Which way the remedy moves each setpoint it changes "by" an amount, unconditionally: tag -> "up" or "down"."""
    return {
        s.tag: ("up" if s.amount > 0 else "down")
        for s in adjustments(parse_steps(remedy))
        if s.how == "by" and s.amount is not None and s.condition is None
    }
