"""The agents table (DynamoDB): enroll, list and revoke agent tokens, and read a token's grant.

An agent id has at most one active token per program: enrolling it again is refused unless the
old tokens are replaced (revoked in the same transaction). The table also holds one slot item
per agent id (key `agent#<program>#<agent id>`, never a hash, without a status, so the
authorizer never grants it) naming the hash of its latest token; every enrollment writes it on
the condition that it is unchanged since it was read, so of two enrollments at once one wins.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.agents import (
    AGENT_ID,
    AgentGrant,
    AlreadyEnrolled,
    EnrolledMeanwhile,
    Enrollment,
    fingerprint,
    new_token,
    token_hash,
)

SLOT_PREFIX = "agent#"  # an agent id's slot item; a token's hash is 64 hex characters
# TransactWriteItems takes 100 actions: the new token, the slot and the tokens it replaces
MAX_REPLACED = 98


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
    dynamodb: Any,
    table: str,
    *,
    program: str,
    agent_id: str,
    ttl_days: int = 365,
    replace: bool = False,
) -> Enrollment:
    """Create a token for `agent_id` in `program`, revoking its active tokens if `replace`.

    Raises AlreadyEnrolled when the agent id has an active token and `replace` is false, and
    EnrolledMeanwhile when another enrollment of the same agent id got in between. One
    transaction writes the token, the slot and the revocations: all or nothing.
    """
    if not AGENT_ID.fullmatch(agent_id):
        raise ValueError("agent id must be 1-64 of [A-Za-z0-9._-]")
    now = int(time.time())
    slot_key = {"S": f"{SLOT_PREFIX}{program}#{agent_id}"}
    slot = dynamodb.get_item(
        TableName=table, Key={"token_hash": slot_key}, ConsistentRead=True
    ).get("Item")
    active = [
        item
        for item in _scan_program(dynamodb, table, program, consistent=True)
        if item["agent_id"]["S"] == agent_id and grant_from_item(item, now) is not None
    ]
    if active and (not replace or len(active) > MAX_REPLACED):
        raise AlreadyEnrolled(len(active))
    token = new_token()
    hashed = token_hash(token)
    owner = {"agent_id": {"S": agent_id}, "program": {"S": program}}
    token_item = {
        "token_hash": {"S": hashed},
        **owner,
        "status": {"S": "active"},
        "created_at": {"N": str(now)},
        "expires_at": {"N": str(now + ttl_days * 86_400)},
    }
    slot_item = {"token_hash": slot_key, **owner, "latest": {"S": hashed}}
    # the slot as it was read (or still none): any enrollment since then cancels this one
    unchanged: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(token_hash)"}
        if slot is None
        else {
            "ConditionExpression": "latest = :seen",
            "ExpressionAttributeValues": {":seen": slot["latest"]},
        }
    )
    try:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": token_item,
                        "ConditionExpression": "attribute_not_exists(token_hash)",
                    }
                },
                {"Put": {"TableName": table, "Item": slot_item, **unchanged}},
                *({"Update": _revocation(table, item["token_hash"])} for item in active),
            ]
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            raise EnrolledMeanwhile() from None
        raise
    return Enrollment(token=token, fingerprint=fingerprint(hashed), revoked=len(active))


def _revocation(table: str, key: dict[str, str]) -> dict[str, Any]:
    """UpdateItem's parameters that revoke the token stored under `key`, if it exists."""
    return {
        "TableName": table,
        "Key": {"token_hash": key},
        "UpdateExpression": "SET #s = :revoked",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":revoked": {"S": "revoked"}},
        "ConditionExpression": "attribute_exists(token_hash)",
    }


def revoke_agent(dynamodb: Any, table: str, token: str) -> None:
    dynamodb.update_item(**_revocation(table, {"S": token_hash(token)}))


def _scan_program(
    dynamodb: Any, table: str, program: str, *, consistent: bool = False
) -> list[dict[str, Any]]:
    """The program's token items (slot items have no status). A scan: the table holds one
    small item per enrolled token."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="#p = :p AND attribute_exists(#s)",
        ExpressionAttributeNames={"#p": "program", "#s": "status"},
        ExpressionAttributeValues={":p": {"S": program}},
        ConsistentRead=consistent,
    ):
        items.extend(page["Items"])
    return items


def list_agents(
    dynamodb: Any, table: str, program: str, now_s: float | None = None
) -> list[dict[str, Any]]:
    """The program's tokens (agent id, fingerprint, status, created_at, expires_at), oldest
    first; never a whole hash. An active token past its expiry is listed as expired."""
    now_s = time.time() if now_s is None else now_s
    agents = [
        {
            "agent_id": item["agent_id"]["S"],
            "fingerprint": fingerprint(item["token_hash"]["S"]),
            "status": (
                "expired"
                if item["status"]["S"] == "active" and grant_from_item(item, now_s) is None
                else item["status"]["S"]
            ),
            "created_at": int(item["created_at"]["N"]),
            "expires_at": int(item["expires_at"]["N"]) if "expires_at" in item else None,
        }
        for item in _scan_program(dynamodb, table, program)
    ]
    return sorted(agents, key=lambda a: (a["created_at"], a["agent_id"], a["fingerprint"]))


def revoke_agent_id(dynamodb: Any, table: str, *, program: str, agent_id: str) -> int:
    """Revoke every active token of `agent_id` in `program`; returns how many were revoked.
    Operators know agents by id; the tokens themselves exist only on the agents."""
    revoked = 0
    for item in _scan_program(dynamodb, table, program):
        if item["agent_id"]["S"] == agent_id and item["status"]["S"] == "active":
            dynamodb.update_item(**_revocation(table, item["token_hash"]))
            revoked += 1
    return revoked
