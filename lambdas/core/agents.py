"""Agent tokens: issued once, stored only as SHA-256 hashes, scoped to one program and agent.

A token is 256 random bits, so a plain (unsalted) SHA-256 is enough: there is nothing to guess.
The agents table is keyed by the hash; the token itself exists only on the agent.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

TOKEN_PREFIX = "ilk_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for
_BEARER = re.compile(r"(?i:bearer) ([A-Za-z0-9_-]{16,128})")
AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


def grant_from_item(item: dict[str, Any] | None, now_s: float | None = None) -> AgentGrant | None:
    """A usable grant from an agents-table item, or None if missing, revoked or expired."""
    if not item:
        return None
    now_s = time.time() if now_s is None else now_s
    try:
        status = item["status"]["S"]
        expires_at = int(item["expires_at"]["N"]) if "expires_at" in item else None
        grant = AgentGrant(agent_id=item["agent_id"]["S"], program=item["program"]["S"])
    except (KeyError, ValueError):
        return None
    if status != "active" or (expires_at is not None and expires_at <= now_s):
        return None
    return grant


def enroll_agent(
    dynamodb: Any, table: str, *, program: str, agent_id: str, ttl_days: int = 365
) -> str:
    """Create a token for `agent_id` in `program`; returns the token (shown once, never stored)."""
    if not AGENT_ID.fullmatch(agent_id):
        raise ValueError("agent id must be 1-64 of [A-Za-z0-9._-]")
    token = new_token()
    now = int(time.time())
    dynamodb.put_item(
        TableName=table,
        Item={
            "token_hash": {"S": token_hash(token)},
            "agent_id": {"S": agent_id},
            "program": {"S": program},
            "status": {"S": "active"},
            "created_at": {"N": str(now)},
            "expires_at": {"N": str(now + ttl_days * 86_400)},
        },
        ConditionExpression="attribute_not_exists(token_hash)",
    )
    return token


def revoke_agent(dynamodb: Any, table: str, token: str) -> None:
    dynamodb.update_item(
        TableName=table,
        Key={"token_hash": {"S": token_hash(token)}},
        UpdateExpression="SET #s = :revoked",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":revoked": {"S": "revoked"}},
        ConditionExpression="attribute_exists(token_hash)",
    )


def _scan_program(dynamodb: Any, table: str, program: str) -> list[dict[str, Any]]:
    """The program's agent items. A scan: the table holds one small item per enrolled agent."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="#p = :p",
        ExpressionAttributeNames={"#p": "program"},
        ExpressionAttributeValues={":p": {"S": program}},
    ):
        items.extend(page["Items"])
    return items


def list_agents(dynamodb: Any, table: str, program: str) -> list[dict[str, Any]]:
    """The program's agents (id, status, created_at, expires_at), oldest first; no hashes."""
    agents = [
        {
            "agent_id": item["agent_id"]["S"],
            "status": item["status"]["S"],
            "created_at": int(item["created_at"]["N"]),
            "expires_at": int(item["expires_at"]["N"]) if "expires_at" in item else None,
        }
        for item in _scan_program(dynamodb, table, program)
    ]
    return sorted(agents, key=lambda a: (a["created_at"], a["agent_id"]))


def revoke_agent_id(dynamodb: Any, table: str, *, program: str, agent_id: str) -> int:
    """Revoke every active token of `agent_id` in `program`; returns how many were revoked.
    Operators know agents by id; the tokens themselves exist only on the agents."""
    revoked = 0
    for item in _scan_program(dynamodb, table, program):
        if item["agent_id"]["S"] == agent_id and item["status"]["S"] == "active":
            dynamodb.update_item(
                TableName=table,
                Key={"token_hash": item["token_hash"]},
                UpdateExpression="SET #s = :revoked",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":revoked": {"S": "revoked"}},
                ConditionExpression="attribute_exists(token_hash)",
            )
            revoked += 1
    return revoked
