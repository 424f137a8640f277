"""How a session to the line is secured: a word the settings read without loading cryptography."""

from __future__ import annotations

from enum import StrEnum


class SecurityMode(StrEnum):
    NONE = "none"
    SIGN_AND_ENCRYPT = "sign_encrypt"  # Basic256Sha256, the only secure policy we offer
