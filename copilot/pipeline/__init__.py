"""The action pipeline, the safety heart: people, policy, actions, approvals, the executor and the audit chain."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from copilot.pipeline.states import Role, Status

if TYPE_CHECKING:
    from copilot.pipeline.actions import Action, ActionService
    from copilot.pipeline.alarm_history import Flood
    from copilot.pipeline.alarm_states import AlarmState
    from copilot.pipeline.alarms import Alarm, JournalEntry
    from copilot.pipeline.approval import Refusal, approval_refusal
    from copilot.pipeline.audit import AuditEntry
    from copilot.pipeline.db import Database, default_url
    from copilot.pipeline.handover import Handover
    from copilot.pipeline.shift_record import ShiftRecord
    from copilot.pipeline.signin import PERSON, Lockout, SignInRefused, browser_client, clock_time, refusal_text
    from copilot.pipeline.users import User, get_user

# The store (SQLAlchemy) and the password hashing load on first use: `copilot --help` needs only the words.
_LAZY = {
    "PERSON": "copilot.pipeline.signin",
    "Action": "copilot.pipeline.actions",
    "Alarm": "copilot.pipeline.alarms",
    "AlarmState": "copilot.pipeline.alarm_states",
    "JournalEntry": "copilot.pipeline.alarms",
    "ActionService": "copilot.pipeline.actions",
    "AuditEntry": "copilot.pipeline.audit",
    "Database": "copilot.pipeline.db",
    "Flood": "copilot.pipeline.alarm_history",
    "Handover": "copilot.pipeline.handover",
    "Lockout": "copilot.pipeline.signin",
    "Refusal": "copilot.pipeline.approval",
    "ShiftRecord": "copilot.pipeline.shift_record",
    "SignInRefused": "copilot.pipeline.signin",
    "User": "copilot.pipeline.users",
    "approval_refusal": "copilot.pipeline.approval",
    "browser_client": "copilot.pipeline.signin",
    "clock_time": "copilot.pipeline.signin",
    "default_url": "copilot.pipeline.db",
    "get_user": "copilot.pipeline.users",
    "refusal_text": "copilot.pipeline.signin",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'copilot.pipeline' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "PERSON",
    "Action",
    "ActionService",
    "Alarm",
    "AlarmState",
    "AuditEntry",
    "Database",
    "Flood",
    "Handover",
    "JournalEntry",
    "Lockout",
    "Refusal",
    "Role",
    "ShiftRecord",
    "SignInRefused",
    "Status",
    "User",
    "approval_refusal",
    "browser_client",
    "clock_time",
    "default_url",
    "get_user",
    "refusal_text",
]
