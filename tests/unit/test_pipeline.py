"""The ingest core (docs/design.md): envelope, per-event validation, policy, table."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ilake import simulate
from lambdas.core.errors import IngestError, MalformedBatch, TooLarge, UnsupportedSchema
from lambdas.core.lake import INTERACTIONS, SCHEMA_VERSION
from lambdas.core.pipeline import DAY_MS, Limits
from lambdas.core.programs import load_programs
from lambdas.core.pseudonym import Pseudonymizer
from tests.support.builders import (
    PROGRAMS_DIR,
    RECEIVED_AT_MS,
    encode,
    make_batch,
    make_event,
    make_program,
)
from tests.support.data_path import assert_absent, epoch_ms, ingest, rows, run, strings_in

CANARY = "jane.roe@example.com"
REASONS = {
    "unknown_type", "missing_field", "wrong_type", "bad_length", "out_of_range", "invalid_value",
    "invalid_event", "ts_out_of_range", "duplicate_event_id", "type_not_allowed", "denied_app",
    "missing_display", "sampled_out", "suppressed_subject",
}  # fmt: skip


def one_row(events: list[Any], program: Any = None, **kw: Any) -> dict[str, Any]:
    outcome = run(events, program, **kw)
    assert outcome.rejected == {}
    [row] = rows(outcome)
    return row


def with_literal(batch: dict[str, Any], literal: str) -> bytes:
    """The batch's JSON with the string "__LITERAL__" replaced by a raw JSON token."""
    return encode(batch).replace(b'"__LITERAL__"', literal.encode())


# --- envelope errors ---------------------------------------------------------------------------


def _without(field: str) -> bytes:
    batch = make_batch([make_event()])
    del batch[field]
    return encode(batch)


ENVELOPE_ERRORS = [
    pytest.param(b'{"schema": "interaction/1", "batch_id": "' + CANARY.encode(), MalformedBatch,
                 id="truncated-json"),
    pytest.param(CANARY.encode(), MalformedBatch, id="not-json"),
    pytest.param(b"", MalformedBatch, id="empty"),
    pytest.param(json.dumps([CANARY]).encode(), MalformedBatch, id="array-not-object"),
    pytest.param(encode(make_batch([], batch_id=CANARY)), MalformedBatch, id="batch-id-not-uuid"),
    pytest.param(encode(make_batch([], sent_at=CANARY)), MalformedBatch, id="sent-at-string"),
    pytest.param(encode(make_batch([], sent_at=1.5e12)), MalformedBatch, id="sent-at-float"),
    pytest.param(encode(make_batch([], sent_at=-1)), MalformedBatch, id="sent-at-negative"),
    pytest.param(encode(make_batch([], agent=CANARY)), MalformedBatch, id="agent-string"),
    pytest.param(encode(make_batch([], agent={"version": 1, "os": CANARY})), MalformedBatch,
                 id="agent-version-int"),
    pytest.param(encode(make_batch([], agent={"version": CANARY * 4, "os": "x"})), MalformedBatch,
                 id="agent-version-too-long"),
    pytest.param(encode(make_batch([], schema=1)), MalformedBatch, id="schema-int"),
    pytest.param(_without("schema"), MalformedBatch, id="missing-schema"),
    pytest.param(_without("batch_id"), MalformedBatch, id="missing-batch-id"),
    pytest.param(_without("sent_at"), MalformedBatch, id="missing-sent-at"),
    pytest.param(_without("agent"), MalformedBatch, id="missing-agent"),
    pytest.param(_without("events"), MalformedBatch, id="missing-events"),
    pytest.param(encode(make_batch([], agent={"os": CANARY})), MalformedBatch,
                 id="missing-agent-version"),
    pytest.param(with_literal(make_batch([], sent_at="__LITERAL__"), "NaN"), MalformedBatch,
                 id="nan-literal"),
    pytest.param(with_literal(make_batch([], sent_at="__LITERAL__"), "Infinity"), MalformedBatch,
                 id="infinity-literal"),
    pytest.param(with_literal(make_batch([make_event(x="__LITERAL__", subject=CANARY)]), "NaN"),
                 MalformedBatch, id="nan-inside-events"),
    pytest.param(with_literal(make_batch([make_event(x="__LITERAL__", subject=CANARY)]),
                              "-Infinity"), MalformedBatch, id="minus-infinity-inside-events"),
    pytest.param(encode(make_batch([], schema="interaction/2")), UnsupportedSchema, id="major-2"),
    pytest.param(encode(make_batch([], schema="interaction/10")), UnsupportedSchema, id="major-10"),
    pytest.param(encode(make_batch([], schema="interaction/1.x")), UnsupportedSchema, id="minor-x"),
    pytest.param(encode(make_batch([], schema=CANARY)), UnsupportedSchema, id="schema-other"),
    pytest.param(encode(make_batch([], schema="")), UnsupportedSchema, id="schema-empty"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "error"), ENVELOPE_ERRORS)
