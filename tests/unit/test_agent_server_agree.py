"""One policy, both sides: the agent refuses exactly what the server would refuse.

Each generated event (valid, or broken in any of the ways the schema and the program can refuse:
missing and extra fields, wrong JSON types, values just outside their ranges and lengths,
unknown and uncollected types, denied apps, bad ids, timestamps) is one JSON line. It goes
through the agent's capture path and, raw, through the server's pipeline under the same program,
each batch holding that one event (so the server-only refusals, duplicates within a batch,
pointer sampling and erased subjects, do not arise). Then:

- an event the agent captures is accepted by the server as the agent sends it, and raw;
- an event the server refuses is refused by the agent, for the same reason;
- an event the server accepts is captured, but for one privacy refusal of the agent's own
  (`no_stand_in`: a character key with no stand-in of its class).

Where the reasons are named differently (`type_not_collected` for the server's
`type_not_allowed`) `SERVER_REASON` maps them. One order differs on purpose: the agent does not
read an event of a type its program does not collect, so such an event is `type_not_collected`
whatever else is wrong with it (the server names the first fault it finds).
"""

from __future__ import annotations

import json
import types
import typing
import uuid
from functools import cache
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from ilake_agent.policy import (
    NO_STAND_IN,
    NOT_CAPTURED,
    NOT_COLLECTED,
    POLICY_REASONS,
    SERVER_REASON,
    ClientPolicy,
)
from ilake_contract import schema as s
from ilake_contract.apps import DEFAULT_DENIED_APPS
from ilake_contract.validation import INVALID_REASONS
from ilake_contract.validation import POLICY_REASONS as SERVER_POLICY_REASONS
from lambdas.core.programs import Program, load_programs
from tests.support.builders import PROGRAMS_DIR, RECEIVED_AT_MS, make_event, make_program
from tests.support.data_path import run

DAY_MS = 86_400_000
PROGRAMS: dict[str, Program] = {
    **load_programs(PROGRAMS_DIR),
    "permissive": make_program(),
    "hash-and-drop": make_program(
        text={"window_titles": "hash", "target_names": "hash", "menu_labels": "drop"},
        apps={"deny": ["*figma*"]},
    ),
    "allowlist": make_program(apps={"allow": ["*code*", "com.microsoft.*"]}),
}


def at_arrival() -> float:
    return RECEIVED_AT_MS / 1000


@cache
def agent_policy(name: str) -> ClientPolicy:
    """The agent's policy as built from the HTTP answer, with its clock at the server's."""
    answer = json.loads(json.dumps(PROGRAMS[name].public_policy()))
    return ClientPolicy.from_policy(answer, clock=at_arrival)


# --- values from the schema's own limits -------------------------------------------------------


def _meta(tp: Any) -> tuple[Any, list[msgspec.Meta]]:
    if typing.get_origin(tp) is typing.Annotated:
        base, *metas = typing.get_args(tp)
        return base, [m for m in metas if isinstance(m, msgspec.Meta)]
    return tp, []


def edge_values(tp: Any) -> list[Any]:
    """Values on and just beyond every limit the type declares, of its JSON type."""
    base, metas = _meta(tp)
    values: list[Any] = []
    if isinstance(base, types.UnionType) or typing.get_origin(base) is typing.Union:
        for arg in typing.get_args(base):
            values += [None] if arg is type(None) else edge_values(arg)
        return values
    if typing.get_origin(base) is typing.Literal:
        return [*typing.get_args(base), "nope", ""]
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        fields = msgspec.structs.fields(base)
        return [{}, {"pid": 1}, *({f.name: v} for f in fields for v in edge_values(f.type)[:6])]
    for meta in metas:
        for bound in ("ge", "le", "gt", "lt"):
            limit = getattr(meta, bound)
            if limit is not None:
                values += [limit, limit - 1, limit + 1]
                if base is float:
                    values += [limit - 0.001, limit + 0.001]
        for length in (meta.min_length, meta.max_length):
            if length is not None:
                for n in (max(0, length - 1), length, length + 1):
                    if typing.get_origin(base) is list:
                        item = edge_values(typing.get_args(base)[0])[:1] or ["x"]
                        values.append(item * n)
                    else:
                        values.append("a" * n)
        if meta.pattern is not None:  # the event id
            h = uuid.uuid4().hex  # also the forms a UUID parser takes but the pattern does not
            shifted = f"{h[:9]}-{h[9:13]}-{h[13:17]}-{h[17:21]}-{h[21:]}"
            values += [str(uuid.uuid4()).upper(), "not-a-uuid", str(uuid.uuid4())[:-1], h, shifted]
            values += [f"{{{uuid.uuid4()}}}", f"{uuid.uuid4()}\n", f"urn:uuid:{uuid.uuid4()}"]
    if base in (int, float):
        values += [0, 1, -1, 2.5, 10**20]
    if base is str:
        values += ["", "x"]
    if typing.get_origin(base) is list:
        values += [[], ["x"], [1]]
    return values


