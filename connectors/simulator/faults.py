"""The simulator's fault catalogue: what each fault is and which tags it visibly moves on the line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.errors import ConnectorError

Direction = Literal["up", "down", "on", "off", "frozen"]


class UnknownFault(ConnectorError):
    """A fault name that is not in the catalogue was injected or cleared."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Symptom:
    """One tag a fault moves, and which way, compared with the healthy line at the same time."""

    tag: str
    direction: Direction


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultSpec:
    """A fault the simulator can develop, described for people and for scoring diagnoses."""

    name: str
    equipment: str
    title: str
    description: str
    signature: tuple[Symptom, ...]


def _sig(*moves: tuple[str, Direction]) -> tuple[Symptom, ...]:
    return tuple(Symptom(tag=tag, direction=direction) for tag, direction in moves)


FAULTS: tuple[FaultSpec, ...] = (
    FaultSpec(
        name="conveyor_jam",
        equipment="infeed",
        title="Bottle jam on the infeed conveyor",
        description=(
            "Bottles jam at the infeed photo-eye: the conveyor stalls in current limit, bottles back up "
            "on the accumulation table and the filler is starved, so the line slows to a stop."
        ),
        signature=_sig(
            ("infeed.jam_detected", "on"),
            ("infeed.photo_eye_blocked_s", "up"),
            ("infeed.speed", "down"),
            ("infeed.motor_current", "up"),
            ("infeed.accumulation", "up"),
            ("infeed.bottles_per_min", "down"),
            ("line.speed", "down"),
        ),
    ),
    FaultSpec(
        name="capper_clutch_worn",
        equipment="capper",
        title="Worn capping head clutch",
        description=(
            "A worn magnetic clutch slips before the cap is tight: applied torque falls, its spread "
            "across heads grows and loose caps are rejected."
        ),
        signature=_sig(
            ("capper.clutch_slip", "up"),
            ("capper.torque", "down"),
            ("capper.torque_std", "up"),
            ("capper.reject_rate", "up"),
            ("capper.rejects", "up"),
        ),
    ),
    FaultSpec(
        name="filler_valve_leak",
        equipment="filler",
        title="Leaking filling valve",
        description=(
            "A filling valve leaks product: the bowl level sags although the refill valve opens wider, "
            "fills become uneven and low fills are rejected at the checkweigher."
        ),
        signature=_sig(
            ("filler.bowl_level", "down"),
            ("filler.product_inflow", "up"),
            ("filler.fill_weight", "down"),
            ("filler.fill_weight_std", "up"),
            ("filler.low_fill_rejects", "up"),
        ),
    ),
    FaultSpec(
        name="low_air_pressure",
        equipment="air",
        title="Low compressed air header pressure",
        description=(
            "A large air leak exceeds the compressor's capacity: it runs flat out, the header pressure "
            "sags and pneumatic actuators on the capper and labeler misfire, raising rejects."
        ),
        signature=_sig(
            ("air.header_pressure", "down"),
            ("air.air_flow", "up"),
            ("air.compressor_load", "up"),
            ("air.compressor_current", "up"),
            ("capper.reject_rate", "up"),
            ("labeler.label_missing_rejects", "up"),
        ),
    ),
    FaultSpec(
        name="motor_bearing_overheat",
        equipment="filler",
        title="Overheating filler main drive bearing",
        description=(
            "A dry or damaged bearing on the filler main drive adds friction: bearing temperature, "
            "vibration and motor current rise while speed holds."
        ),
        signature=_sig(("filler.bearing_temp", "up"), ("filler.vibration", "up"), ("filler.motor_current", "up")),
    ),
    FaultSpec(
        name="label_web_break",
        equipment="labeler",
        title="Label web break",
        description=(
            "The label web tears: the break sensor trips, web tension drops to nothing, the labeler "
            "stops and bottles already in it leave without a label before the line stops."
        ),
        signature=_sig(
            ("labeler.web_break", "on"),
            ("labeler.web_tension", "down"),
            ("labeler.speed", "down"),
            ("labeler.label_missing_rejects", "up"),
            ("line.speed", "down"),
        ),
    ),
    FaultSpec(
        name="chiller_filter_clogged",
        equipment="chiller",
        title="Clogged chilled water filter",
        description=(
            "The strainer in the chilled water loop clogs: its differential pressure rises, flow falls, "
            "the supply and return water warm up and the product reaches the filler warmer."
        ),
        signature=_sig(
            ("chiller.filter_dp", "up"),
            ("chiller.water_flow", "down"),
            ("chiller.supply_temp", "up"),
            ("chiller.return_temp", "up"),
            ("filler.product_temp", "up"),
        ),
    ),
    FaultSpec(
        name="frozen_sensor",
        equipment="filler",
        title="Frozen filler bowl level sensor",
        description=(
            "The bowl level transmitter stops updating and repeats its last value while the rest of "
            "the line keeps moving; nothing alarms, the reading just stops living."
        ),
        signature=_sig(("filler.bowl_level", "frozen")),
    ),
    FaultSpec(
        name="glue_heater_failure",
        equipment="case_packer",
        title="Failed hot-melt glue heater",
        description=(
            "A heater element in the case packer's glue tank fails open: the controller drives its "
            "output to full but the glue cools, and cases with open flaps are rejected."
        ),
        signature=_sig(
            ("case_packer.glue_temp", "down"),
            ("case_packer.glue_heater_output", "up"),
            ("case_packer.case_rejects", "up"),
        ),
    ),
)

_BY_NAME = {spec.name: spec for spec in FAULTS}


def fault(name: str) -> FaultSpec:
    """The catalogue entry for `name`; raises UnknownFault naming the known faults."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownFault(f"no fault {name!r}; known faults: {', '.join(_BY_NAME)}") from None
