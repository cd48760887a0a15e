"""The common-text vocabulary (DynamoDB table `CommonTexts`): which texts are common, and the
released ones' text.

An item per (program, text id), written only once a text is common: first by the hourly count
(status `common`, the number of people, no text: the count never sees a text, only ids), then
by the first batch that carries the text (status `released` and the canonical text, a
conditional write that succeeds exactly once). Pending texts have no item at all: their counts
live with the program's lake data (lambdas/compaction/counting.py).

`TextStore` is what ingest and compaction use: lookups of a batch's distinct ids in batched
calls, behind a per-container cache. Released texts are kept for good (a release is never
undone). "Not common" is kept until the count marks a text common: each count that does writes a
mark item (`#counted`), read with every lookup (or alone when every id is cached), and a new mark
drops the program's cached "not common" answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
LOOKUP_CONCURRENCY = 8
MAX_UNPROCESSED_ROUNDS = 3
COMMON = "common"
RELEASED = "released"
MARK = "#counted"  # the item a count that found common texts updates (not a text id: no "h:")
# Every attribute the hourly count writes (`mark_common`): never a text. IAM holds it to these.
COUNT_WRITES = ("program", "text_id", "status", "people", "common_at", "at")


class TextStoreError(Exception):
    """The vocabulary could not be read or written; callers treat every text as pending."""


@dataclass
class Resolution:
    """What a lookup found: released texts by id, and what it cost."""

    released: dict[str, str] = field(default_factory=dict)
    released_now: int = 0  # texts this call released (the first batch carrying a common text)
    calls: int = 0  # DynamoDB requests made
    failed: bool = False  # the store could not answer: everything not cached stays pending


class TextStore:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        pending_ttl_s: float = 3600.0,
        max_cached: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dynamodb, self.table = dynamodb, table
        self._pending_ttl_s, self._max_cached, self._clock = pending_ttl_s, max_cached, clock
        self._released: dict[tuple[str, str], str] = {}
        self._pending_until: dict[tuple[str, str], float] = {}
        self._marks: dict[str, str] = {}  # program -> the mark its cached answers were read at

    def clear_cache(self) -> None:
        """Forget what this container learnt (as a new container starts)."""
        self._released.clear()
        self._pending_until.clear()
        self._marks.clear()

    # -- ingest and compaction ---------------------------------------------------------------

    def resolve(
        self, program: str, texts: Mapping[str, str | None], *, now_s: float | None = None
    ) -> Resolution:
        """The released text of each id in `texts`. Where a text is common but not yet
        released and `texts` carries it, release it now. `texts` maps id -> canonical text, or
        None where the caller has only the id (compaction)."""
        result = Resolution()
        wanted: list[str] = []
        cached_pending: list[str] = []
        now = self._clock()
        for tid in texts:
            cached = self._released.get((program, tid))
            if cached is not None:
                result.released[tid] = cached
            elif self._pending_until.get((program, tid), 0.0) > now:
                cached_pending.append(tid)
            else:
                wanted.append(tid)
        if not wanted and not cached_pending:
            return result
        try:
            items = self._batch_get(program, [*wanted, MARK], result) if wanted else {}
            mark = self._mark(program, items, asked=bool(wanted), result=result)
            if mark != self._marks.get(program):
                # a count marked texts common since these answers were cached: ask again
                self._forget_pending(program)
                self._marks[program] = mark
                if cached_pending:
                    items |= self._batch_get(program, cached_pending, result)
                    wanted += cached_pending
        except TextStoreError:
            result.failed = True
            return result
        for tid in wanted:
            item = items.get(tid)
            text = _text(item)
            if text is None and item is not None and texts[tid] is not None:
                try:
                    text = self._release(program, tid, texts[tid] or "", now_s, result)
                except TextStoreError:
                    result.failed = True
            if text is not None:
                result.released[tid] = text
                self._remember(program, tid, text)
            elif item is None:
                if len(self._pending_until) >= self._max_cached:
                    self._pending_until.clear()
                self._pending_until[(program, tid)] = now + self._pending_ttl_s
        return result

    def _mark(self, program: str, items: dict[str, Any], *, asked: bool, result: Resolution) -> str:
        """The program's mark, from a lookup that `asked` for it, or read alone."""
        item: dict[str, Any] | None = items.pop(MARK, None)
        if not asked:
            result.calls += 1
            try:
                item = self._dynamodb.get_item(
                    TableName=self.table,
                    Key={"program": {"S": program}, "text_id": {"S": MARK}},
                    ProjectionExpression="#at",
                    ExpressionAttributeNames={"#at": "at"},
                    ConsistentRead=True,
                ).get("Item")
            except (BotoCoreError, ClientError):
                raise TextStoreError() from None
        return str((item or {}).get("at", {}).get("N", ""))

    def _forget_pending(self, program: str) -> None:
        for key in [k for k in self._pending_until if k[0] == program]:
            del self._pending_until[key]

    def _batch_get(self, program: str, ids: list[str], result: Resolution) -> dict[str, Any]:
        """The items of `ids` (absent ones are pending), BATCH_GET_KEYS per request and up to
        LOOKUP_CONCURRENCY requests in flight: a batch of all-new texts waits for one round
        trip per LOOKUP_CONCURRENCY requests, not one per request."""
        chunks = [ids[i : i + BATCH_GET_KEYS] for i in range(0, len(ids), BATCH_GET_KEYS)]
        if len(chunks) == 1:
            answers = [self._get_chunk(program, chunks[0])]
        else:
            with ThreadPoolExecutor(LOOKUP_CONCURRENCY, thread_name_prefix="texts") as pool:
                answers = list(pool.map(lambda chunk: self._get_chunk(program, chunk), chunks))
        found: dict[str, Any] = {}
        for items, calls in answers:
            found.update(items)
            result.calls += calls
        return found

    def _get_chunk(self, program: str, ids: list[str]) -> tuple[dict[str, Any], int]:
        request: dict[str, Any] = {
            self.table: {
                "Keys": [{"program": {"S": program}, "text_id": {"S": tid}} for tid in ids],
                "ProjectionExpression": "text_id, #s, #t, #at",
                "ExpressionAttributeNames": {"#s": "status", "#t": "text", "#at": "at"},
                # consistent: a text just marked common is not taken for pending for an hour
                "ConsistentRead": True,
            }
        }
        found: dict[str, Any] = {}
        for calls in range(1, MAX_UNPROCESSED_ROUNDS + 1):
            try:
                answer = self._dynamodb.batch_get_item(RequestItems=request)
            except (BotoCoreError, ClientError):
                raise TextStoreError() from None
            for item in answer.get("Responses", {}).get(self.table, []):
                found[item["text_id"]["S"]] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found, calls
        raise TextStoreError()  # throttled throughout: fail closed, try next time

    def _release(
        self, program: str, tid: str, text: str, now_s: float | None, result: Resolution
    ) -> str | None:
        """Store the text of a common id, once: the conditional write succeeds for exactly one
        batch; the others read back the text it stored."""
        result.calls += 1
        try:
            self._dynamodb.update_item(
                TableName=self.table,
                Key={"program": {"S": program}, "text_id": {"S": tid}},
                UpdateExpression="SET #s = :released, #t = :text, released_at = :now",
                ConditionExpression="#s = :common",
                ExpressionAttributeNames={"#s": "status", "#t": "text"},
                ExpressionAttributeValues={
                    ":released": {"S": RELEASED},
                    ":common": {"S": COMMON},
                    ":text": {"S": text},
                    ":now": {"N": str(int(now_s if now_s is not None else time.time()))},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise TextStoreError() from None
            return _text(exc.response.get("Item"))  # released meanwhile by another batch
        except BotoCoreError:
            raise TextStoreError() from None
        result.released_now += 1
        return text

    def _remember(self, program: str, tid: str, text: str) -> None:
        if len(self._released) >= self._max_cached:
            self._released.clear()
        self._released[(program, tid)] = text
        self._pending_until.pop((program, tid), None)

    # -- the hourly count --------------------------------------------------------------------

    def mark_common(self, program: str, counts: Mapping[str, int], *, now_s: float) -> int:
        """Record texts that reached the threshold (no text: the count has only ids); returns
        how many were new. An existing item (common or released) is left as it is. Then the
        mark, so that every container asks again about the texts it took for not common."""
        marked = 0
        for tid, people in counts.items():
            try:
                self._dynamodb.put_item(
                    TableName=self.table,
                    Item={
                        "program": {"S": program},
                        "text_id": {"S": tid},
                        "status": {"S": COMMON},
                        "people": {"N": str(people)},
                        "common_at": {"N": str(int(now_s))},
                    },
                    ConditionExpression="attribute_not_exists(text_id)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise TextStoreError() from None
                continue
            except BotoCoreError:
                raise TextStoreError() from None
            marked += 1
        if counts:
            try:
                self._dynamodb.put_item(
                    TableName=self.table,
                    Item={
                        "program": {"S": program},
                        "text_id": {"S": MARK},
                        "at": {"N": str(time.time_ns())},
                    },
                )
            except (BotoCoreError, ClientError):
                raise TextStoreError() from None
        return marked

    # -- purge ----------------------------------------------------------------------------------

    def delete_page(self, program: str, limit: int = 25) -> tuple[int, bool]:
        """Delete up to `limit` (<= 25) of the program's items; (deleted, more left)."""
        answer = self._dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": "program"},
            ExpressionAttributeValues={":p": {"S": program}},
            ProjectionExpression="#p, text_id",
            Limit=min(25, max(1, limit)),
        )
        keys = [{"program": i["program"], "text_id": i["text_id"]} for i in answer["Items"]]
        if not keys:
            return 0, False
        written = self._dynamodb.batch_write_item(
            RequestItems={self.table: [{"DeleteRequest": {"Key": k}} for k in keys]}
        )
        left = len((written.get("UnprocessedItems") or {}).get(self.table, []))
        # what DynamoDB did not process is found and deleted by the next page
        return len(keys) - left, bool(answer.get("LastEvaluatedKey")) or left > 0

    def count(self, program: str) -> int:
        """How many items the program has (purge verifies zero)."""
        total, start = 0, None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "#p = :p",
                "ExpressionAttributeNames": {"#p": "program"},
                "ExpressionAttributeValues": {":p": {"S": program}},
                "Select": "COUNT",
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            answer = self._dynamodb.query(**kwargs)
            total += int(answer["Count"])
            start = answer.get("LastEvaluatedKey")
            if not start:
                return total


def _text(item: Mapping[str, Any] | None) -> str | None:
    if not item or item.get("status", {}).get("S") != RELEASED:
        return None
    text = item.get("text", {}).get("S")
    return text if isinstance(text, str) else None