# What a recorder may send: `redacted` is the SDK's own field (a recorder's is dropped, see
# test_agent_counts.py), so the raw event the server would judge never has it.
SDK_FIELDS = {"redacted"}
FIELD_EDGES: dict[str, list[Any]] = {}
for _cls in (*s.EVENT_CLASSES, *s.NESTED.values()):
    for _f in msgspec.structs.fields(_cls):
        if _f.encode_name not in SDK_FIELDS:
            FIELD_EDGES.setdefault(_f.encode_name, []).extend(edge_values(_f.type))

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)
TIMES = st.sampled_from(
    [
        RECEIVED_AT_MS - 30 * DAY_MS - 1,
        RECEIVED_AT_MS - 30 * DAY_MS,
        RECEIVED_AT_MS - 29 * DAY_MS,
        RECEIVED_AT_MS + 10 * 60_000,
        RECEIVED_AT_MS + 10 * 60_000 + 1,
        RECEIVED_AT_MS + 3_600_000,
        946_684_800_000,
        4_102_444_800_001,
        float(RECEIVED_AT_MS),
        str(RECEIVED_AT_MS),
    ]
)
APP_NAMES = st.sampled_from(
    [
        "Visual Studio Code",
        "Slack",
        "1Password 8",
        "Figma",
        "KeePassXC",
        "code",
        "Terminal",
        "com.microsoft.VSCode",
        "com.apple.keychainaccess",
        "jane.roe@example.com",
        "Code 4111 1111 1111 1111",
    ]
    + [glob.strip("*") for glob in DEFAULT_DENIED_APPS[:8]]
)
TEXTS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "Inbox - jane.roe@example.com",
            "Pay 4111 1111 1111 1111",
            "https://intranet.example.com/people/jdoe?token=abc",
            "10.1.2.3",
            "x" * 250 + " a@b.co",
            "é" * 256,
        ]
    ),
)
KEYS = st.one_of(
    st.sampled_from(["Enter", "a", "A", "é", "1", " ", "!", "F5", "ArrowUp", "Unidentified", ""]),
    st.text(min_size=1, max_size=3),
)
TYPES = sorted(s.EVENT_TYPES)
NESTED_FIELDS = {
    name: [f.encode_name for f in msgspec.structs.fields(cls)] for name, cls in s.NESTED.items()
}
ALL_FIELDS = sorted({*FIELD_EDGES, "type"})
OWN_FIELDS = {
    etype: [f.encode_name for f in msgspec.structs.fields(cls) if f.encode_name not in SDK_FIELDS]
    for etype, cls in s.EVENT_CLASS_BY_TYPE.items()
}


@st.composite
def json_lines(draw: st.DrawFn) -> str:
    """A valid event of any type, then up to four faults (or harmless changes)."""
    etype = draw(st.sampled_from([*TYPES, "screen.capture"]))
    event = make_event(etype, ts=draw(st.integers(RECEIVED_AT_MS - 29 * DAY_MS, RECEIVED_AT_MS)))
    for _ in range(draw(st.integers(0, 4))):
        change = draw(
            st.sampled_from(
                ["edge", "edge", "json", "remove", "extra", "nested", "ts", "app", "text", "key"]
            )
        )
        if change == "edge":  # mostly the type's own fields, sometimes another type's
            own = OWN_FIELDS.get(etype, ["display"])
            name = draw(st.sampled_from(own) | st.sampled_from(sorted(FIELD_EDGES)))
            event[name] = draw(st.sampled_from(FIELD_EDGES[name]))
        elif change == "json":
            event[draw(st.sampled_from(ALL_FIELDS))] = draw(JSON)
        elif change == "remove":
            event.pop(draw(st.sampled_from(ALL_FIELDS)), None)
        elif change == "extra":
            event[draw(st.sampled_from(["debug", "pid", "note"]))] = draw(JSON)
        elif change == "nested":
            outer = draw(st.sampled_from(sorted(NESTED_FIELDS)))
            inner = dict(event[outer]) if isinstance(event.get(outer), dict) else {}
            name = draw(st.sampled_from([*NESTED_FIELDS[outer], "pid"]))
            if draw(st.booleans()):
                inner.pop(name, None)
            else:
                inner[name] = draw(st.sampled_from(FIELD_EDGES.get(name, [1])) | JSON | TEXTS)
            event[outer] = inner
        elif change == "ts":
            event["ts"] = draw(TIMES)
        elif change == "app":
            event["app"] = {draw(st.sampled_from(["name", "bundle_id"])): draw(APP_NAMES)}
        elif change == "text":
            where = draw(st.sampled_from(["window.title", "window.url", "target.name", "menu"]))
            if where == "menu":
                event["menu_path"] = draw(st.lists(TEXTS, max_size=3))
            else:
                outer, inner_name = where.split(".")
                event[outer] = {inner_name: draw(TEXTS)}
        else:
            event["key"] = draw(KEYS)
            event["modifiers"] = draw(
                st.lists(st.sampled_from(["ctrl", "alt", "shift", "meta"]), max_size=3)
            )
    return json.dumps(event)


