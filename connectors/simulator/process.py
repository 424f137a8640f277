"""A pure-Python model of the bottling line: first-order dynamics, seeded noise, counters and faults."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from connectors.errors import WriteRefused
from connectors.line import DataType, LineDefinition, Tag
from connectors.simulator.faults import fault

Value = float | int | bool

NOMINAL_SPEED = 600.0  # bottles/min the line is designed for
VALVES = 60  # filling valves on the filler carousel
CAPPING_HEADS = 24
BOTTLES_PER_CASE = 24
LABEL_PITCH_M = 0.2  # label web used per bottle
REEL_LENGTH_M = 3500.0
SPLICE_AT_M = 150.0  # the auto splicer starts a new reel with this much web left
AIR_CAPACITY = 460.0  # Nm³/h the compressor delivers running flat out
CHW_FLOW = 40.0  # m³/h around the chilled water loop with a clean strainer
AMBIENT_C = 30.0  # air around the motors
KW_PER_AMP = 0.55  # 400 V three-phase at a typical power factor

# Where the setpoints sit when the simulator starts; the line definition's normal bands agree.
NOMINAL_SETPOINTS: Mapping[str, float] = {
    "line.speed_sp": NOMINAL_SPEED,
    "infeed.speed_sp": 50.0,
    "filler.bowl_level_sp": 50.0,
    "filler.bowl_pressure_sp": 2.5,
    "filler.fill_weight_sp": 502.0,
    "capper.torque_sp": 2.2,
    "labeler.web_tension_sp": 40.0,
    "case_packer.glue_temp_sp": 170.0,
    "air.header_pressure_sp": 6.5,
    "chiller.supply_temp_sp": 5.0,
}

# Counters start at the beginning of a shift; the label reel is already partly used.
INITIAL_COUNTS: Mapping[str, float] = {"labeler.reel_remaining": 3200.0}


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass(frozen=True, slots=True)
class Drive:
    """Where a variable is heading now: its target, its time constant (s) and its measurement noise (std dev)."""

    target: float
    tau: float
    noise: float = 0.0


@dataclass(frozen=True, slots=True)
class _Plant:
    """Read-only view of the state before a step; every target is computed from it, so order never matters."""

    x: Mapping[str, float]
    setpoints: Mapping[str, float]
    faults: frozenset[str]

    def pv(self, name: str) -> float:
        return self.x[name]

    def sp(self, name: str) -> float:
        return self.setpoints[name]

    def has(self, fault_name: str) -> bool:
        return fault_name in self.faults

    def flag(self, name: str) -> bool:
        return self.x[name] >= 0.5

    @property
    def speed(self) -> float:
        """Line speed in bottles/min; the machines follow it."""
        return self.x["line.speed"]

    @property
    def heat_load(self) -> float:
        """Product cooling duty relative to nominal: the product flows with the line."""
        return 0.3 + 0.7 * self.speed / NOMINAL_SPEED

    @property
    def pneumatic_deficit(self) -> float:
        """0 with healthy air, 1 once the header is too low for cap and label actuators to work reliably."""
        return _clamp(6.0 - self.pv("air.header_pressure"), 0.0, 1.0)


Machine = Callable[[_Plant], dict[str, Drive]]


@dataclass(frozen=True, slots=True)
class _Motor:
    """A main drive in steady state: current and temperatures as straight lines in its machine's speed."""

    idle_a: float
    a_per_speed: float
    winding_c_per_a: float
    bearing_idle_c: float
    bearing_c_per_speed: float


# Speeds are in each machine's own unit: m/min, rpm, labels/min, cases/min.
_MOTORS: Mapping[str, _Motor] = {
    "infeed": _Motor(4.0, 0.09, 3.5, 35.0, 0.3),
    "filler": _Motor(12.0, 1.5, 1.2, 38.0, 1.2),
    "capper": _Motor(5.0, 0.24, 2.5, 36.0, 0.48),
    "labeler": _Motor(3.0, 0.008, 3.0, 34.0, 0.02),
    "case_packer": _Motor(4.0, 0.25, 3.0, 35.0, 0.5),
}


