"""Common text only: pending texts as rows hold them, their ids, release by filling, and the
rules that count people (lambdas/core/common_text.py and the pipeline's "common" mode)."""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.core import common_text as ct
from lambdas.core.pseudonym import Pseudonymizer
from tests.support.builders import SECRET, make_event, make_program
from tests.support.data_path import rows, run, strings_in

PSEUDONYMS = Pseudonymizer(SECRET)
PRIVATE = "Re: your performance improvement plan"


def tid(text: str) -> str:
    return ct.text_id(PSEUDONYMS, text)


# -- what a batch stores while its texts are pending ----------------------------------------------


def pending_run(events: list[dict[str, Any]], **text: Any) -> Any:
    return run(events, make_program(text=text or None), released=False)


def test_a_pending_text_is_stored_as_its_id_only() -> None:
    event = make_event(
        "menu.select",
        window={"title": PRIVATE, "url": "https://hr.example.com/review/42"},
        target={"role": "menuitem", "name": "Share with manager"},
        menu_path=["File", "Share with manager"],
    )
    outcome = pending_run([event])
    (row,) = rows(outcome)
    assert row["window_title"] is None
    assert row["window_title_id"] == tid(PRIVATE)
    assert row["window_host"] is None
    assert row["window_host_id"] == tid("hr.example.com")
    assert row["target_name"] is None
    assert row["target_name_id"] == tid("Share with manager")
    assert row["menu_path"] == [None, None]
    assert row["menu_path_ids"] == [tid("File"), tid("Share with manager")]
    for needle in (PRIVATE, "hr.example.com", "Share with manager", "File"):
        assert not any(needle in cell for cell in strings_in(outcome.table))
    # in memory only, for the release step: every id of the stored rows, with its text
    assert outcome.common_texts == {
        tid(PRIVATE): PRIVATE,
        tid("hr.example.com"): "hr.example.com",
        tid("Share with manager"): "Share with manager",
        tid("File"): "File",
    }


def test_the_id_is_of_the_redacted_canonical_text() -> None:
    """Personal data goes first, so one person's e-mail address does not make a shared title
    unique; white space does not make two texts of one."""
    events = [
        make_event(window={"title": "Inbox - jane.roe@example.com - Mail"}),
        make_event(window={"title": "  Inbox -  bob@example.org - Mail "}),
    ]
    outcome = pending_run(events)
    ids = {r["window_title_id"] for r in rows(outcome)}
    assert ids == {tid("Inbox - <EMAIL> - Mail")}
    assert outcome.common_texts == {tid("Inbox - <EMAIL> - Mail"): "Inbox - <EMAIL> - Mail"}
    assert outcome.redactions == {"email": 2}  # the detectors still count what they found


def test_one_text_has_one_id_in_every_field() -> None:
    events = [
        make_event("pointer.click", window={"title": "Save"}, target={"name": "Save"}),
        make_event("menu.select", window={"title": "x"}, menu_path=["Save"]),
    ]
    click, menu = rows(pending_run(events))
    assert click["window_title_id"] == click["target_name_id"] == menu["menu_path_ids"][0]


def test_ids_differ_between_programs() -> None:
    other = Pseudonymizer(b"another-program-secret-0123456789")
    assert ct.text_id(other, "Save") != tid("Save")


def test_empty_text_has_no_id() -> None:
    (row,) = rows(pending_run([make_event(window={"title": "   "})]))
    assert row["window_title"] is row["window_title_id"] is None


def test_hash_and_drop_modes_have_no_ids() -> None:
    event = make_event("menu.select", window={"title": PRIVATE}, menu_path=["File"])
    (row,) = rows(pending_run([event], window_titles="hash", menu_labels="drop"))
    assert row["window_title"] == PSEUDONYMS.text_hash(PRIVATE)
    assert row["window_title_id"] is None
    assert row["menu_path"] is row["menu_path_ids"] is None


def test_texts_of_refused_events_are_not_kept_for_release() -> None:
    denied = make_event(app={"name": "Slack", "bundle_id": "com.slack"}, window={"title": "DM"})
    late = make_event(window={"title": "Too late"}, ts=1)
    kept = make_event(window={"title": "Kept"})
    outcome = pending_run([denied, late, kept])
    assert outcome.accepted == 1
    assert set(outcome.common_texts.values()) == {"Kept"}


# -- release: filling texts into rows -------------------------------------------------------------


def test_fill_puts_released_texts_in_and_keeps_the_ids() -> None:
    event = make_event(
        "menu.select",
        window={"title": PRIVATE},
        target={"name": "Share"},
        menu_path=["File", "Share with manager"],
    )
    outcome = pending_run([event, make_event(window={"title": PRIVATE})])
    released = {tid("File"): "File", tid("Share"): "Share"}
    table, filled = ct.fill(outcome.table, released)
    first, second = table.to_pylist()
    assert filled == 2
    assert first["menu_path"] == ["File", None]
    assert first["menu_path_ids"] == [tid("File"), tid("Share with manager")]
    assert first["target_name"] == "Share"
    assert first["window_title"] is second["window_title"] is None
    assert ct.pending_ids(table) == {tid(PRIVATE), tid("Share with manager")}
    assert table.schema == outcome.table.schema