# --- the comparison ----------------------------------------------------------------------------


def server_verdict(event: Any, program: Program) -> str | None:
    """None if the server stores the event, else its reason."""
    outcome = run([event], program)
    if outcome.accepted:
        assert not outcome.rejected
        return None
    [(reason, count)] = outcome.rejected.items()
    assert count == 1
    return reason


def check_agreement(line: str, name: str) -> str | None:
    """The agent's verdict on one JSON line (None: captured), checked against the server's."""
    program = PROGRAMS[name]
    event = json.loads(line)
    captured = agent_policy(name).capture(event)
    server = server_verdict(json.loads(line), program)
    if not isinstance(captured, str):
        sent = msgspec.json.decode(captured[0])
        assert server_verdict(sent, program) is None, (sent, line)  # accepted as sent
        assert server is None, (server, line)  # and raw
        return None
    assert captured in NOT_CAPTURED
    if captured == NO_STAND_IN:
        assert server is None, line  # the agent's own privacy refusal
    elif captured == NOT_COLLECTED:
        assert server == "type_not_allowed" or server in INVALID_REASONS, (server, line)
    else:
        assert server == SERVER_REASON.get(captured, captured), (captured, server, line)
    return captured


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=json_lines(), name=st.sampled_from(sorted(PROGRAMS)))
@example(line=json.dumps(make_event("pointer.click", display=None)), name="menu-navigation")
def test_the_agent_refuses_exactly_what_the_server_would_refuse(line: str, name: str) -> None:
    event(str(check_agreement(line, name)))


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(make_event("pointer.click", display=None), "missing_display", id="display"),
        pytest.param(make_event("pointer.click", debug=True), None, id="extra-field"),
        pytest.param(make_event("pointer.click", seq=None), "missing_field", id="missing"),
        pytest.param(make_event("pointer.click", x="1"), "wrong_type", id="wrong-type"),
        pytest.param(make_event("pointer.click", x=1e7), "out_of_range", id="out-of-range"),
        pytest.param(make_event("pointer.click", button="up"), "invalid_value", id="enum"),
        pytest.param(make_event("pointer.click", event_id="1"), "invalid_value", id="bad-id"),
        pytest.param(make_event("pointer.click", device_id=""), "bad_length", id="empty-id"),
        pytest.param(make_event(window={"title": "t" * 1025}), "bad_length", id="long-title"),
        pytest.param(
            make_event("pointer.click", ts=RECEIVED_AT_MS + 3_600_000),
            "ts_out_of_range",
            id="ahead",
        ),
        pytest.param(make_event("screen.capture"), "unknown_type", id="unknown-type"),
        pytest.param(make_event("key.press"), "type_not_collected", id="not-collected"),
        pytest.param(make_event(app={"name": "1Password"}), "denied_app", id="denied-app"),
        pytest.param(
            make_event("menu.select", menu_path=["x" * 250 + " a@b.co"]),
            "bad_length",
            id="label-over-the-limit-before-redaction",
        ),
        pytest.param(
            make_event("menu.select", menu_path=["File", None]), "wrong_type", id="null-label"
        ),
    ],
)
def test_each_kind_of_refusal_is_the_servers(event: dict[str, Any], reason: str | None) -> None:
    assert check_agreement(json.dumps(event), "menu-navigation") == reason


def test_every_reason_the_agent_gives_is_the_servers_or_its_own() -> None:
    server = {*INVALID_REASONS, *SERVER_POLICY_REASONS}
    assert {SERVER_REASON.get(r, r) for r in NOT_CAPTURED} - server == {NO_STAND_IN}
    assert set(POLICY_REASONS) == {NOT_COLLECTED, "denied_app", NO_STAND_IN}