def _motor(p: _Plant, machine: str, *, extra_a: float = 0.0, extra_bearing_c: float = 0.0) -> dict[str, Drive]:
    m = _MOTORS[machine]
    speed = p.pv(f"{machine}.speed")
    return {
        f"{machine}.motor_current": Drive(m.idle_a + m.a_per_speed * speed + extra_a, 1.0, 0.15),
        # Windings and bearings have thermal mass: they lag current and friction by minutes, not seconds.
        f"{machine}.winding_temp": Drive(AMBIENT_C + m.winding_c_per_a * p.pv(f"{machine}.motor_current"), 90.0, 0.2),
        f"{machine}.bearing_temp": Drive(
            m.bearing_idle_c + m.bearing_c_per_speed * speed + extra_bearing_c, 45.0, 0.15
        ),
    }


def _infeed(p: _Plant) -> dict[str, Drive]:
    jam = p.has("conveyor_jam")
    return {
        # A jammed belt stalls while its drive pushes at the current limit.
        "infeed.speed": Drive(0.0 if jam else p.sp("infeed.speed_sp"), 2.0, 0.2),
        **_motor(p, "infeed", extra_a=13.0 if jam else 0.0),
        # Bottles keep arriving from upstream while none leave, so the table fills.
        "infeed.accumulation": Drive(98.0 if jam else 40.0, 20.0, 0.4),
        # Target equal to tau: the blocked time then grows about one second per second, like a timer.
        "infeed.photo_eye_blocked_s": Drive(120.0, 120.0) if jam else Drive(0.15, 0.5, 0.03),
        "infeed.jam_detected": Drive(float(p.pv("infeed.photo_eye_blocked_s") > 3.0), 0.0),
        "infeed.bottles_per_min": Drive(0.0 if jam else p.speed, 1.0, 2.0),
    }


def _filler(p: _Plant) -> dict[str, Drive]:
    leak = p.pv("_filler.leak_flow")  # L/min escaping through a leaking valve
    wear = p.pv("_filler.bearing_wear")  # 0 healthy, 1 a bearing running dry
    demand = p.speed * p.sp("filler.fill_weight_sp") / 1000.0  # L/min, density about 1 kg/L
    chw_ratio = max(0.1, p.pv("chiller.water_flow") / CHW_FLOW)
    return {
        # Faults grow over seconds rather than appearing at once.
        "_filler.leak_flow": Drive(55.0 if p.has("filler_valve_leak") else 0.0, 10.0),
        "_filler.bearing_wear": Drive(1.0 if p.has("motor_bearing_overheat") else 0.0, 20.0),
        "filler.speed": Drive(p.speed / VALVES, 1.0, 0.02),
        **_motor(p, "filler", extra_a=8.0 * wear, extra_bearing_c=40.0 * wear),
        "filler.vibration": Drive(1.2 + 0.06 * p.pv("filler.speed") + 5.0 * wear, 3.0, 0.08),
        # The refill valve opens wider for the leak but cannot hold the level: it sags below setpoint.
        "filler.bowl_level": Drive(p.sp("filler.bowl_level_sp") - 0.33 * leak, 8.0, 0.3),
        "filler.product_inflow": Drive(demand + leak, 3.0, 1.5),
        "filler.bowl_pressure": Drive(p.sp("filler.bowl_pressure_sp"), 4.0, 0.02),
        # The product cooler's approach widens with throughput and with less chilled water.
        "filler.product_temp": Drive(p.pv("chiller.supply_temp") + 3.0 * p.heat_load / chw_ratio, 30.0, 0.05),
        # A lower, unsteady bowl head gives lighter and more scattered fills.
        "filler.fill_weight": Drive(p.sp("filler.fill_weight_sp") - 0.11 * leak, 10.0, 0.15),
        "filler.fill_weight_std": Drive(0.8 + 0.045 * leak, 10.0, 0.03),
        # About 60 % of a carousel turn is the filling sector.
        "filler.valves_open": Drive(0.6 * VALVES * p.speed / NOMINAL_SPEED, 1.0, 0.5),
        "filler.guard_door_closed": Drive(1.0, 0.0),
    }


def _capper(p: _Plant) -> dict[str, Drive]:
    slip = max(0.0, p.pv("capper.clutch_slip") - 3.0)  # slip beyond what a healthy clutch shows
    return {
        "capper.speed": Drive(p.speed / CAPPING_HEADS, 1.0, 0.05),
        **_motor(p, "capper"),
        "capper.clutch_slip": Drive(18.0 if p.has("capper_clutch_worn") else 3.0, 20.0, 0.1),
        # A slipping clutch lets go before the cap reaches the set torque, and each head slips differently.
        "capper.torque": Drive(p.sp("capper.torque_sp") * (1.0 - 0.019 * slip), 2.0, 0.01),
        "capper.torque_std": Drive(0.05 + 0.013 * slip, 5.0, 0.003),
        "capper.reject_rate": Drive(100.0 * _reject_shares(p)[1], 10.0, 0.01),
    }


