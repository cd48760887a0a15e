"""The program state table (DynamoDB): each program's state and suppression list.

An item per program (key: its name). Governance workflows write it; ingest and compaction read
it here, with strong consistency, before they accept or rewrite anything.
"""

from __future__ import annotations

from typing import Any

from lambdas.core.state import ProgramState, ProgramStatus


def read_status(dynamodb: Any, table: str, program: str) -> ProgramStatus:
    """Read with strong consistency: a pause must take effect on the very next batch."""
    item = dynamodb.get_item(
        TableName=table, Key={"program": {"S": program}}, ConsistentRead=True
    ).get("Item")
    if not item:
        return ProgramStatus(ProgramState.ACTIVE)
    try:
        state = ProgramState(item["state"]["S"])
    except (KeyError, ValueError):
        state = ProgramState.PAUSED  # an unreadable record fails closed
    suppressed = frozenset(item.get("suppressed_subjects", {}).get("SS", ()))
    return ProgramStatus(state, suppressed)
