"""Policy: deterministic rules from the line definition that a setpoint change must pass; never the LLM's call."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.line import LineDefinition, Tag
from connectors.readings import Quality, Reading


@dataclass(frozen=True, kw_only=True)
class LineSnapshot:
    """What policy sees of the line at one moment: readings with their quality and whether it is connected."""

    available: bool
    readings: Mapping[str, Reading | None]

    def reading(self, tag: str) -> Reading | None:
        return self.readings.get(tag)


@dataclass(frozen=True, kw_only=True)
class PolicyDecision:
    reasons: list[str]
    tag: Tag | None
    current: float | None

    @property
    def allowed(self) -> bool:
        return not self.reasons


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float, e.g. 10**400 from a JSON tool call
        return None
    return number if math.isfinite(number) else None


def _fresh(reading: Reading | None) -> bool:
    return reading is not None and reading.quality is Quality.GOOD


def check(
    line: LineDefinition,
    tag_name: str,
    new_value: object,
    snapshot: LineSnapshot,
    *,
    recent_changes: int,
    shift_start_value: float | None = None,
) -> PolicyDecision:
    """Every reason the change may not be made; an empty list means policy allows it.

    `shift_start_value` is the setpoint's value when the shift began, if it was written since; without it the
    current value is where the shift started.
    """
    reasons: list[str] = []
    tag = next((t for t in line.tags if t.name == tag_name), None)
    if tag is None:
        return PolicyDecision(
            reasons=[f"{tag_name!r} is not a tag of line {line.line.id} (one tag per proposal)"], tag=None, current=None
        )
    if tag.safety_critical:
        reasons.append(f"{tag.name} is safety-critical; the co-pilot never changes it")
    if tag.setpoint is None:
        reasons.append(f"{tag.name} is a measurement, not a setpoint")
    elif not tag.setpoint.writable:
        reasons.append(f"{tag.name} is not marked writable for the co-pilot in the line definition")
    value = _number(new_value)
    if value is None:
        reasons.append(f"{new_value!r} is not a finite number")
    elif tag.data_type.is_integer and not float(value).is_integer():
        reasons.append(f"{tag.name} holds whole numbers ({tag.data_type.value}); {value} is not one")
    current_reading = snapshot.reading(tag.name)
    current = _number(current_reading.value) if current_reading is not None else None
    if value is not None and tag.setpoint is not None:
        sp = tag.setpoint
        if tag.eu_range is not None and not tag.eu_range.contains(value):
            reasons.append(f"{value} {tag.unit} is outside the EURange {tag.eu_range.low}..{tag.eu_range.high}")
        if not sp.envelope.contains(value):
            reasons.append(
                f"{value} {tag.unit} is outside the site operating envelope {sp.envelope.low}..{sp.envelope.high}"
            )
        if current is not None and abs(value - current) > sp.max_step + 1e-9:
            reasons.append(
                f"a change of {abs(value - current):g} {tag.unit} is more than the maximum step of {sp.max_step:g}"
            )
        reasons.extend(history_reasons(tag, value, recent_changes=recent_changes, shift_start_value=shift_start_value))
    if not snapshot.available:
        reasons.append("the line is unavailable: no live connection")
    if not _fresh(current_reading):
        quality = current_reading.quality.value if current_reading is not None else "no reading"
        reasons.append(f"the current value of {tag.name} is not trustworthy ({quality})")
    if tag.setpoint is not None:
        for other in dict.fromkeys([*tag.setpoint.related, *tag.setpoint.drives]):
            reading = snapshot.reading(other)
            if not _fresh(reading):
                quality = reading.quality.value if reading is not None else "no reading"
                reasons.append(f"related measurement {other} is not trustworthy ({quality})")
    return PolicyDecision(reasons=reasons, tag=tag, current=current)


def history_reasons(tag: Tag, value: float, *, recent_changes: int, shift_start_value: float | None) -> list[str]:
    """The rules that depend on the writes before this one: the shift's summed change and the hourly rate.

    The executor asks again inside the transaction that commits to writing, so two changes executed at once cannot
    both pass on the same count.
    """
    sp = tag.setpoint
    if sp is None:
        return []
    reasons = []
    # Summed over the shift, so four steps of 0.1 cannot walk a setpoint where one step of 0.4 may not go. With
    # no write yet this shift the step rule is the same test (a shift allows at least one full step).
    limit = sp.max_shift_change if sp.max_shift_change is not None else sp.max_step
    if shift_start_value is not None and abs(value - shift_start_value) > limit + 1e-9:
        reasons.append(
            f"{tag.name} started this shift at {shift_start_value:g} {tag.unit}; {value:g} would move it "
            f"{abs(value - shift_start_value):g} from there, more than the {limit:g} one shift allows"
        )
    if recent_changes >= sp.max_changes_per_hour:
        reasons.append(
            f"{tag.name} was changed {recent_changes} times in the last hour (limit {sp.max_changes_per_hour})"
        )
    return reasons


def as_number(value: object) -> float:
    """The value as a float for storage; NaN for anything that is not a finite number (policy refuses those)."""
    number = _number(value)
    return float("nan") if number is None else number


# A setpoint as people write it: digits, one optional point, an optional exponent. No `5_1` (Python reads 51),
# no `0x10`, no words such as `nan` or `infinity`.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_value(text: str) -> float:
    """A typed setpoint as a float (possibly inf for 1e309, which policy then refuses); ValueError if not a number."""
    cleaned = text.strip()
    if not _DECIMAL.fullmatch(cleaned):
        raise ValueError(f"{cleaned[:40]!r} is not a number; write it like 51 or 5.1")
    return float(cleaned)