def _labeler(p: _Plant) -> dict[str, Drive]:
    broken = p.has("label_web_break")
    return {
        "labeler.web_break": Drive(float(broken), 0.0),
        "labeler.web_tension": (Drive(0.0, 0.5, 0.4) if broken else Drive(p.sp("labeler.web_tension_sp"), 2.0, 0.4)),
        # Without a web the labeling drum stops at once; the line behind it runs down more slowly.
        "labeler.speed": Drive(0.0 if broken else p.speed, 1.5, 1.0),
        **_motor(p, "labeler"),
    }


def _case_packer(p: _Plant) -> dict[str, Drive]:
    setpoint = p.sp("case_packer.glue_temp_sp")
    shortfall = setpoint - p.pv("case_packer.glue_temp")
    return {
        "case_packer.speed": Drive(p.speed / BOTTLES_PER_CASE, 3.0, 0.1),
        **_motor(p, "case_packer"),
        # A working heater holds the setpoint; a failed element lets the glue cool towards the room.
        "case_packer.glue_temp": Drive(25.0 if p.has("glue_heater_failure") else setpoint, 40.0, 0.3),
        # Proportional control: a base load covering losses plus a push for any shortfall.
        "case_packer.glue_heater_output": Drive(_clamp(45.0 + 3.0 * shortfall, 0.0, 100.0), 5.0, 0.5),
    }


def _air(p: _Plant) -> dict[str, Drive]:
    flow = p.pv("air.air_flow")
    load = min(100.0, 100.0 * flow / AIR_CAPACITY)
    return {
        "_air.leak_flow": Drive(220.0 if p.has("low_air_pressure") else 0.0, 10.0),
        "air.air_flow": Drive(120.0 + 0.3 * p.speed + p.pv("_air.leak_flow"), 4.0, 3.0),
        # Demand beyond what the compressor delivers is taken out of the header pressure.
        "air.header_pressure": Drive(p.sp("air.header_pressure_sp") - 0.03 * max(0.0, flow - AIR_CAPACITY), 4.0, 0.03),
        "air.compressor_load": Drive(load, 5.0, 0.5),
        # Compressing to a higher pressure costs more current for the same air.
        "air.compressor_current": Drive(
            40.0 + p.pv("air.compressor_load") * p.sp("air.header_pressure_sp") / 6.5, 3.0, 1.0
        ),
        "air.discharge_temp": Drive(80.0 + 0.2 * load, 60.0, 0.3),
        "air.dew_point": Drive(3.0, 60.0, 0.1),
    }


def _chiller(p: _Plant) -> dict[str, Drive]:
    clogged = p.has("chiller_filter_clogged")
    flow_ratio = max(0.1, p.pv("chiller.water_flow") / CHW_FLOW)
    setpoint = p.sp("chiller.supply_temp_sp")
    return {
        "chiller.filter_dp": Drive(1.4 if clogged else 0.3, 15.0, 0.005),
        # On the pump curve, more resistance across the strainer means less flow.
        "chiller.water_flow": Drive(CHW_FLOW * (1.0 - 0.35 * (p.pv("chiller.filter_dp") - 0.3)), 5.0, 0.3),
        # Too little water through the evaporator and the chiller can no longer hold its setpoint.
        "chiller.supply_temp": Drive(setpoint + 8.0 * max(0.0, 1.0 - flow_ratio), 20.0, 0.05),
        "chiller.return_temp": Drive(p.pv("chiller.supply_temp") + 4.0 * p.heat_load / flow_ratio, 10.0, 0.05),
        "chiller.compressor_current": Drive(60.0 + 20.0 * p.heat_load + 3.0 * (5.0 - setpoint), 20.0, 0.4),
    }