def test_envelope_errors(body: bytes, error: type[IngestError]) -> None:
    with pytest.raises(error) as caught:
        ingest(body)
    assert caught.value.status == 400
    shown = json.dumps(caught.value.body()) + str(caught.value)
    assert CANARY not in shown
    assert "jane" not in shown


def test_envelope_error_names_only_our_field() -> None:
    with pytest.raises(MalformedBatch) as caught:
        ingest(encode(make_batch([], sent_at=CANARY)))
    assert caught.value.body()["field"] == "$.sent_at"


@pytest.mark.parametrize("schema", ["interaction/1", "interaction/1.3", "interaction/1.0"])
def test_schema_minor_versions_are_accepted(schema: str) -> None:
    outcome = run([make_event()], schema=schema)
    assert outcome.accepted == 1


def test_unknown_envelope_fields_are_ignored() -> None:
    outcome = run([make_event()], note=CANARY, agent={"version": "1", "os": "linux", "x": CANARY})
    assert outcome.accepted == 1
    assert_absent(outcome.table, CANARY)


@pytest.mark.parametrize("events", [{}, {"type": "pointer.move"}, CANARY, 5, None], ids=repr)
def test_events_not_a_list(events: Any) -> None:
    batch = make_batch([])
    batch["events"] = events
    with pytest.raises(MalformedBatch) as caught:
        ingest(encode(batch))
    assert CANARY not in json.dumps(caught.value.body())


def test_empty_events() -> None:
    outcome = run([])
    assert outcome.accepted == 0
    assert outcome.table is None
    assert outcome.rejected == {}
    assert outcome.redactions == {}


def test_more_than_max_events_is_too_large() -> None:
    limits = Limits(max_events=3)
    assert run([make_event() for _ in range(3)], limits=limits).accepted == 3
    with pytest.raises(TooLarge):
        run([make_event() for _ in range(4)], limits=limits)
    with pytest.raises(TooLarge):  # the event-by-event path counts too
        run([make_event(), make_event(), make_event(), make_event(type="bogus")], limits=limits)


def _valid_head() -> bytes:
    return encode(make_batch([]))[: -len(b"[]}")]


DEEP = 100_000


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * DEEP, id="bare-arrays"),
        pytest.param(b'{"events": ' + b"[" * DEEP, id="events-unclosed"),
        pytest.param(_valid_head() + b"[" * DEEP + b"]" * DEEP + b"}", id="events-closed"),
        pytest.param(_valid_head() + b'[{"a": ' * DEEP + b"1" + b"}]" * DEEP + b"}", id="objects"),
        pytest.param(_valid_head() + b"[" * DEEP, id="valid-envelope-unclosed"),
    ],
)
def test_deep_nesting_is_malformed_not_a_crash(body: bytes) -> None:
    with pytest.raises(MalformedBatch):
        ingest(body)


# --- per-event rejections ------------------------------------------------------------------------


def test_a_valid_event_of_every_type_is_accepted() -> None:
    events = [make_event(etype) for etype in sorted(simulate.WEIGHTS)]
    outcome = run(events)
    assert outcome.rejected == {}
    assert outcome.accepted == len(events)
    assert sorted(r["type"] for r in rows(outcome)) == sorted(simulate.WEIGHTS)


BAD_EVENTS = [
    pytest.param(make_event(type="keystroke.log"), "unknown_type", id="unknown-type"),
    pytest.param(make_event(type="POINTER.CLICK"), "unknown_type", id="type-case"),
    pytest.param(make_event("pointer.move", x=None), "missing_field", id="no-x"),
    pytest.param(make_event(event_id=None), "missing_field", id="no-event-id"),
    pytest.param(make_event(subject=None), "missing_field", id="no-subject"),
    pytest.param(make_event(type=None), "missing_field", id="no-type"),
    pytest.param(make_event(seq="1"), "wrong_type", id="seq-string"),
    pytest.param(make_event(x=True), "wrong_type", id="x-bool"),
    pytest.param(make_event(app="Slack"), "wrong_type", id="app-string"),
    pytest.param(make_event("key.shortcut", modifiers="ctrl"), "wrong_type", id="modifiers-str"),
    pytest.param(make_event("text.input", text="a" * (2**20 + 1)), "bad_length", id="huge-text"),
    pytest.param(make_event("clipboard", content="b" * (2**20 + 1)), "bad_length",
                 id="huge-clipboard"),
    pytest.param(make_event(window={"title": "t" * 1025}), "bad_length", id="huge-title"),
    pytest.param(make_event(subject="s" * 257), "bad_length", id="huge-subject"),
    pytest.param(make_event(subject=""), "bad_length", id="empty-subject"),
    pytest.param(make_event("key.press", key="k" * 33), "bad_length", id="huge-key"),
    pytest.param(make_event("menu.select", menu_path=["m"] * 17), "bad_length", id="deep-menu"),
    pytest.param(make_event(x=2_000_000), "out_of_range", id="huge-x"),
    pytest.param(make_event(y=-1e300), "out_of_range", id="huge-negative-y"),
    pytest.param(make_event(clicks=9), "out_of_range", id="clicks"),
    pytest.param(make_event(seq=-1), "out_of_range", id="negative-seq"),
    pytest.param(make_event(display={"w": 0, "h": 10}), "out_of_range", id="zero-width"),
    pytest.param(make_event(display={"w": 10, "h": 10, "scale": 0}), "out_of_range", id="scale"),
    pytest.param(make_event("pointer.scroll", dy=1e6), "out_of_range", id="scroll-delta"),
    pytest.param(make_event(button="huge"), "invalid_value", id="button"),
    pytest.param(make_event("clipboard", op="steal"), "invalid_value", id="clipboard-op"),
    pytest.param(make_event("key.shortcut", modifiers=["hyper"]), "invalid_value", id="modifier"),
    pytest.param(make_event(event_id="not-a-uuid"), "invalid_value", id="event-id-not-uuid"),
    pytest.param(make_event(event_id=str(uuid.uuid4()) + "0"), "invalid_value", id="event-id-long"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "reason"), BAD_EVENTS)
