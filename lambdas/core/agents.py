"""Agent tokens: issued once, stored only as SHA-256 hashes, scoped to one program and agent.

A token is 256 random bits, so a plain (unsalted) SHA-256 is enough: there is nothing to guess.
The agents table is keyed by the hash; the token itself exists only on the agent. A short prefix
of the hash (the fingerprint) tells tokens apart in listings without being one. An agent id has
at most one active token per program: the table's adapter (lambdas/adapters/agents_table.py)
enrolls, lists and revokes under that rule.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "ilk_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for
_BEARER = re.compile(r"(?i:bearer) ([A-Za-z0-9_-]{16,128})")
AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FINGERPRINT_CHARS = 12  # 48 bits of the hash: tells an agent's tokens apart, reveals nothing


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(hashed: str) -> str:
    """The short prefix of a token's SHA-256 that `ilake agents list` shows."""
    return hashed[:FINGERPRINT_CHARS]


def bearer_token(authorization: str | None) -> str | None:
    """The token of a well-formed `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    match = _BEARER.fullmatch(authorization.strip())
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class AgentGrant:
    agent_id: str
    program: str


class EnrollmentRefused(Exception):
    """An enrollment that would leave an agent id with two active tokens in one program."""


class AlreadyEnrolled(EnrollmentRefused):
    def __init__(self, active: int) -> None:
        super().__init__(f"the agent id already has {active} active token(s)")
        self.active = active


class EnrolledMeanwhile(EnrollmentRefused):
    def __init__(self) -> None:
        super().__init__("the agent id was enrolled by someone else meanwhile")


@dataclass(frozen=True, slots=True)
class Enrollment:
    token: str  # shown once, never stored
    fingerprint: str
    revoked: int  # the agent id's active tokens this enrollment replaced