def _line(p: _Plant) -> dict[str, Drive]:
    setpoint = p.sp("line.speed_sp")
    held_up = p.flag("infeed.jam_detected") or p.flag("labeler.web_break")
    state = 0 if setpoint < 1.0 else 2 if held_up else 1
    currents = sum(p.pv(f"{m}.motor_current") for m in _MOTORS)
    currents += p.pv("air.compressor_current") + p.pv("chiller.compressor_current")
    power = 20.0 + KW_PER_AMP * currents + 0.06 * p.pv("case_packer.glue_heater_output")
    return {
        "line.state": Drive(float(state), 0.0),
        # The filler sets the pace and ramps, rather than jumps, so bottles stay upright.
        "line.speed": Drive(setpoint if state == 1 else 0.0, 5.0, 1.0),
        # A rolling share over bottles, not seconds: it holds still while the line stands.
        "line.oee_quality": Drive(
            100.0 * (1.0 - min(1.0, sum(_reject_shares(p)))), 30.0 * NOMINAL_SPEED / max(p.speed, 1.0), 0.02
        ),
        "line.power_kw": Drive(power, 2.0, 0.8),
        "line.estop_ok": Drive(1.0, 0.0),
        "line.safety_interlock_bypassed": Drive(0.0, 0.0),
    }


MACHINES: tuple[Machine, ...] = (_infeed, _filler, _capper, _labeler, _case_packer, _air, _chiller, _line)


def _reject_shares(p: _Plant) -> tuple[float, float, float]:
    """Share of bottles rejected for low fill, for the cap and for the label, from what the line is doing."""
    deficit = p.pneumatic_deficit
    low_fill = 0.0005 + 0.012 * max(0.0, p.pv("filler.fill_weight_std") - 0.8)
    cap = 0.0003 + 0.002 * max(0.0, p.pv("capper.clutch_slip") - 3.0) + 0.015 * deficit
    # Bottles still moving through a labeler without a web all leave unlabeled.
    label = 1.0 if p.flag("labeler.web_break") else 0.0002 + 0.015 * deficit
    return low_fill, cap, label


def _flows(p: _Plant) -> dict[str, float]:
    """Per-second rates of everything that is counted or integrated rather than measured."""
    bottles = p.speed / 60.0
    low_fill, cap, label = _reject_shares(p)
    cases = p.pv("case_packer.speed") / 60.0
    labels = p.pv("labeler.speed") / 60.0
    return {
        "line.total_count": bottles,
        "filler.low_fill_rejects": bottles * low_fill,
        "capper.rejects": bottles * cap,
        "labeler.label_missing_rejects": bottles * label,
        "labeler.labels_applied": labels,
        "labeler.reel_remaining": -labels * LABEL_PITCH_M,
        "case_packer.cases_packed": cases,
        # Below about 160 °C hot-melt no longer wets the flaps and cases spring open.
        "case_packer.case_rejects": cases * (0.0002 + _clamp((160.0 - p.pv("case_packer.glue_temp")) / 30.0, 0, 1)),
        "line.energy_kwh": p.pv("line.power_kw") / 3600.0,
    }


