"""Common text only: free text is kept in clear once `min_people` distinct people have sent it.

Free text a program keeps (window titles, target names, menu labels, URL hosts) can hold what no
detector recognises: a question typed into a chat tab's title, a message subject, a review page.
Such a text is seen by one or two people; a dialog title, a button label or a menu item by many.
So in `common` mode a text is stored in clear only once enough distinct people have sent it
(k-anonymous release, as the Privacy Sandbox k-anonymity server does with k = 50). Until then a
row holds only the text's id, an HMAC of the text under the program's secret that analysts can
count and group by but not read, and the text itself is stored nowhere. docs/common-text.md
tells the whole mechanism.

This module is the pure part: the canonical text and its id; filling released texts into lake
rows (ingest and compaction both do it); the pending contributions a batch file holds; and the
pending counts, merged and counted. lambdas/core/text_store.py keeps the released texts
(DynamoDB); lambdas/compaction/counting.py keeps the pending counts (S3) and counts hourly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from .pseudonym import Pseudonymizer

WINDOW_DAYS = 30  # people are counted over this lookback; older contributions expire
AGENT_METADATA = b"ilake.agent"  # a batch file's sender: the pseudonym of its enrolled agent


@dataclass(frozen=True, slots=True)
class TextField:
    """A lake column that may hold a common text, and its sibling id column."""

    text: str
    id: str
    is_list: bool = False


TEXT_FIELDS: tuple[TextField, ...] = (
    TextField("window_title", "window_title_id"),
    TextField("window_host", "window_host_id"),
    TextField("target_name", "target_name_id"),
    TextField("menu_path", "menu_path_ids", is_list=True),
)


def canonical(redacted: str) -> str:
    """The form a text is counted, identified and released in: runs of white space as one
    space, none at the ends ("Save  As " and "Save As" are the same text to a person)."""
    return " ".join(redacted.split())


def text_id(pseudonyms: Pseudonymizer, text: str) -> str:
    """The id of a canonical text: an HMAC under the program's secret (the same keyed hash a
    `hash` mode stores), so that nobody without the secret can test a guess against it."""
    return pseudonyms.text_hash(text)


# -- filling released texts into rows ------------------------------------------------------------


def fill(table: pa.Table, released: Mapping[str, str]) -> tuple[pa.Table, int]:
    """`table` with every pending text whose id is in `released` filled in, and how many values
    were filled. Rows keep their ids; a text that is not released stays null."""
    if not released or table.num_rows == 0:
        return table, 0
    keys = pa.array(list(released), pa.string())
    values = pa.array(list(released.values()), pa.string())
    filled_total = 0
    for field in TEXT_FIELDS:
        if field.id not in table.column_names:
            continue
        if field.is_list:
            column, filled = _fill_lists(table[field.text], table[field.id], released)
        else:
            column, filled = _fill_scalars(table[field.text], table[field.id], keys, values)
        if filled:
            index = table.schema.get_field_index(field.text)
            table = table.set_column(index, table.schema.field(index), column)
            filled_total += filled
    return table, filled_total


def _fill_scalars(
    texts: pa.ChunkedArray, ids: pa.ChunkedArray, keys: pa.Array, values: pa.Array
) -> tuple[pa.ChunkedArray, int]:
    wanted = pc.and_(pc.is_null(texts), pc.is_in(ids, value_set=keys))
    filled = pc.sum(wanted).as_py() or 0
    if not filled:
        return texts, 0
    found = pc.take(values, pc.index_in(ids, value_set=keys))
    return pc.if_else(wanted, found, texts), filled


def _fill_lists(
    texts: pa.ChunkedArray, ids: pa.ChunkedArray, released: Mapping[str, str]
) -> tuple[pa.ChunkedArray, int]:
    # menu paths are a small share of rows: a row at a time is fast enough and plainly right
    rows, filled = [], 0
    for labels, label_ids in zip(texts.to_pylist(), ids.to_pylist(), strict=True):
        if labels is not None and label_ids is not None and None in labels:
            labels = list(labels)
            for i, (label, label_id) in enumerate(zip(labels, label_ids, strict=False)):
                if label is None and label_id in released:
                    labels[i] = released[label_id]
                    filled += 1
        rows.append(labels)
    if not filled:
        return texts, 0
    return pa.chunked_array([pa.array(rows, texts.type)], texts.type), filled


# -- what rows still wait for ------------------------------------------------------------------


def pending_ids(table: pa.Table) -> set[str]:
    """The ids of every text in `table` that is not (yet) stored in clear."""
    found: set[str] = set()
    for field in TEXT_FIELDS:
        if field.id not in table.column_names:
            continue
        if field.is_list:
            for labels, label_ids in zip(
                table[field.text].to_pylist(), table[field.id].to_pylist(), strict=True
            ):
                if label_ids:
                    found.update(
                        i
                        for label, i in zip(labels or (), label_ids, strict=False)
                        if label is None and i is not None
                    )
        else:
            waiting = pc.and_(pc.is_null(table[field.text]), pc.is_valid(table[field.id]))
            found.update(pc.unique(table[field.id].filter(waiting)).to_pylist())
    return found


# -- pending counts ------------------------------------------------------------------------------

# One row per (text, agent, subject) that sent a pending text within the window.
PENDING = pa.schema(
    [
        pa.field("text_id", pa.string(), nullable=False),
        pa.field("agent_pid", pa.string(), nullable=False),
        pa.field("subject_pid", pa.string(), nullable=False),
        pa.field("last_seen_hour", pa.int32(), nullable=False),  # hours since the epoch
    ]
)


def contributions(table: pa.Table, agent_pid: str, hour: int) -> pa.Table:
    """What one batch file adds to the pending counts: its sender's agent, and each distinct
    (pending text, subject) in it."""
    pairs: set[tuple[str, str]] = set()
    subjects = table["subject_pid"].to_pylist() if table.num_rows else []
    for field in TEXT_FIELDS:
        if field.id not in table.column_names:
            continue
        if field.is_list:
            for subject, labels, label_ids in zip(
                subjects, table[field.text].to_pylist(), table[field.id].to_pylist(), strict=True
            ):
                for label, label_id in zip(labels or (), label_ids or (), strict=False):
                    if label is None and label_id is not None:
                        pairs.add((label_id, subject))
        else:
            waiting = pc.and_(pc.is_null(table[field.text]), pc.is_valid(table[field.id]))
            if pc.any(waiting).as_py():
                kept = table.select([field.id, "subject_pid"]).filter(waiting)
                pairs.update(
                    zip(kept[field.id].to_pylist(), kept["subject_pid"].to_pylist(), strict=True)
                )
    ordered = sorted(pairs)
    return pa.table(
        {
            "text_id": pa.array([p[0] for p in ordered], pa.string()),
            "agent_pid": pa.array([agent_pid] * len(ordered), pa.string()),
            "subject_pid": pa.array([p[1] for p in ordered], pa.string()),
            "last_seen_hour": pa.array([hour] * len(ordered), pa.int32()),
        },
        schema=PENDING,
    )


def merge_pending(
    parts: Iterable[pa.Table],
    *,
    oldest_hour: int,
    suppressed: frozenset[str] = frozenset(),
) -> pa.Table:
    """One pending table from several: each (text, agent, subject) once, with its latest hour;
    contributions older than `oldest_hour` and those of suppressed (erased) subjects dropped.
    Sorted by text id, so a text's contributors sit together."""
    table = pa.concat_tables([p.select(PENDING.names).cast(PENDING) for p in parts])
    keep = pc.greater_equal(table["last_seen_hour"], oldest_hour)
    if suppressed:
        gone = pc.is_in(table["subject_pid"], value_set=pa.array(sorted(suppressed), pa.string()))
        keep = pc.and_(keep, pc.invert(gone))
    table = table.filter(keep)
    grouped = table.group_by(["text_id", "agent_pid", "subject_pid"], use_threads=False).aggregate(
        [("last_seen_hour", "max")]
    )
    merged = grouped.rename_columns({"last_seen_hour_max": "last_seen_hour"}).select(PENDING.names)
    return merged.cast(PENDING).sort_by([("text_id", "ascending")])