def test_fill_with_nothing_released_returns_the_same_table() -> None:
    outcome = pending_run([make_event()])
    assert ct.fill(outcome.table, {}) == (outcome.table, 0)
    assert ct.fill(outcome.table, {tid("unrelated"): "unrelated"}) == (outcome.table, 0)


def test_fill_never_replaces_a_text_in_clear() -> None:
    outcome = pending_run([make_event(window={"title": "A"})])
    once, _ = ct.fill(outcome.table, {tid("A"): "A"})
    twice, filled = ct.fill(once, {tid("A"): "something else"})
    assert filled == 0
    assert twice.column("window_title").to_pylist() == ["A"]


def test_released_rows_equal_the_rows_of_a_batch_after_release() -> None:
    events = [make_event(window={"title": "Budget - Excel"}), make_event(menu_path=["File"])]
    pending = pending_run(events)
    released, _ = ct.fill(pending.table, pending.common_texts)
    assert ct.pending_ids(released) == set()
    assert released.column("window_title").to_pylist()[0] == "Budget - Excel"


# -- counting people ------------------------------------------------------------------------------


def contribution_table(triples: list[tuple[str, str, str]], hour: int = 100) -> pa.Table:
    return pa.table(
        {
            "text_id": [t[0] for t in triples],
            "agent_pid": [t[1] for t in triples],
            "subject_pid": [t[2] for t in triples],
            "last_seen_hour": pa.array([hour] * len(triples), pa.int32()),
        },
        schema=ct.PENDING,
    )


def count(triples: list[tuple[str, str, str]]) -> dict[str, int]:
    merged = ct.merge_pending([contribution_table(triples)], oldest_hour=0)
    return dict(
        zip(
            ct.people(merged)["text_id"].to_pylist(),
            ct.people(merged)["people"].to_pylist(),
            strict=True,
        )
    )


def test_people_are_distinct_agents_no_more_than_distinct_subjects() -> None:
    assert count([("t", f"agent-{i}", f"subject-{i}") for i in range(7)]) == {"t": 7}
    # one agent credential reporting many subjects is one person
    assert count([("t", "agent-1", f"subject-{i}") for i in range(50)]) == {"t": 1}
    # one person on several enrolled machines is one person
    assert count([("t", f"agent-{i}", "subject-1") for i in range(50)]) == {"t": 1}


def test_common_returns_the_texts_at_or_above_the_threshold() -> None:
    triples = [("a", f"g{i}", f"s{i}") for i in range(5)] + [
        ("b", f"g{i}", f"s{i}") for i in range(4)
    ]
    merged = ct.merge_pending([contribution_table(triples)], oldest_hour=0)
    assert ct.common(merged, 5) == {"a": 5}
    assert ct.common(merged, 4) == {"a": 5, "b": 4}
    assert ct.without_texts(merged, ["a"])["text_id"].to_pylist() == ["b"] * 4


def test_merge_keeps_each_contribution_once_with_its_latest_hour() -> None:
    old = contribution_table([("t", "g1", "s1")], hour=10)
    new = contribution_table([("t", "g1", "s1"), ("u", "g2", "s2")], hour=12)
    merged = ct.merge_pending([old, new, new], oldest_hour=0)
    assert sorted(merged.to_pylist(), key=lambda r: r["text_id"]) == [
        {"text_id": "t", "agent_pid": "g1", "subject_pid": "s1", "last_seen_hour": 12},
        {"text_id": "u", "agent_pid": "g2", "subject_pid": "s2", "last_seen_hour": 12},
    ]


def test_merge_forgets_old_contributions_and_erased_subjects() -> None:
    old = contribution_table([("t", "g1", "s1"), ("t", "g2", "s2")], hour=10)
    new = contribution_table([("t", "g3", "s3"), ("t", "g4", "s4")], hour=20)
    merged = ct.merge_pending([old, new], oldest_hour=15, suppressed=frozenset({"s4"}))
    assert merged["subject_pid"].to_pylist() == ["s3"]


triples = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2", "t3"]),
        st.sampled_from([f"agent-{i}" for i in range(8)]),
        st.sampled_from([f"subject-{i}" for i in range(8)]),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(triples, st.integers(1, 4), st.randoms(use_true_random=False))