def _line_totals(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts that are sums of other counts, so they always add up exactly."""
    rejects = sum(counts[n] for n in ("filler.low_fill_rejects", "capper.rejects", "labeler.label_missing_rejects"))
    return {"line.reject_count": rejects, "line.good_count": max(0, counts["line.total_count"] - rejects)}


# What is counted rather than measured, found by asking the model once about an empty plant.
_COUNTED = tuple(_flows(_Plant(defaultdict(float), defaultdict(float), frozenset())))
_TOTALS = frozenset(_line_totals(defaultdict(int)))


class BottlingProcess:
    """The bottling line as a process: step it in simulated time, read every tag, write setpoints, break it."""

    def __init__(self, line: LineDefinition, *, seed: int = 0) -> None:
        self._line = line
        self._rng = random.Random(seed)
        self._time_s = 0.0
        self._faults: frozenset[str] = frozenset()
        self._frozen: dict[str, Value] = {}
        self._sp: dict[str, float] = dict(NOMINAL_SETPOINTS)
        for tag in line.setpoints():
            self._sp.setdefault(tag.name, _middle(tag))
        self._acc: dict[str, float] = {name: INITIAL_COUNTS.get(name, 0.0) for name in _COUNTED}
        # Tags the model has no physics for hold the middle of their normal band, so new tags never break it.
        self._generic = {
            t.name: _generic_drive(t)
            for t in line.tags
            if t.setpoint is None and t.name not in self._acc and t.name not in _TOTALS
        }
        self._x = self._settle()
        self._out: dict[str, Value] = {}
        self._publish(self._drives(self._plant()))

    @property
    def time_s(self) -> float:
        return self._time_s

    @property
    def active_faults(self) -> frozenset[str]:
        return self._faults

    def step(self, dt: float) -> None:
        if not (math.isfinite(dt) and dt >= 0):
            raise ValueError(f"dt must be a finite number of seconds >= 0, not {dt!r}")
        plant = self._plant()
        drives = self._drives(plant)
        rates = _flows(plant)
        for name, drive in drives.items():
            # Exact discretisation of a first-order lag: stable for any dt, and tau 0 means "follow at once".
            alpha = 1.0 - math.exp(-dt / drive.tau) if drive.tau > 0 else float(dt > 0)
            self._x[name] += (drive.target - self._x[name]) * alpha
        for name, rate in rates.items():
            self._acc[name] += rate * dt
        if self._acc["labeler.reel_remaining"] < SPLICE_AT_M:
            self._acc["labeler.reel_remaining"] = REEL_LENGTH_M
        self._time_s += dt
        self._publish(drives)

    def values(self) -> dict[str, Value]:
        return dict(self._out)

    def set_setpoint(self, tag: str, value: float) -> None:
        definition = self._line.tag(tag)  # raises TagNotFound for names the line does not have
        if definition.setpoint is None:
            raise WriteRefused(f"{tag!r} is a measurement, not a setpoint")
        self._sp[tag] = float(value)
        self._out[tag] = _typed(definition, self._sp[tag])  # a read straight after the write sees it

    def inject(self, fault_name: str) -> None:
        spec = fault(fault_name)
        self._faults |= {spec.name}
        # A frozen transmitter keeps repeating whatever it showed when it died.
        for symptom in spec.signature:
            if symptom.direction == "frozen" and symptom.tag in self._out:
                self._frozen.setdefault(symptom.tag, self._out[symptom.tag])

    def clear(self, fault_name: str | None = None) -> None:
        names = self._faults if fault_name is None else {fault(fault_name).name}
        for name in names:
            for symptom in fault(name).signature:
                if symptom.direction == "frozen":
                    self._frozen.pop(symptom.tag, None)
        self._faults -= names

    def _plant(self) -> _Plant:
        return _Plant(self._x, self._sp, self._faults)

    def _drives(self, plant: _Plant) -> dict[str, Drive]:
        drives = dict(self._generic)
        for machine in MACHINES:
            drives.update(machine(plant))
        return drives

    def _settle(self) -> dict[str, float]:
        """Start from the healthy steady state: iterate the targets until every coupling has propagated."""
        x: defaultdict[str, float] = defaultdict(float)
        plant = _Plant(x, self._sp, self._faults)
        for _ in range(40):
            for name, drive in self._drives(plant).items():
                x[name] = drive.target
        return dict(x)

    def _publish(self, drives: Mapping[str, Drive]) -> None:
        counts = {name: math.floor(value) for name, value in self._acc.items()}
        totals = _line_totals(counts)
        for tag in self._line.tags:
            # One draw per tag per step whatever the state, so a faulted and a healthy twin share their noise.
            z = self._rng.gauss(0.0, 1.0)
            raw: float
            if tag.name in self._frozen:
                continue
            if tag.setpoint is not None:
                raw = self._sp[tag.name]
            elif tag.name in totals:
                raw = totals[tag.name]
            elif tag.name in self._acc:
                raw = counts[tag.name] if tag.data_type.is_integer else self._acc[tag.name]
            else:
                raw = self._x[tag.name] + z * drives[tag.name].noise
            self._out[tag.name] = _typed(tag, raw)


def _generic_drive(tag: Tag) -> Drive:
    if tag.data_type is DataType.BOOLEAN:
        return Drive(0.0, 0.0)
    band = tag.normal or tag.eu_range
    if band is None or (tag.normal is None and tag.data_type.is_integer):
        return Drive(band.low if band else 0.0, 5.0)  # an unknown counter starts at zero, not mid-range
    return Drive((band.low + band.high) / 2.0, 5.0, 0.02 * (band.high - band.low))


def _middle(tag: Tag) -> float:
    band = tag.normal or (tag.setpoint.envelope if tag.setpoint else None) or tag.eu_range
    return 0.0 if band is None else (band.low + band.high) / 2.0


def _typed(tag: Tag, raw: float) -> Value:
    if tag.data_type is DataType.BOOLEAN:
        return raw >= 0.5
    if tag.eu_range is not None:
        raw = _clamp(raw, tag.eu_range.low, tag.eu_range.high)
        if tag.data_type.is_integer:
            return int(_clamp(round(raw), math.ceil(tag.eu_range.low), math.floor(tag.eu_range.high)))
    return round(raw) if tag.data_type.is_integer else float(raw)
