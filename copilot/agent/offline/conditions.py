"""A remedy's step conditions judged against the live line: met, not met, or for a person to check, with the value."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from connectors.cache import LiveCache
from connectors.line import LineDefinition, Tag
from copilot.agent.offline.observe import BAND_MARGIN, Observation, trend
from knowledge.citations import RecordHit
from knowledge.steps import Condition, ConditionKind, Step

# A trend "keeps rising" when, over this window, it moved by this share of its normal band (or of its value where
# there is no band) the way the words say: less than that is noise on a flat line.
TREND_WINDOW_S = 120.0
TREND_SHARE = 0.1
# "stays above": every good sample of this window, not one reading.
LASTING_WINDOW_S = 60.0
_WORD = re.compile(r"[a-z0-9]+")
_IGNORED = {"the", "a", "an", "of", "its", "at", "on", "in", "to", "and", "value", "reading"}


class State(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    CHECK = "check"  # no reading or wording can settle it: a person judges


@dataclass(frozen=True, kw_only=True)
class JudgedStep:
    """A step with its condition's verdict, as the answer shows it."""

    step: Step
    state: State  # MET for a step without a condition
    detail: str  # the value that settled it, or why it could not be settled

    @property
    def conditional(self) -> bool:
        return self.step.condition is not None

    def as_json(self) -> dict[str, object]:
        return {**self.step.as_json(), "state": self.state.value, "detail": self.detail}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _IGNORED}


def _alike(word: str, token: str) -> bool:
    # "temperature" and "temp", "rejects" and "reject": plant tag names shorten the words manuals write out.
    return word == token or (min(len(word), len(token)) >= 4 and (word[:4] == token[:4]))


def resolve(condition: Condition, record: RecordHit, line: LineDefinition) -> tuple[Tag | None, str]:
    """The tag a condition is about: named, or found from its words and unit among the record's tags."""
    known = {t.name: t for t in line.tags}
    if condition.tag:
        found = known.get(condition.tag)
        return (found, "") if found else (None, f"{condition.tag} is not a tag of this line")
    words = _words(condition.subject)
    if not words:
        return None, f"cannot tell which reading {condition.subject or 'it'!r} means"
    related = [known[t] for t in record.related_tags if t in known]
    nearby = [t for t in line.tags if t.equipment == record.equipment and t not in related]
    # The row's own tags first: "the temperature" in the bearing row is the bearing's, not any filler temperature.
    for pool in (related, nearby):
        tag, why = _best(condition, words, pool)
        if tag is not None or why:
            return tag, why
    return None, f"no reading of this line matches {condition.subject!r}"


def _best(condition: Condition, words: set[str], pool: list[Tag]) -> tuple[Tag | None, str]:
    wants_setpoint = bool(words & {"setpoint", "sp"})
    scored: list[tuple[int, Tag]] = []
    for tag in pool:
        if condition.unit and tag.unit.replace(" ", "") != condition.unit.replace(" ", ""):
            continue
        if (tag.setpoint is not None) != wants_setpoint:
            continue
        # A word in the tag's own name counts twice one in its description: "the product" in °C is
        # filler.product_temp, not the chiller temperature whose description mentions the product cooler.
        named = _words(tag.name.replace(".", " ").replace("_", " "))
        described = _words(tag.description)
        score = sum(
            2 if any(_alike(w, t) for t in named) else 1 if any(_alike(w, t) for t in described) else 0 for w in words
        )
        if score:
            scored.append((score, tag))
    if not scored:
        return None, ""
    best = max(score for score, _ in scored)
    top = [tag for score, tag in scored if score == best]
    if len(top) > 1:
        return None, f"{condition.subject!r} could mean {', '.join(t.name for t in top[:3])}"
    return top[0], ""


def _shown(tag: Tag, value: float) -> str:
    return f"{tag.name} {tag.shown(value)}"


