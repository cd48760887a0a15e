"""The program state table (DynamoDB): each program's state and suppression list, and the
compaction lease.

An item per program (key: its name), written by the governance workflows and read here, with
strong consistency, before ingest or compaction accepts or rewrites anything. Beside it, item
`<program>#compaction` is the lease that lets one compaction run at a time work on a program.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

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


class CompactionLease:
    """One program's compaction lease: held by one run until released or `seconds` ran out
    (a run that crashed holds it no longer than that)."""

    def __init__(self, dynamodb: Any, table: str, program: str, *, seconds: int) -> None:
        self._dynamodb, self._table, self._seconds = dynamodb, table, seconds
        self._key = {"program": {"S": f"{program}#compaction"}}
        self.owner = uuid.uuid4().hex

    def acquire(self) -> bool:
        """Take the lease unless another run holds it and it has not expired."""
        now = int(time.time())
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    **self._key,
                    "owner": {"S": self.owner},
                    "until": {"N": str(now + self._seconds)},
                },
                ConditionExpression="attribute_not_exists(#p) OR #u < :now",
                ExpressionAttributeNames={"#p": "program", "#u": "until"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=self._key,
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": self.owner}},
            )
        except ClientError as exc:  # lost the lease (it expired): the other run owns it now
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
