"""The harnesses behind `copilot eval`: retrieval, fault scenarios, safety cases and decision races."""

__all__ = ["faults", "people_cases", "races", "retrieval", "rogue_servers", "safety"]