def people(pending: pa.Table) -> pa.Table:
    """Per pending text, how many people sent it: the distinct enrolled agents, but never more
    than the distinct subjects they reported. One agent credential cannot make a text common by
    reporting many subjects, and one person on two enrolled machines counts once."""
    if pending.num_rows == 0:
        return pa.table({"text_id": pa.array([], pa.string()), "people": pa.array([], pa.int64())})
    counted = pending.group_by("text_id", use_threads=False).aggregate(
        [("agent_pid", "count_distinct"), ("subject_pid", "count_distinct")]
    )
    return pa.table(
        {
            "text_id": counted["text_id"],
            "people": pc.min_element_wise(
                counted["agent_pid_count_distinct"], counted["subject_pid_count_distinct"]
            ),
        }
    )


def common(pending: pa.Table, min_people: int) -> dict[str, int]:
    """The texts that at least `min_people` people sent, with their counts."""
    counted = people(pending)
    reached = counted.filter(pc.greater_equal(counted["people"], min_people))
    return dict(zip(reached["text_id"].to_pylist(), reached["people"].to_pylist(), strict=True))


def without_texts(pending: pa.Table, ids: Iterable[str]) -> pa.Table:
    """The pending table without the given texts (they are common now: counted no more)."""
    done = pa.array(sorted(set(ids)), pa.string())
    if len(done) == 0:
        return pending
    return pending.filter(pc.invert(pc.is_in(pending["text_id"], value_set=done)))
