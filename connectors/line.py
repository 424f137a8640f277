"""The line definition: equipment, tags, setpoint envelopes and alarms, loaded from YAML and validated."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors import yaml_source
from connectors.display import rounded
from connectors.errors import LineDefinitionError, TagNotFound
from connectors.lines import default_line_path as default_line_path  # its older home, still imported from here

# `nsu=<namespace uri>;s=<string id>` or `;i=<numeric id>`: the index is resolved after connecting,
# because servers number their namespaces differently.
_NODE_RE = re.compile(r"^nsu=(?P<uri>[^;]+);(?P<kind>[si])=(?P<ident>.+)$")
_TAG_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class DataType(StrEnum):
    """OPC UA built-in types a tag may carry."""

    DOUBLE = "Double"
    FLOAT = "Float"
    INT32 = "Int32"
    UINT32 = "UInt32"
    INT64 = "Int64"
    BOOLEAN = "Boolean"

    @property
    def is_numeric(self) -> bool:
        return self is not DataType.BOOLEAN

    @property
    def is_integer(self) -> bool:
        return self in (DataType.INT32, DataType.UINT32, DataType.INT64)


class AlarmKind(StrEnum):
    HIGH = "high"
    LOW = "low"
    HIGH_HIGH = "high_high"
    LOW_LOW = "low_low"
    ON = "on"  # a Boolean tag that alarms when true


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return ["low", "medium", "high", "urgent"].index(self.value)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_Model):
    """A closed interval [low, high] in engineering units."""

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            if len(data) != 2:
                raise ValueError("expected [low, high]")
            return {"low": data[0], "high": data[1]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def within(self, other: Band) -> bool:
        return other.low <= self.low and self.high <= other.high


class NodeAddress(_Model):
    """A node id addressed by namespace URI, as in `nsu=urn:plant:line1;s=Filler.BowlLevel`."""

    namespace_uri: str
    identifier: str | int

    @classmethod
    def parse(cls, text: str) -> NodeAddress:
        match = _NODE_RE.match(text.strip())
        if match is None:
            raise ValueError(f"node id {text!r} must look like 'nsu=<namespace uri>;s=<name>' or ';i=<number>'")
        ident: str | int = match["ident"]
        if match["kind"] == "i":
            if not match["ident"].isdigit():
                raise ValueError(f"numeric node id {text!r} must end in digits")
            ident = int(match["ident"])
        return cls(namespace_uri=match["uri"], identifier=ident)

    def __str__(self) -> str:
        kind = "i" if isinstance(self.identifier, int) else "s"
        return f"nsu={self.namespace_uri};{kind}={self.identifier}"


class Alarm(_Model):
    """A limit alarm on one tag; `code` is the alarm code printed on the HMI and in the manuals."""

    code: str = Field(min_length=1)
    kind: AlarmKind
    limit: float | None = None
    priority: Priority
    message: str = Field(min_length=1)
    delay_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _limit_needed(self) -> Self:
        if self.kind is not AlarmKind.ON and self.limit is None:
            raise ValueError(f"a {self.kind.value} alarm needs a limit")
        return self

    def breached(self, value: float | bool) -> bool:
        """True when `value` is on the alarm side of the limit."""
        if self.kind is AlarmKind.ON:
            return bool(value)
        assert self.limit is not None
        if self.kind in (AlarmKind.HIGH, AlarmKind.HIGH_HIGH):
            return float(value) >= self.limit
        return float(value) <= self.limit


class Setpoint(_Model):
    """What the co-pilot may do with a setpoint: the engineered envelope and approval rules."""

    writable: bool = False
    envelope: Band
    max_step: float = Field(gt=0)
    approval_threshold: float = Field(ge=0, description="changes larger than this need a supervisor too")
    tolerance: float = Field(ge=0, description="how far the live value may drift before a proposal is stale")
    max_changes_per_hour: int = Field(default=6, ge=1)
    max_shift_change: float | None = Field(
        default=None,
        gt=0,
        description="how far all changes of a shift together may move it from its value at the shift's start; "
        "max_step when not given, so small steps never reach further than one large step",
    )
    drives: list[str] = Field(default_factory=list, description="process variables this setpoint moves")
    related: list[str] = Field(default_factory=list, description="measurements that must be fresh to change it")

    @model_validator(mode="after")
    def _a_shift_allows_a_step(self) -> Self:
        if self.max_shift_change is not None and self.max_shift_change < self.max_step:
            raise ValueError(f"max_shift_change {self.max_shift_change:g} is less than one max_step {self.max_step:g}")
        return self


class Tag(_Model):
    """One variable on the line."""

    name: str = Field(description="plant name, `equipment.variable`")
    node: NodeAddress
    equipment: str
    data_type: DataType = DataType.DOUBLE
    unit: str = ""
    eu_range: Band | None = None
    normal: Band | None = None
    description: str = ""
    resolution: float | None = Field(
        default=None, gt=0, description="the smallest step the instrument resolves; a default per unit otherwise"
    )
    update_interval_s: float = Field(default=1.0, gt=0)
    safety_critical: bool = False
    setpoint: Setpoint | None = None
    alarms: list[Alarm] = Field(default_factory=list)
    follows: list[str] = Field(
        default_factory=list,
        description="tags this value moves with: when one of them leaves normal, this one is expected to follow",
    )

    def shown(self, value: float | int | bool | str | None) -> str:
        """The value as the line's people read it: at this instrument's resolution, with the unit."""
        return rounded(value, self.unit, self.resolution)

    @model_validator(mode="before")
    @classmethod
    def _parse_node(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("node"), str):
            return {**data, "node": NodeAddress.parse(data["node"])}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not _TAG_NAME_RE.match(self.name):
            raise ValueError(f"tag name {self.name!r} must be lower-case 'equipment.variable'")
        if self.data_type.is_numeric and self.eu_range is None:
            raise ValueError("a numeric tag needs an eu_range")
        if self.normal is not None and self.eu_range is not None and not self.normal.within(self.eu_range):
            raise ValueError("the normal band must lie inside eu_range")
        if self.setpoint is not None:
            if self.eu_range is None:
                raise ValueError("a setpoint needs an eu_range")
            if not self.setpoint.envelope.within(self.eu_range):
                raise ValueError("the setpoint envelope must lie inside eu_range")
            if self.safety_critical and self.setpoint.writable:
                raise ValueError("a safety-critical tag can never be writable by the co-pilot")
        return self

    @property
    def writable(self) -> bool:
        return self.setpoint is not None and self.setpoint.writable and not self.safety_critical


class Equipment(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    kind: str = ""
    description: str = ""


class Production(_Model):
    """Where the line keeps its own production counters: what the shift record (OEE, energy per unit) reads."""

    good: str = Field(description="tag counting good units")
    rejected: str = Field(description="tag counting rejected units")
    energy_kwh: str | None = Field(default=None, description="tag counting energy used, in kWh")
    state: str | None = Field(default=None, description="tag holding the line's state")
    running: list[int] = Field(default_factory=lambda: [1], description="values of `state` that mean running")
    ideal_rate_per_min: float = Field(gt=0, description="units per minute at the line's nameplate speed")
    unit: str = Field(default="units", description="what is counted, plural: bottles, cases")
    sample_s: float = Field(default=60.0, ge=5, description="how often the counters are kept for the record")

    def tags(self) -> list[str]:
        return [t for t in (self.good, self.rejected, self.energy_kwh, self.state) if t is not None]


class LineInfo(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    namespace_uri: str = Field(min_length=1)
    description: str = ""
    shifts: list[str] = Field(
        default_factory=lambda: ["06:00", "14:00", "22:00"],
        min_length=1,
        description="local clock times at which shifts start",
    )
    timezone: str = Field(default="", description="IANA zone of the shift times; the machine's own when empty")
    production: Production | None = Field(default=None, description="the counters of the shift record")

    @field_validator("shifts")
    @classmethod
    def _clock_times(cls, shifts: list[str]) -> list[str]:
        for at in shifts:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at):
                raise ValueError(f"shift start {at!r} is not a clock time such as 06:00")
        if len(set(shifts)) != len(shifts):
            raise ValueError("a shift start is given twice")
        return sorted(shifts)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        if zone:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError(f"unknown time zone {zone!r}; use an IANA name such as Europe/Berlin") from err
        return zone


class LineDefinition(_Model):
    """A production line: its equipment and its tags, as read by simulator, connector, policy and console."""

    line: LineInfo
    equipment: list[Equipment]
    tags: list[Annotated[Tag, Field()]]

    @model_validator(mode="after")
    def _references(self) -> Self:
        names: set[str] = set()
        for tag in self.tags:
            if tag.name in names:
                raise ValueError(f"tag {tag.name!r} is defined twice")
            names.add(tag.name)
        dupes = {n for n, count in Counter(str(t.node) for t in self.tags).items() if count > 1}
        if dupes:
            raise ValueError(f"node ids used by more than one tag: {sorted(dupes)}")
        equipment = {e.id for e in self.equipment}
        codes: set[str] = set()
        for tag in self.tags:
            if tag.equipment not in equipment:
                raise ValueError(f"tag {tag.name!r} names unknown equipment {tag.equipment!r}")
            for alarm in tag.alarms:
                if alarm.code in codes:
                    raise ValueError(f"alarm code {alarm.code!r} is used twice")
                codes.add(alarm.code)
            if tag.setpoint is not None:
                for other in [*tag.setpoint.drives, *tag.setpoint.related]:
                    if other not in names:
                        raise ValueError(f"setpoint {tag.name!r} refers to unknown tag {other!r}")
            for other in tag.follows:
                if other not in names:
                    raise ValueError(f"tag {tag.name!r} follows unknown tag {other!r}")
                if other == tag.name:
                    raise ValueError(f"tag {tag.name!r} follows itself")
        if self.line.production is not None:
            for counter in self.line.production.tags():
                if counter not in names:
                    raise ValueError(f"line.production names unknown tag {counter!r}")
        return self

    def followers(self) -> dict[str, list[str]]:
        """Who moves with whom: each tag and the tags that follow it, from `follows` and a setpoint's `drives`."""
        graph: dict[str, list[str]] = {}
        for tag in self.tags:
            for parent in tag.follows:
                graph.setdefault(parent, []).append(tag.name)
            for driven in tag.setpoint.drives if tag.setpoint else []:
                graph.setdefault(tag.name, []).append(driven)
        return {parent: list(dict.fromkeys(children)) for parent, children in graph.items()}

    def tag(self, name: str) -> Tag:
        for tag in self.tags:
            if tag.name == name:
                return tag
        raise TagNotFound(f"no tag {name!r} in line {self.line.id!r}; `copilot tags` lists them")

    def tags_of(self, equipment: str) -> list[Tag]:
        return [t for t in self.tags if t.equipment == equipment]

    def setpoints(self) -> Iterator[Tag]:
        return (t for t in self.tags if t.setpoint is not None)

    def alarms(self) -> Iterator[tuple[Tag, Alarm]]:
        return ((t, a) for t in self.tags for a in t.alarms)


def load_line(path: str | Path) -> LineDefinition:
    """Read and validate a line definition; errors name the file, the line and the field."""
    path = Path(path)
    document = yaml_source.load(path, LineDefinitionError)
    try:
        return LineDefinition.model_validate(document.data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = tuple(error["loc"])
            where = document.line_of(loc)
            field = ".".join(str(p) for p in loc) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{where}: {field}: {message}")
        raise LineDefinitionError("invalid line definition\n  " + "\n  ".join(problems)) from err
