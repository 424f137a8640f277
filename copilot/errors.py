"""Errors of the co-pilot's own layer (people, proposals, approvals, execution, audit).

CopilotError                base of everything below
├── StoreUnavailable        the database cannot be opened or written
├── NotAllowed              the person is unknown, inactive, wrongly authenticated or lacks the role
├── ProposalRefused         policy refused a proposal; `reasons` lists every reason (it is recorded too)
├── ApprovalError           an approval or rejection breaks a rule (own proposal, expired, used, wrong state)
│   └── DecisionConflict    someone else decided first (or this person already did): says who and when
├── ExecutionRefused        the executor would not write (kill switch, drift, policy, security)
├── ActionNotFound          no action with that id
├── ModelUnavailable        the language model server failed, timed out or refused the request
└── ConversationError       a bad question or thread, or a thread that belongs to someone else
ConfigError                 the configuration cannot be used: names the setting and how to fix it
"""

from __future__ import annotations


class CopilotError(Exception):
    """Base of the co-pilot's errors; messages are for the person at the console."""


class StoreUnavailable(CopilotError):
    """The database cannot be reached or changed."""


class NotAllowed(CopilotError):
    """Authentication or role check failed."""


class ProposalRefused(CopilotError):
    """Policy refused the proposal."""

    def __init__(self, message: str, *, action_id: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.action_id = action_id
        self.reasons = reasons


class ApprovalError(CopilotError):
    """An approval or rejection was not accepted."""


class DecisionConflict(ApprovalError):
    """The action was already decided when this decision reached the database; the message names who and when."""


class ExecutionRefused(CopilotError):
    """The executor refused to write."""


class ActionNotFound(CopilotError):
    """No action with that id."""


class AlarmRefused(CopilotError):
    """An acknowledgement, shelf or service change was not accepted; the message says why and what to do."""


class AlarmNotFound(CopilotError):
    """No alarm with that code in the line definition or the journal."""


class ModelUnavailable(CopilotError):
    """The chat model could not answer; the message names the server and what to check."""


class ConversationError(CopilotError):
    """The question or the thread cannot be used."""


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting and how to fix it."""