def test_bad_event_is_rejected_by_reason_and_the_rest_accepted(
    bad: dict[str, Any], reason: str
) -> None:
    outcome = run([make_event(), bad, make_event("key.press")])
    assert outcome.rejected == {reason: 1}
    assert outcome.accepted == 2
    assert_absent(outcome.table, "keystroke", "hyper", "steal")


@pytest.mark.parametrize("literal", ["1e309", "-1e309", "1e400", "123456789e300"])
def test_non_finite_coordinates_are_out_of_range(literal: str) -> None:
    body = with_literal(make_batch([make_event(), make_event(x="__LITERAL__")]), literal)
    outcome = ingest(body)
    assert outcome.rejected == {"out_of_range": 1}
    assert outcome.accepted == 1


def test_non_objects_in_the_event_list_are_rejected() -> None:
    outcome = run([make_event(), 1, CANARY, None, [make_event()]])
    assert outcome.accepted == 1
    assert outcome.rejected == {"wrong_type": 4}


def test_many_reasons_are_counted_together() -> None:
    dup = make_event()
    events = [
        make_event(), dup, dict(dup), make_event(type="nope"), make_event(type="nope"),
        make_event(seq="x"), make_event(app={"name": "Slack"}), make_event(display=None),
    ]  # fmt: skip
    outcome = run(events)
    assert outcome.accepted == 2
    assert outcome.rejected == {
        "duplicate_event_id": 1, "unknown_type": 2, "wrong_type": 1, "denied_app": 1,
        "missing_display": 1,
    }  # fmt: skip
    assert set(outcome.rejected) <= REASONS


@pytest.mark.parametrize(
    ("offset_ms", "accepted"),
    [
        pytest.param(-30 * DAY_MS, True, id="oldest-allowed"),
        pytest.param(-30 * DAY_MS - 1, False, id="too-old"),
        pytest.param(-365 * DAY_MS, False, id="a-year-old"),
        pytest.param(10 * 60_000, True, id="max-skew"),
        pytest.param(10 * 60_000 + 1, False, id="future-beyond-skew"),
        pytest.param(DAY_MS, False, id="a-day-ahead"),
    ],
)
def test_ts_window_relative_to_arrival(offset_ms: int, accepted: bool) -> None:
    outcome = run([make_event(), make_event(ts=RECEIVED_AT_MS + offset_ms)])
    assert outcome.accepted == 1 + accepted
    assert outcome.rejected == ({} if accepted else {"ts_out_of_range": 1})


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param(-1, id="negative"),
        pytest.param(0, id="epoch"),
        pytest.param(7_258_118_400_000, id="year-2200"),
        pytest.param(2**62, id="far-future"),
    ],
)
def test_impossible_ts_counts_as_ts_out_of_range(ts: int) -> None:
    outcome = run([make_event(), make_event(ts=ts)])
    assert outcome.accepted == 1
    assert outcome.rejected == {"ts_out_of_range": 1}


def test_duplicate_event_ids_including_case_variants() -> None:
    event_id = str(uuid.uuid4())
    events = [
        make_event(event_id=event_id),
        make_event("key.press", event_id=event_id),
        make_event(event_id=event_id.upper()),
        make_event(),
    ]
    outcome = run(events)
    assert outcome.accepted == 2
    assert outcome.rejected == {"duplicate_event_id": 2}
    assert rows(outcome)[0]["event_id"] == event_id.lower()


def test_event_ids_are_stored_lower_case() -> None:
    event_id = str(uuid.uuid4()).upper()
    assert one_row([make_event(event_id=event_id)])["event_id"] == event_id.lower()


