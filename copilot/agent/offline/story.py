"""The story of the deviations: which are roots, which follow from them, and which setpoints people moved on purpose."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.alarms import ActiveAlarm
from connectors.cache import LiveCache
from connectors.display import clock_and_age, number
from connectors.line import LineDefinition
from copilot.agent.offline.memory import MEMORY_S, direction
from copilot.agent.offline.observe import Deviation, Observation, observe
from copilot.pipeline.actions import Action
from copilot.pipeline.states import Status

_WRITTEN = (Status.SUCCEEDED, Status.UNVERIFIED)


@dataclass(frozen=True, kw_only=True)
class OnPurpose:
    """A setpoint that holds the value an approved, executed change wrote to it."""

    tag: str
    way: str  # up or down: where the change moved it
    sentence: str  # "set 600 → 540 bottles/min by action 1a2b, approved by sam at 10:02 (12 min ago)"


@dataclass(frozen=True, kw_only=True)
class Story:
    """Every deviation of the line sorted into roots and the deviations that follow from them."""

    roots: tuple[str, ...]
    follows: dict[str, str] = field(default_factory=dict)  # a consequence and the tag it follows
    on_purpose: dict[str, str] = field(default_factory=dict)  # moved by an approved change, with why
    details: dict[str, str] = field(default_factory=dict)  # each deviation as words: "0 m/min, below normal 45 to 55"


def downstream(
    graph: Mapping[str, Sequence[str]],
    deviations: Mapping[str, Deviation],
    start: Iterable[str],
    *,
    way: str = "",
) -> dict[str, str]:
    """Deviating tags reached from `start` along the line's `follows` links, each with the tag it was reached from.

    Only a deviating tag carries the chain on: a value inside its band breaks it. With `way`, only deviations in
    that direction count (a setpoint lowered on purpose explains speeds and currents that went down, not a bearing
    that got hotter).
    """
    seen = set(start)
    reached: dict[str, str] = {}
    queue = deque(seen)
    while queue:
        parent = queue.popleft()
        for child in graph.get(parent, ()):
            deviation = deviations.get(child)
            if child in seen or deviation is None or (way and deviation.direction != way):
                continue
            seen.add(child)
            reached[child] = parent
            queue.append(child)
    return reached


def story(line: LineDefinition, observation: Observation) -> Story:
    """Roots are deviations that no other deviation explains; everything reached from them follows."""
    graph = line.followers()
    deviating = [t.name for t in line.tags if t.name in observation.deviations]
    parents: dict[str, set[str]] = {}
    for parent, children in graph.items():
        for child in children:
            parents.setdefault(child, set()).add(parent)
    roots = [t for t in deviating if not parents.get(t, set()) & observation.deviations.keys()]
    follows = downstream(graph, observation.deviations, roots)
    # Deviations that only follow each other in a loop have no root outside it: the one that reaches the most of
    # what is left is taken as the root, until every deviation is placed.
    while left := [t for t in deviating if t not in follows and t not in roots]:
        reach = {t: downstream(graph, observation.deviations, [t, *roots, *follows]) for t in left}
        best = max(left, key=lambda t: len(reach[t]))
        roots.append(best)
        follows.update(reach[best])
    return Story(
        roots=tuple(roots),
        follows={t: follows[t] for t in deviating if t in follows},
        on_purpose=dict(observation.on_purpose),
        details={t: d.detail for t, d in observation.deviations.items()},
    )


def moved_on_purpose(
    line: LineDefinition, observation: Observation, actions: Sequence[Action], *, now: float
) -> dict[str, OnPurpose]:
    """Setpoints still at the value that the newest written change of this shift gave them."""
    found: dict[str, OnPurpose] = {}
    decided: set[str] = set()
    for action in actions:  # newest first
        if action.created_at < now - MEMORY_S:
            break
        if action.tag in decided or action.status not in _WRITTEN:
            continue
        decided.add(action.tag)
        tag = next((t for t in line.tags if t.name == action.tag and t.setpoint is not None), None)
        reading = observation.readings.get(action.tag)
        if tag is None or tag.setpoint is None or reading is None or not reading.usable:
            continue
        if not isinstance(reading.value, int | float) or isinstance(reading.value, bool):
            continue
        if abs(float(reading.value) - action.new_value) > tag.setpoint.tolerance:
            continue  # moved again since, by hand or by the control system: the change no longer explains it
        way = direction(action.old_value, action.new_value)
        if not way or tag.normal is None or action.old_value is None:
            continue
        low, high = tag.normal.low, tag.normal.high
        if max(low - action.new_value, 0.0, action.new_value - high) <= max(
            low - action.old_value, 0.0, action.old_value - high
        ):
            # A step back toward normal is a remedy under way: what is still off is the fault's, not the change's.
            continue
        approvers = [a.user for a in action.approvals if a.decision == "approve"]
        at = max((a.at for a in action.approvals if a.decision == "approve"), default=action.created_at)
        change = f"{number(action.old_value, tag.unit, tag.resolution)} → {tag.shown(action.new_value)}"
        found[action.tag] = OnPurpose(
            tag=action.tag,
            way=way,
            sentence=(
                f"set {change} by action {action.id[:8]}, approved by {', '.join(approvers) or action.requested_by} "
                f"at {clock_and_age(at, now)}"
            ),
        )
    return found


def settle(line: LineDefinition, observation: Observation, on_purpose: Mapping[str, OnPurpose]) -> Observation:
    """The observation without what people did on purpose: the moved setpoints and what followed them the same way.

    A deviation that an approved change explains is not a fault, and must neither flag a tile nor count as
    evidence for a cause; a deviation the other way still counts.
    """
    if not on_purpose:
        return observation
    graph = line.followers()
    explained: dict[str, str] = {}
    for tag, change in on_purpose.items():
        explained[tag] = f"set on purpose: {change.sentence}"
        for child, parent in downstream(graph, observation.deviations, [tag], way=change.way).items():
            explained.setdefault(child, f"follows {parent}, moved on purpose by the change to {tag}")
    deviations = {t: d for t, d in observation.deviations.items() if t not in explained}
    return replace(observation, deviations=deviations, on_purpose={**observation.on_purpose, **explained})


def observe_settled(
    line: LineDefinition,
    cache: LiveCache,
    alarms: list[ActiveAlarm],
    actions: Sequence[Action],
    *,
    now: datetime,
    window_s: float = 120.0,
) -> Observation:
    """The line now, less what approved changes of this shift moved on purpose."""
    seen = observe(line, cache, alarms, window_s=window_s, now=now)
    return settle(line, seen, moved_on_purpose(line, seen, actions, now=now.timestamp()))


def line_story(
    line: LineDefinition, cache: LiveCache, alarms: list[ActiveAlarm], actions: Sequence[Action], *, now: datetime
) -> Story:
    """What the Line page shows: the roots flagged, what follows them marked as such, changes made on purpose."""
    return story(line, observe_settled(line, cache, alarms, actions, now=now))
