"""The action pipeline, the safety heart: people, policy, actions, approvals, the executor and the audit chain."""

from __future__ import annotations

from copilot.pipeline.actions import Action, ActionService, Status
from copilot.pipeline.approval import Refusal, approval_refusal
from copilot.pipeline.audit import AuditEntry
from copilot.pipeline.db import Database, default_url
from copilot.pipeline.signin import PERSON, Lockout, SignInRefused, browser_client, clock_time, refusal_text
from copilot.pipeline.users import Role, User, get_user

__all__ = [
    "PERSON",
    "Action",
    "ActionService",
    "AuditEntry",
    "Database",
    "Lockout",
    "Refusal",
    "Role",
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