def test_type_not_allowed() -> None:
    program = make_program(collect={"event_types": ["pointer.click"]})
    events = [make_event(), make_event("text.input"), make_event("clipboard"), make_event()]
    outcome = run(events, program)
    assert outcome.accepted == 2
    assert outcome.rejected == {"type_not_allowed": 2}


@pytest.mark.parametrize(
    "app",
    [
        {"name": "Slack"},
        {"bundle_id": "com.tinyspeck.slackmacgap"},
        {"name": "1Password", "bundle_id": "com.1password.1password"},
        {"name": "Workday"},
    ],
    ids=lambda app: "/".join(app.values()),
)
def test_denied_app(app: dict[str, str]) -> None:
    outcome = run([make_event(), make_event(app=app, window={"title": CANARY})])
    assert outcome.accepted == 1
    assert outcome.rejected == {"denied_app": 1}
    assert_absent(outcome.table, CANARY, "slack")
    assert outcome.redactions == {}


@pytest.mark.parametrize(
    "etype", ["pointer.move", "pointer.click", "pointer.scroll", "pointer.drag"]
)
def test_pointer_events_need_a_display(etype: str) -> None:
    outcome = run([make_event(), make_event(etype, display=None)])
    assert outcome.accepted == 1
    assert outcome.rejected == {"missing_display": 1}


def test_non_pointer_events_need_no_display() -> None:
    row = one_row([make_event("key.press", display=None)])
    assert row["display_w"] is None


def test_pointer_moves_are_sampled_per_session() -> None:
    program = make_program(collect={"pointer_sample_ms": 250})
    t0 = RECEIVED_AT_MS - 10_000
    events = [
        make_event("pointer.move", ts=t0),
        make_event("pointer.move", ts=t0 + 100),
        make_event("pointer.click", ts=t0 + 120),
        make_event("pointer.move", ts=t0 + 249),
        make_event("pointer.move", ts=t0 + 100, session_id="session-2"),
        make_event("pointer.move", ts=t0 + 250),
        make_event("pointer.move", ts=t0 + 400),
    ]
    outcome = run(events, program)
    assert outcome.rejected == {"sampled_out": 3}
    kept = [(r["type"], epoch_ms(r["ts"]) - t0) for r in rows(outcome)]
    assert kept == [
        ("pointer.move", 0),
        ("pointer.click", 120),
        ("pointer.move", 100),
        ("pointer.move", 250),
    ]


def test_no_sampling_when_interval_is_zero() -> None:
    t0 = RECEIVED_AT_MS - 10_000
    events = [make_event("pointer.move", ts=t0 + i) for i in range(5)]
    assert run(events, make_program(collect={"pointer_sample_ms": 0})).accepted == 5


def test_suppressed_subject(pseudonyms: Pseudonymizer) -> None:
    erased = pseudonyms.pid("subject", "jdoe")
    events = [make_event(), make_event(subject="JDOE"), make_event(subject="alice")]
    outcome = run(events, suppressed_subjects=frozenset({erased}))
    assert outcome.rejected == {"suppressed_subject": 2}
    assert outcome.accepted == 1
    assert rows(outcome)[0]["subject_pid"] == pseudonyms.pid("subject", "alice")


def test_rejection_counts_never_carry_content() -> None:
    events = [make_event(type=CANARY), make_event(button=CANARY), make_event(subject=CANARY * 20)]
    outcome = run(events)
    assert CANARY not in json.dumps([outcome.rejected, outcome.redactions])
    assert set(outcome.rejected) <= REASONS


# --- unknown fields ------------------------------------------------------------------------------


def test_unknown_fields_are_dropped_and_counted() -> None:
    noisy = make_event(
        mood="CANARY-TOP",
        app={"name": "Visual Studio Code", "pid": "CANARY-APP"},
        window={"title": "main.py", "tab_title": "CANARY-WINDOW"},
        target={"role": "button", "name": "Save", "html": "CANARY-TARGET"},
        display={"w": 2000, "h": 1000, "dpi": 300},
    )
    outcome = run([noisy, make_event("key.press")])
    assert outcome.rejected == {}
    assert outcome.accepted == 2
    assert outcome.redactions["unknown_field"] == 5
    assert_absent(outcome.table, "CANARY")
    row = rows(outcome)[0]
    assert (row["app_name"], row["window_title"], row["target_name"]) == (
        "Visual Studio Code", "main.py", "Save",
    )  # fmt: skip
    assert row["display_w"] == 2000


def test_unknown_fields_count_per_event() -> None:
    events = [make_event(extra_a=1, extra_b=2), make_event(extra_a=1), make_event()]
    outcome = run(events)
    assert outcome.accepted == 3
    assert outcome.redactions == {"unknown_field": 3}
    assert INTERACTIONS.get_field_index("extra_a") == -1


