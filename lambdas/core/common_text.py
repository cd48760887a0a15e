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
pending counts, merged and counted. lambdas/adapters/text_store.py keeps the released texts
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
    flat = _flat(texts, ids)
    if flat is None:  # shapes differ (a file mixing policies): a row at a time
        return _fill_lists_by_row(texts, ids, released)
    labels, label_ids, whole = flat
    keys = pa.array(list(released), pa.string())
    wanted = pc.and_(pc.is_null(labels), pc.is_in(label_ids, value_set=keys))
    filled = pc.sum(wanted).as_py() or 0
    if not filled:
        return texts, 0
    values = pa.array(list(released.values()), pa.string())
    found = pc.take(values, pc.index_in(label_ids, value_set=keys))
    offsets = pc.subtract(whole.offsets, whole.offsets[0])
    rebuilt = pa.ListArray.from_arrays(
        offsets, pc.if_else(wanted, found, labels), type=texts.type, mask=whole.is_null()
    )
    return pa.chunked_array([rebuilt], texts.type), filled


def _flat(
    texts: pa.ChunkedArray, ids: pa.ChunkedArray
) -> tuple[pa.Array, pa.Array, pa.ListArray] | None:
    """The labels and their ids, flattened side by side, and the labels' list array; None when
    a row's labels and ids differ in number."""
    whole = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    whole_ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    if whole_ids.null_count == len(whole_ids):  # no label kept in "common" mode
        nothing = pa.array([], pa.string())
        return nothing, nothing, whole
    same = pc.equal(pc.list_value_length(whole), pc.list_value_length(whole_ids))
    labels, label_ids = pc.list_flatten(whole), pc.list_flatten(whole_ids)
    if len(labels) != len(label_ids) or not pc.all(same).as_py():
        return None
    return labels, label_ids, whole


def _fill_lists_by_row(
    texts: pa.ChunkedArray, ids: pa.ChunkedArray, released: Mapping[str, str]
) -> tuple[pa.ChunkedArray, int]:
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
        texts, ids = table[field.text], table[field.id]
        if field.is_list:
            flat = _flat(texts, ids)
            if flat is None:
                for labels, label_ids in zip(texts.to_pylist(), ids.to_pylist(), strict=True):
                    found.update(
                        i
                        for label, i in zip(labels or (), label_ids or (), strict=False)
                        if label is None and i is not None
                    )
                continue
            texts, ids, _ = flat
        waiting = pc.and_(pc.is_null(texts), pc.is_valid(ids))
        found.update(pc.unique(ids.filter(waiting)).to_pylist())
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
    pairs: list[pa.Table] = []
    for field in TEXT_FIELDS:
        if field.id not in table.column_names or table.num_rows == 0:
            continue
        texts, ids, subjects = table[field.text], table[field.id], table["subject_pid"]
        if field.is_list:
            flat = _flat(texts, ids)
            if flat is None:
                continue  # not written in "common" mode
            texts, ids, whole = flat
            subjects = pc.take(subjects, pc.list_parent_indices(whole))
        waiting = pc.and_(pc.is_null(texts), pc.is_valid(ids))
        pairs.append(
            pa.table({"text_id": ids.filter(waiting), "subject_pid": subjects.filter(waiting)})
        )
    if not pairs:
        return PENDING.empty_table()
    distinct = (
        pa.concat_tables(pairs)
        .group_by(["text_id", "subject_pid"], use_threads=False)
        .aggregate([])
        .sort_by([("text_id", "ascending"), ("subject_pid", "ascending")])
    )
    n = distinct.num_rows
    return pa.table(
        {
            "text_id": distinct["text_id"],
            "agent_pid": pa.array([agent_pid] * n, pa.string()),
            "subject_pid": distinct["subject_pid"],
            "last_seen_hour": pa.array([hour] * n, pa.int32()),
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
    contributions older than `oldest_hour` and those of suppressed (erased) subjects dropped."""
    table = pa.concat_tables([p.select(PENDING.names).cast(PENDING) for p in parts])
    keep = pc.greater_equal(table["last_seen_hour"], oldest_hour)
    if suppressed:
        gone = pc.is_in(table["subject_pid"], value_set=pa.array(sorted(suppressed), pa.string()))
        keep = pc.and_(keep, pc.invert(gone))
    table = table.filter(keep)
    # a few hundred people stand behind millions of rows: grouping on their dictionary codes
    # takes a third of the time and no more memory than the rows
    for name in ("agent_pid", "subject_pid"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pc.dictionary_encode(table[name]))
    grouped = table.group_by(["text_id", "agent_pid", "subject_pid"], use_threads=False).aggregate(
        [("last_seen_hour", "max")]
    )
    merged = grouped.rename_columns({"last_seen_hour_max": "last_seen_hour"}).select(PENDING.names)
    return merged.cast(PENDING)


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
    """The texts that at least `min_people` people sent, with their counts. Most texts have one
    contributor: only those with at least `min_people` contributions are counted in full."""
    counts = pc.value_counts(pending["text_id"])
    enough = counts.filter(pc.greater_equal(counts.field("counts"), min_people)).field("values")
    if len(enough) == 0:
        return {}
    counted = people(pending.filter(pc.is_in(pending["text_id"], value_set=enough)))
    reached = counted.filter(pc.greater_equal(counted["people"], min_people))
    return dict(zip(reached["text_id"].to_pylist(), reached["people"].to_pylist(), strict=True))


def without_texts(pending: pa.Table, ids: Iterable[str]) -> pa.Table:
    """The pending table without the given texts (they are common now: counted no more)."""
    done = pa.array(sorted(set(ids)), pa.string())
    if len(done) == 0:
        return pending
    return pending.filter(pc.invert(pc.is_in(pending["text_id"], value_set=done)))