def _compare(value: float, op: str, limit: float) -> bool:
    return {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[op]


def judge(
    step: Step,
    record: RecordHit,
    line: LineDefinition,
    observation: Observation,
    cache: LiveCache,
    now: datetime,
) -> JudgedStep:
    """Settle a step's condition from fresh GOOD readings only; anything else is left for a person."""
    condition = step.condition
    if condition is None:
        return JudgedStep(step=step, state=State.MET, detail="")
    if condition.kind is ConditionKind.UNCLEAR:
        return JudgedStep(step=step, state=State.CHECK, detail="the condition is in words no reading settles")
    if condition.kind is ConditionKind.ALARM:
        active = {a.code for a in observation.alarms}
        met = condition.code in active
        return JudgedStep(
            step=step,
            state=State.MET if met else State.NOT_MET,
            detail=f"alarm {condition.code} is {'active' if met else 'not active'}",
        )
    tag, why = resolve(condition, record, line)
    if tag is None:
        return JudgedStep(step=step, state=State.CHECK, detail=why)
    reading = observation.readings.get(tag.name)
    if reading is None or not reading.usable or not isinstance(reading.value, int | float):
        reason = observation.unusable.get(tag.name, "not a number")
        return JudgedStep(step=step, state=State.CHECK, detail=f"{tag.name} cannot be judged: {reason}")
    value = float(reading.value)
    if not math.isfinite(value):
        return JudgedStep(step=step, state=State.CHECK, detail=f"{tag.name} reads {value}")
    if condition.kind is ConditionKind.THRESHOLD and condition.value is not None:
        return _threshold(step, condition, tag, value, cache, now)
    if condition.kind is ConditionKind.TREND:
        return _trend(step, condition, tag, value, cache, now)
    return _band(step, condition, tag, value)


def _threshold(step: Step, c: Condition, tag: Tag, value: float, cache: LiveCache, now: datetime) -> JudgedStep:
    assert c.value is not None
    limit = f"{c.op} {c.value:g}{(' ' + c.unit) if c.unit else ''}"
    if c.lasting:
        # "stays above 3 mm/s": the whole last minute must agree, so one spike does not replace a bearing.
        window = trend(cache, tag, window_s=LASTING_WINDOW_S, now=now)
        if window.good_samples >= 3 and window.minimum is not None and window.maximum is not None:
            worst = window.minimum if c.op.startswith(">") else window.maximum
            met = _compare(worst, c.op, c.value)
            lowest = "lowest" if c.op.startswith(">") else "highest"
            detail = f"{_shown(tag, value)} now, {tag.shown(worst)} at its {lowest}"
            return JudgedStep(
                step=step,
                state=State.MET if met else State.NOT_MET,
                detail=f"{detail} over the last {LASTING_WINDOW_S:g} s ({'' if met else 'not '}{limit})",
            )
    met = _compare(value, c.op, c.value)
    return JudgedStep(
        step=step,
        state=State.MET if met else State.NOT_MET,
        detail=f"{_shown(tag, value)} ({'' if met else 'not '}{limit})",
    )


def _trend(step: Step, c: Condition, tag: Tag, value: float, cache: LiveCache, now: datetime) -> JudgedStep:
    window = trend(cache, tag, window_s=TREND_WINDOW_S, now=now)
    if window.good_samples < 5 or window.first is None or window.last is None:
        return JudgedStep(step=step, state=State.CHECK, detail=f"too few readings of {tag.name} to see a trend")
    scale = (tag.normal.high - tag.normal.low) if tag.normal is not None else abs(window.mean or value) * 0.2
    change = window.last - window.first
    signed = change if c.direction == "rising" else -change
    met = scale > 0 and signed >= TREND_SHARE * scale
    moved = "rose" if change > 0 else "fell"
    detail = f"{_shown(tag, value)}, {moved} by {tag.shown(abs(change))} in the last {TREND_WINDOW_S:g} s"
    return JudgedStep(step=step, state=State.MET if met else State.NOT_MET, detail=detail)


def _band(step: Step, c: Condition, tag: Tag, value: float) -> JudgedStep:
    band = tag.normal
    if band is None:
        return JudgedStep(step=step, state=State.CHECK, detail=f"{tag.name} has no normal band to judge 'high' by")
    margin = BAND_MARGIN * (band.high - band.low)
    where = "high" if value > band.high + margin else "low" if value < band.low - margin else "normal"
    met = where == c.direction or (c.direction == "out of band" and where != "normal")
    detail = f"{_shown(tag, value)}, {where} against normal {band.low:g} to {band.high:g}"
    return JudgedStep(step=step, state=State.MET if met else State.NOT_MET, detail=detail)