@pytest.mark.parametrize("nested", ["app", "window", "target", "display"])
def test_unknown_field_named_type_inside_nested_objects_is_dropped(nested: str) -> None:
    event = make_event()
    event.setdefault("target", {"role": "button"})
    event[nested] = {**event[nested], "type": "CANARY-NESTED"}
    outcome = run([event])
    assert outcome.rejected == {}
    assert outcome.accepted == 1
    assert outcome.redactions == {"unknown_field": 1}
    assert_absent(outcome.table, "CANARY")


def test_unknown_fields_do_not_rescue_an_invalid_event() -> None:
    outcome = run([make_event(mood="x", button="huge"), make_event()])
    assert outcome.accepted == 1
    assert outcome.rejected == {"invalid_value": 1}


# --- keys and shortcuts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kept", "key_class"),
    [
        ("a", None, "letter"),
        ("Z", None, "letter"),
        ("é", None, "letter"),
        ("\uff21", None, "letter"),  # full-width A
        ("7", None, "digit"),
        ("!", None, "symbol"),
        ("@", None, "symbol"),
        (" ", None, "space"),
        ("Space", None, "space"),
        ("hello", None, "other"),
        ("Enter", "Enter", "named"),
        ("return", "Enter", "named"),
        ("Tab", "Tab", "named"),
        ("F5", "F5", "named"),
        ("f12", "F12", "named"),
        ("ArrowUp", "ArrowUp", "named"),
        ("up", "ArrowUp", "named"),
        ("esc", "Escape", "named"),
        ("Escape", "Escape", "named"),
        ("Backspace", "Backspace", "named"),
        ("PageDown", "PageDown", "named"),
    ],
)
def test_key_press(key: str, kept: str | None, key_class: str) -> None:
    row = one_row([make_event("key.press", key=key)])
    assert (row["key"], row["key_class"]) == (kept, key_class)


def test_typed_characters_are_not_recoverable_from_key_presses() -> None:
    events = [make_event("key.press", key=ch, seq=i) for i, ch in enumerate("hunter2!")]
    outcome = run(events)
    assert outcome.accepted == 8
    assert [r["key"] for r in rows(outcome)] == [None] * 8
    assert [r["key_class"] for r in rows(outcome)] == ["letter"] * 6 + ["digit", "symbol"]


@pytest.mark.parametrize(
    ("modifiers", "key", "stored_modifiers", "kept", "key_class"),
    [
        (["ctrl"], "s", ["ctrl"], "s", "letter"),
        (["ctrl"], "S", ["ctrl"], "s", "letter"),
        (["meta"], "c", ["meta"], "c", "letter"),
        (["shift", "ctrl"], "p", ["ctrl", "shift"], "p", "letter"),
        (["meta", "ctrl", "alt", "shift"], "k", ["ctrl", "alt", "shift", "meta"], "k", "letter"),
        (["ctrl", "ctrl"], "z", ["ctrl"], "z", "letter"),
        (["ctrl"], "1", ["ctrl"], "1", "digit"),
        (["ctrl"], "/", ["ctrl"], "/", "symbol"),
        (["shift"], "A", ["shift"], None, "letter"),
        (["shift"], "1", ["shift"], None, "digit"),
        (["shift"], "!", ["shift"], None, "symbol"),
        ([], "x", [], None, "letter"),
        (["ctrl", "alt"], "@", ["ctrl", "alt"], None, "symbol"),
        (["ctrl", "alt"], "{", ["ctrl", "alt"], None, "symbol"),
        (["ctrl", "alt", "shift"], "|", ["ctrl", "alt", "shift"], None, "symbol"),
        (["ctrl", "alt"], "€", ["ctrl", "alt"], None, "symbol"),
        (["ctrl", "alt"], "t", ["ctrl", "alt"], "t", "letter"),
        (["ctrl"], "é", ["ctrl"], None, "letter"),
        (["alt"], "F4", ["alt"], "F4", "named"),
        (["meta"], "Tab", ["meta"], "Tab", "named"),
        (["shift"], "Tab", ["shift"], "Tab", "named"),
        (["ctrl", "shift"], "esc", ["ctrl", "shift"], "Escape", "named"),
    ],
)
def test_shortcuts(
    modifiers: list[str], key: str, stored_modifiers: list[str], kept: str | None, key_class: str
) -> None:
    row = one_row([make_event("key.shortcut", modifiers=modifiers, key=key)])
    assert row["modifiers"] == stored_modifiers
    assert (row["key"], row["key_class"]) == (kept, key_class)


# --- typed text and clipboard --------------------------------------------------------------------

TYPED = "hunter2 is my P@ss, ok?"


def test_text_input_keeps_only_length_and_classes() -> None:
    program = make_program(text={"target_names": "drop"})
    row = one_row([make_event("text.input", text=TYPED, target={"role": "textbox"})], program)
    assert (row["text_length"], row["text_letters"], row["text_digits"]) == (23, 15, 1)
    assert (row["text_spaces"], row["text_symbols"]) == (4, 3)
    assert row["target_role"] == "textbox"


