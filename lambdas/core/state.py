"""Program runtime state: ACTIVE, PAUSED, PURGING, PURGED, kept in DynamoDB.

See docs/design.md#program-state.

A declared program with no record yet is ACTIVE. Only ACTIVE accepts data. The record may also
hold the erase-subject suppression list: subject pseudonyms whose new events are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ProgramState(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    PURGING = "PURGING"
    PURGED = "PURGED"


@dataclass(frozen=True, slots=True)
class ProgramStatus:
    state: ProgramState
    suppressed_subjects: frozenset[str] = frozenset()

    @property
    def collecting(self) -> bool:
        return self.state is ProgramState.ACTIVE


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