def test_retries_replays_and_order_never_count_anyone_twice(
    contributions: list[tuple[str, str, str]], copies: int, rnd: Any
) -> None:
    """For all contributions: sending them again (retries, replays, the same batch stored twice)
    and in any order, split over any number of hourly merges, gives the same counts; and a
    text's count never exceeds its distinct agents or its distinct subjects."""
    once = count(contributions)
    repeated = contributions * copies
    rnd.shuffle(repeated)
    cuts = sorted(rnd.sample(range(len(repeated) + 1), min(3, len(repeated) + 1)))
    state = ct.merge_pending([contribution_table([])], oldest_hour=0)
    for start, end in itertools.pairwise([0, *cuts, len(repeated)]):
        state = ct.merge_pending([state, contribution_table(repeated[start:end])], oldest_hour=0)
    counted = ct.people(state)
    assert (
        dict(zip(counted["text_id"].to_pylist(), counted["people"].to_pylist(), strict=True))
        == once
    )
    for text, n in once.items():
        agents = {a for t, a, _ in contributions if t == text}
        subjects = {s for t, _, s in contributions if t == text}
        assert n == min(len(agents), len(subjects))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.integers(5, 12))
def test_one_agent_never_makes_a_text_common_by_itself(subjects: int, k: int) -> None:
    state = contribution_table([("t", "agent-1", f"subject-{i}") for i in range(subjects)])
    assert ct.common(ct.merge_pending([state], oldest_hour=0), k) == {}


# -- a batch file's contributions -----------------------------------------------------------------


def test_contributions_are_the_pending_texts_of_a_file_with_its_sender() -> None:
    events = [
        make_event("menu.select", subject="jdoe", window={"title": PRIVATE}, menu_path=["File"]),
        make_event(subject="asmith", window={"title": PRIVATE}),
        make_event(subject="asmith", window={"title": PRIVATE}),
    ]
    outcome = pending_run(events)
    released, _ = ct.fill(outcome.table, {tid("File"): "File"})
    got = ct.contributions(released, "agent-pid", hour=7)
    pid = {name: PSEUDONYMS.pid("subject", name) for name in ("jdoe", "asmith")}
    assert sorted(
        zip(got["text_id"].to_pylist(), got["subject_pid"].to_pylist(), strict=True)
    ) == sorted([(tid(PRIVATE), pid["jdoe"]), (tid(PRIVATE), pid["asmith"])])
    assert set(got["agent_pid"].to_pylist()) == {"agent-pid"}
    assert set(got["last_seen_hour"].to_pylist()) == {7}


def test_a_released_text_is_no_contribution() -> None:
    outcome = run([make_event(window={"title": "Save As"})])  # released
    assert ct.contributions(outcome.table, "a", 1).num_rows == 0


@pytest.mark.parametrize("field", ct.TEXT_FIELDS, ids=lambda f: f.text)
def test_every_text_column_has_its_id_column(field: ct.TextField) -> None:
    from lambdas.core.lake import INTERACTIONS

    assert INTERACTIONS.field(field.text).type == INTERACTIONS.field(field.id).type


label_lists = st.lists(
    st.one_of(
        st.none(),
        st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.booleans()), max_size=4),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(rows=label_lists, released=st.sets(st.sampled_from(["a", "b", "c", "d"])))
def test_menu_paths_fill_and_wait_as_a_row_at_a_time_would(
    rows: list[list[tuple[str, bool]] | None], released: set[str]
) -> None:
    """For all menu paths (pending labels as nulls beside their ids, some rows without any):
    the columnar fill and pending ids equal the plain row-at-a-time reference."""
    texts = pa.chunked_array(
        [pa.array([None if r is None else [t if shown else None for t, shown in r] for r in rows],
                  pa.list_(pa.string()))]
    )  # fmt: skip
    ids = pa.chunked_array(
        [pa.array([None if r is None else [f"h:{t}" for t, _ in r] for r in rows],
                  pa.list_(pa.string()))]
    )  # fmt: skip
    by_id = {f"h:{t}": t for t in released}
    columnar, filled = ct._fill_lists(texts, ids, by_id)
    reference, filled_by_row = ct._fill_lists_by_row(texts, ids, by_id)
    assert columnar.to_pylist() == reference.to_pylist()
    assert filled == filled_by_row
    table = pa.table({"menu_path": texts, "menu_path_ids": ids})
    expected = {f"h:{t}" for r in rows or [] if r is not None for t, shown in r if not shown}
    assert ct.pending_ids(table) == expected


def test_rows_of_another_mode_beside_common_ones_are_filled_a_row_at_a_time() -> None:
    """A compacted file may hold rows written under a hash-mode policy (labels, no ids) beside
    common-mode ones: the shapes differ, the fill still puts texts only where ids wait."""
    common = pending_run([make_event("menu.select", menu_path=["File", "Save"])])
    hashed = pending_run([make_event("menu.select", menu_path=["File"])], menu_labels="hash")
    table = pa.concat_tables([common.table, hashed.table])
    filled, n = ct.fill(table, {tid("File"): "File"})
    assert n == 1
    assert filled.column("menu_path").to_pylist() == [
        ["File", None],
        [PSEUDONYMS.text_hash("File")],
    ]
    assert ct.pending_ids(filled) == {tid("Save"), tid("main.py - project")}  # and the title