def test_typed_text_never_reaches_the_table() -> None:
    events = [
        make_event("text.input", text=TYPED, target={"role": "textbox", "name": "Password"}),
        make_event("text.input", text="hunter2"),
        make_event("text.input", text="x", target={"name": "Search"}),
    ]
    outcome = run(events)
    assert outcome.accepted == 3
    for cell in strings_in(outcome.table):
        assert "hunter" not in cell
        assert TYPED not in cell
    assert [r["text_length"] for r in rows(outcome)] == [23, 7, 1]


def test_text_classes_count_unicode() -> None:
    row = one_row([make_event("text.input", text="héllo 日本 ٣")])
    counts = [row[f"text_{c}"] for c in ("length", "letters", "digits", "spaces", "symbols")]
    assert counts == [10, 7, 1, 2, 0]


def test_empty_and_maximal_text_input() -> None:
    outcome = run([make_event("text.input", text=None), make_event("text.input", text="x" * 2**20)])
    assert [r["text_length"] for r in rows(outcome)] == [0, 2**20]
    assert [r["text_letters"] for r in rows(outcome)] == [0, 2**20]


CLIP = "IBAN DE89 3704 0044 0532 0130 00"


def test_clipboard_content_never_stored() -> None:
    events = [
        make_event("clipboard", content=CLIP),
        make_event("clipboard", op="paste", content=CLIP, length=1234),
        make_event("clipboard", op="cut", length=10),
        make_event("clipboard", op="copy", mime=None),
    ]
    outcome = run(events)
    assert outcome.accepted == 4
    assert [r["clipboard_length"] for r in rows(outcome)] == [32, 1234, 10, None]
    assert [r["clipboard_op"] for r in rows(outcome)] == ["copy", "paste", "cut", "copy"]
    assert outcome.redactions["clipboard_content"] == 2
    assert_absent(outcome.table, "DE89", "3704", "IBAN")
    assert [dict(r["redactions"] or []) for r in rows(outcome)][:3] == [
        {"clipboard_content": 1}, {"clipboard_content": 1}, {},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("mime", "stored"),
    [
        ("text/plain", "text/plain"),
        ("Text/HTML", "text/html"),
        ("image/svg+xml", "image/svg+xml"),
        ("text/plain; name=jane.roe@example.com", "other"),
        ("../../etc/passwd", "other"),
    ],
)
def test_clipboard_mime(mime: str, stored: str) -> None:
    assert one_row([make_event("clipboard", mime=mime)])["clipboard_mime"] == stored


# --- window titles, URLs, targets, menus ---------------------------------------------------------

TITLE = "Inbox - jane.roe@example.com - Mail"


def test_window_title_dropped() -> None:
    program = make_program(text={"window_titles": "drop"})
    outcome = run(
        [make_event(window={"title": TITLE}), make_event(window={"title": TITLE})], program
    )
    assert [r["window_title"] for r in rows(outcome)] == [None, None]
    assert "email" not in outcome.redactions
    assert_absent(outcome.table, "jane", "Inbox")


def test_window_title_hashed() -> None:
    program = make_program(text={"window_titles": "hash"})
    events = [
        make_event(window={"title": TITLE}),
        make_event(window={"title": TITLE}),
        make_event(window={"title": "Other window"}),
    ]
    first, second, other = (r["window_title"] for r in rows(run(events, program)))
    assert first == second != other
    assert first.startswith("h:")
    assert len(first) == 18
    int(first[2:], 16)
    rehashed = rows(run(events[:1], program, secret=b"another-secret-0123456789abcdef!"))
    assert rehashed[0]["window_title"] != first
    assert_absent(run(events, program).table, "jane", "Inbox")


def test_window_title_scrubbed_by_detectors() -> None:
    program = make_program(text={"window_titles": "common"})
    outcome = run(
        [make_event(window={"title": TITLE}), make_event(window={"title": TITLE})], program
    )
    assert [r["window_title"] for r in rows(outcome)] == ["Inbox - <EMAIL> - Mail"] * 2
    assert outcome.redactions == {"email": 2}
    assert [dict(r["redactions"]) for r in rows(outcome)] == [{"email": 1}] * 2
    assert_absent(outcome.table, "jane")


URL = "https://jane:hunter2@intranet.example.com:8443/people/jane.roe?q=salary"


def test_url_reduced_to_host() -> None:
    outcome = run(
        [make_event(window={"title": "x", "url": URL})], make_program(text={"urls": "common"})
    )
    assert rows(outcome)[0]["window_host"] == "intranet.example.com"
    assert outcome.redactions.get("url") == 1
    assert_absent(outcome.table, "hunter2", "salary", "people", "jane")


def test_url_without_scheme_reduced_to_host() -> None:
    row = one_row([make_event(window={"url": "docs.example.com/d/secret-plan"})])
    assert row["window_host"] == "docs.example.com"


def test_url_dropped() -> None:
    outcome = run(
        [make_event(window={"title": "x", "url": URL})], make_program(text={"urls": "drop"})
    )
    assert rows(outcome)[0]["window_host"] is None
    assert_absent(outcome.table, "intranet", "hunter2", "salary")


