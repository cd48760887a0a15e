"""Program runtime state: ACTIVE, PAUSED, PURGING, PURGED.

See docs/design.md#program-state.

A declared program with no record yet is ACTIVE. Only ACTIVE accepts data. The record may also
hold the erase-subject suppression list: subject pseudonyms whose new events are dropped. The
record lives in DynamoDB (lambdas/adapters/program_state.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
