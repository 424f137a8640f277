"""A simulated bottling line: a pure-Python process model and its catalogue of injectable faults."""

from connectors.simulator.faults import FAULTS, FaultSpec, Symptom, UnknownFault, fault
from connectors.simulator.process import BottlingProcess

__all__ = ["FAULTS", "BottlingProcess", "FaultSpec", "Symptom", "UnknownFault", "fault"]