def test_target_names() -> None:
    target = {"role": "button", "name": "Send to +1 (555) 010-9999"}
    scrubbed = run([make_event(target=target)])
    assert rows(scrubbed)[0]["target_name"] == "Send to <PHONE>"
    assert scrubbed.redactions == {"phone": 1}
    assert_absent(scrubbed.table, "555", "9999")
    dropped = rows(run([make_event(target=target)], make_program(text={"target_names": "drop"})))
    assert (dropped[0]["target_role"], dropped[0]["target_name"]) == ("button", None)


def test_target_automation_id_stands_in_for_a_missing_name() -> None:
    row = one_row([make_event(target={"automation_id": "btnSave"})])
    assert row["target_name"] == "btnSave"


@pytest.mark.parametrize(("role", "stored"), [("menu item", "menu item"), ("<b>x</b>", "other")])
def test_target_role_is_a_token(role: str, stored: str) -> None:
    assert one_row([make_event(target={"role": role})])["target_role"] == stored


MENU = ["File", "Share", "Email to jane.roe@example.com"]


def test_menu_labels_scrubbed() -> None:
    outcome = run([make_event("menu.select", menu_path=MENU, target={"role": "menuitem"})])
    assert rows(outcome)[0]["menu_path"] == ["File", "Share", "Email to <EMAIL>"]
    assert outcome.redactions == {"email": 1}
    assert_absent(outcome.table, "jane")


def test_menu_labels_dropped_or_hashed() -> None:
    dropped = run(
        [make_event("menu.select", menu_path=MENU)], make_program(text={"menu_labels": "drop"})
    )
    assert rows(dropped)[0]["menu_path"] is None
    hashed = run(
        [make_event("menu.select", menu_path=MENU)], make_program(text={"menu_labels": "hash"})
    )
    path = rows(hashed)[0]["menu_path"]
    assert len(path) == 3
    assert all(label.startswith("h:") for label in path)
    assert_absent(hashed.table, "jane", "Share")


# --- coordinates -------------------------------------------------------------------------------


def test_coordinates_normalized_to_the_display() -> None:
    row = one_row([make_event(x=500, y=250, display={"w": 2000, "h": 1000})])
    assert (row["x"], row["y"]) == (0.25, 0.25)
    assert (row["display_w"], row["display_h"], row["display_scale"]) == (2000, 1000, 1.0)


def test_coordinates_clamped() -> None:
    row = one_row([make_event(x=-50, y=5000)])
    assert (row["x"], row["y"]) == (0.0, 1.0)
    drag = one_row([make_event("pointer.drag", x=999_999, y=-999_999, x2=-1, y2=1e6)])
    assert (drag["x"], drag["y"], drag["x2"], drag["y2"]) == (1.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("precision", "expected"),
    [(1, (0.6, 0.3, 1.0, 0.0)), (2, (0.62, 0.33, 1.0, 0.0)), (3, (0.617, 0.333, 1.0, 0.001))],
)
def test_coordinates_rounded_to_precision(precision: int, expected: tuple[float, ...]) -> None:
    program = make_program(collect={"coordinate_precision": precision})
    event = make_event("pointer.drag", x=1234, y=333, x2=1999.5, y2=1.2)
    row = one_row([event], program)
    assert (row["x"], row["y"], row["x2"], row["y2"]) == expected


def test_scroll_deltas_and_click_fields() -> None:
    scroll = one_row([make_event("pointer.scroll", dx=1.5, dy=-3.0)])
    assert (scroll["scroll_dx"], scroll["scroll_dy"]) == (1.5, -3.0)
    click = one_row([make_event(button="right", clicks=2)])
    assert (click["button"], click["clicks"]) == ("right", 2)


def test_simulated_coordinates_stay_in_the_unit_square() -> None:
    batch = simulate.make_batch(400, seed=7, start_ms=RECEIVED_AT_MS - 60_000)
    for row in rows(ingest(encode(batch))):
        for column in ("x", "y", "x2", "y2"):
            assert row[column] is None or 0.0 <= row[column] <= 1.0


# --- pseudonyms --------------------------------------------------------------------------------


def test_same_subject_same_pid(pseudonyms: Pseudonymizer) -> None:
    outcome = run([make_event(), make_event("key.press")])
    pids = {r["subject_pid"] for r in rows(outcome)}
    assert pids == {pseudonyms.pid("subject", "jdoe")}
    assert len(pids.pop()) == 32
    again = run([make_event()])
    assert rows(again)[0]["subject_pid"] == rows(outcome)[0]["subject_pid"]


def test_subject_variants_map_to_one_pid() -> None:
    variants = [
        "jdoe",
        "JDoe",
        "JDOE",
        " jdoe ",
        "\uff4a\uff44\uff4f\uff45",
        "\uff2a\uff24\uff2f\uff25",
    ]  # full-width
    outcome = run([make_event(subject=v) for v in variants])
    assert outcome.accepted == len(variants)
    assert len({r["subject_pid"] for r in rows(outcome)}) == 1
    assert run([make_event(subject="jdoe2")]).table["subject_pid"][0].as_py() not in {
        r["subject_pid"] for r in rows(outcome)
    }


def test_different_secret_different_pids() -> None:
    a = rows(run([make_event()]))[0]
    b = rows(run([make_event()], secret=b"another-secret-0123456789abcdef!"))[0]
    for column in ("subject_pid", "device_pid", "session_pid"):
        assert a[column] != b[column]


def test_identifier_kinds_are_separate_domains() -> None:
    row = one_row([make_event(subject="same", device_id="same", session_id="same")])
    assert len({row["subject_pid"], row["device_pid"], row["session_pid"]}) == 3


def test_raw_identifiers_never_reach_the_table() -> None:
    event = make_event(subject="jane.roe", device_id="LAPTOP-JANE-42", session_id="sess-jane-77")
    outcome = run([event, make_event("key.press", subject="JANE.ROE")])
    assert_absent(outcome.table, "jane", "LAPTOP", "sess-")


# --- capture reasons and agent fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "stored"),
    [
        ("user", "user"),
        ("idle", "idle"),
        ("screen_locked", "screen_locked"),
        ("denied_app", "denied_app"),
        ("USER", "other"),
        ("because jane.roe asked", "other"),
        (None, None),
    ],
)
@pytest.mark.parametrize("etype", ["capture.pause", "capture.resume"])
def test_capture_reason(etype: str, reason: str | None, stored: str | None) -> None:
    assert one_row([make_event(etype, reason=reason)])["capture_reason"] == stored


@pytest.mark.parametrize(
    ("agent", "stored"),
    [
        ({"version": "1.4.2", "os": "macos"}, ("1.4.2", "macos")),
        (
            {"version": "2.0.0-rc.1+build.5", "os": "Windows 11"},
            ("2.0.0-rc.1+build.5", "Windows 11"),
        ),
        ({"version": "1.0 <jane.roe@example.com>", "os": "macos"}, ("other", "macos")),
        ({"version": "1.0", "os": "Windows (jane's PC)"}, ("1.0", "other")),
        ({"version": "", "os": "linux\n"}, ("other", "other")),
        ({"version": "/Users/jane", "os": "-linux"}, ("other", "other")),
    ],
)
def test_agent_version_and_os(agent: dict[str, str], stored: tuple[str, str]) -> None:
    row = one_row([make_event()], agent=agent)
    assert (row["agent_version"], row["agent_os"]) == stored


# --- batch-level columns and realistic batches ---------------------------------------------------


def test_batch_columns() -> None:
    batch_id = str(uuid.uuid4())
    outcome = run([make_event(seq=42)], batch_id=batch_id)
    row = rows(outcome)[0]
    assert outcome.batch_id == batch_id == row["batch_id"]
    assert row["seq"] == 42
    assert row["policy_version"] == "unit-test@3"
    assert row["schema_version"] == SCHEMA_VERSION
    assert epoch_ms(row["received_at"]) == RECEIVED_AT_MS
    assert epoch_ms(row["ts"]) == RECEIVED_AT_MS - 60_000
    assert outcome.table is not None
    assert outcome.table.schema.equals(INTERACTIONS)


PLANTED = [
    "jane.roe@example.com", "j.doe@example.com", "jane.roe", "4111", "010-9999", "7946",
    "hunter2", "see you", "DE89", "jdoe", "LAPTOP-42", "session-",
]  # fmt: skip


@pytest.mark.parametrize("program_name", ["menu-navigation", "shortcut-learning", "permissive"])
def test_simulated_batch_leaves_no_planted_data(program_name: str) -> None:
    program = (
        make_program()
        if program_name == "permissive"
        else load_programs(PROGRAMS_DIR)[program_name]
    )
    batch = simulate.make_batch(1500, seed=3, start_ms=RECEIVED_AT_MS - 120_000)
    outcome = ingest(encode(batch), program)
    assert outcome.accepted > 100
    assert set(outcome.rejected) <= REASONS
    assert outcome.accepted + sum(outcome.rejected.values()) == 1500
    assert_absent(outcome.table, *PLANTED)
    assert "slack" not in " ".join(strings_in(outcome.table)).lower()


def test_redacted_events_counts_stored_events_that_needed_redaction(permissive) -> None:
    from tests.support.builders import make_event
    from tests.support.data_path import run

    outcome = run(
        [
            make_event(window={"title": "Inbox - jane@example.com"}),
            make_event(window={"title": "Inbox - jane@example.com"}),
            make_event(window={"title": "Budget"}),
        ],
        permissive,
    )
    assert outcome.accepted == 3
    assert outcome.redacted_events == 2
    assert outcome.redactions == {"email": 2}
