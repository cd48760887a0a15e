# Full-width and look-alike characters are test data here (normalization must not open a gap).
# ruff: noqa: RUF001
"""The agent's client-side policy (ilake_agent.policy): capture only what the server would keep.

Built from the real bundled programs' public policy (the JSON of GET .../policy). The central
check is end to end: the server pipeline stores the same rows from the client-minimized events
as from the raw ones, column by column, except where the client legitimately changed a value
(redaction counts; hashes of titles whose personal data the client had already replaced).

`capture()`, what `record()` spools, is checked against `apply()` on every call `apply()` gets
in this module (an autouse fixture), and on generated events of every JSON shape.
"""

from __future__ import annotations

import collections
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilake import simulate
from ilake_agent import policy as client_policy
from ilake_agent import policy_capture, policy_rules
from ilake_agent.policy import NOT_CAPTURED, ClientPolicy, PolicyError
from ilake_contract import schema as s
from ilake_contract.apps import DEFAULT_DENIED_APPS
from ilake_contract.redact import DETECTORS, Redactor, normalize
from lambdas.core import rows as server_rows
from lambdas.core.lake import COLUMNS
from lambdas.core.programs import Program, load_programs
from lambdas.core.pseudonym import Pseudonymizer
from tests.support.builders import (
    PROGRAMS_DIR,
    RECEIVED_AT_MS,
    SECRET,
    make_event,
    make_program,
    without_sampling,
)
from tests.support.data_path import rows, run

from .test_redact import LEAD, PLANTED, TRAIL, leaked

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = load_programs(PROGRAMS_DIR)
MENU = PROGRAMS["menu-navigation"]
SHORTCUTS = PROGRAMS["shortcut-learning"]


def agrees(policy: ClientPolicy, event: Any) -> dict[str, Any] | None:
    """apply(), after checking that capture() spools exactly its result, encoded, with the
    redaction counts apply()'s own code computes."""
    applied = APPLY(policy, event)
    captured = policy.capture(event)
    if applied is None:
        assert isinstance(captured, str), event
        assert captured in NOT_CAPTURED
    else:
        assert not isinstance(captured, str), (captured, event)
        data, counts = captured
        assert msgspec.json.decode(data) == msgspec.json.decode(msgspec.json.encode(applied))
        minimized = policy._minimize(event)
        assert not isinstance(minimized, str)
        assert counts == minimized[1]
    return applied


APPLY = ClientPolicy.apply


@pytest.fixture(scope="module", autouse=True)
def capture_is_checked_against_apply() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClientPolicy, "apply", agrees)
        yield


def at_arrival() -> float:
    """The agent's clock: the unit tests' events are stamped just before RECEIVED_AT_MS."""
    return RECEIVED_AT_MS / 1000


def client_for(program: Program) -> ClientPolicy:
    """The agent's policy as it would be built from the HTTP answer (through JSON)."""
    return ClientPolicy.from_policy(
        json.loads(json.dumps(program.public_policy())), clock=at_arrival
    )


def programs_under_test() -> dict[str, Program]:
    return {
        **PROGRAMS,
        "permissive-common": make_program(),
        "permissive-hash": make_program(
            text={"window_titles": "hash", "target_names": "hash", "menu_labels": "hash"}
        ),
        "permissive-drop": make_program(
            text={
                "window_titles": "drop",
                "target_names": "drop",
                "menu_labels": "drop",
                "urls": "drop",
            },
            apps={"deny": ["*figma*"]},
        ),
        "some-detectors": make_program(text={"detectors": ["email", "card"]}),
    }


# --- the policy as built from the HTTP answer --------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_bundled_policies_compile_to_the_same_decisions(name: str) -> None:
    program = PROGRAMS[name]
    policy = client_for(program)
    assert policy.program == name
    assert policy.policy_version == program.policy_version
    assert policy.event_types == program.allowed_types
    text = program.text
    assert (policy.window_titles, policy.target_names, policy.menu_labels, policy.urls) == (
        text.window_titles,
        text.target_names,
        text.menu_labels,
        text.urls,
    )
    assert policy.detectors == tuple(sorted(text.detectors))
    assert set(DEFAULT_DENIED_APPS) <= set(policy.deny)


def test_a_policy_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PolicyError):
        ClientPolicy.from_policy(["not", "a", "policy"])  # type: ignore[arg-type]


def test_an_empty_policy_captures_nothing() -> None:
    policy = ClientPolicy.from_policy({}, clock=at_arrival)
    for etype in sorted(s.EVENT_TYPES):
        assert policy.apply(make_event(etype)) is None


def test_unexpected_policy_values_fail_closed() -> None:
    answer = copy.deepcopy(make_program().public_policy())
    answer["text"] = {
        "window_titles": "keep",  # unknown mode
        "target_names": None,
        "menu_labels": "REDACT",
        "urls": "full",
        "detectors": ["email", "passport"],  # a detector this agent does not know
    }
    answer["collect"] = {"event_types": ["pointer.click", "menu.select", "screen.capture"]}
    policy = ClientPolicy.from_policy(answer, clock=at_arrival)

    assert (policy.window_titles, policy.target_names, policy.menu_labels, policy.urls) == (
        ("drop",) * 4
    )
    assert policy.detectors == tuple(sorted(DETECTORS))  # every detector it has
    assert policy.event_types == {"pointer.click", "menu.select"}
    click = policy.apply(
        make_event(
            "pointer.click",
            target={"role": "button", "name": "Send"},
            window={"title": "t", "url": "https://example.com/x"},
        )
    )
    assert click is not None
    assert "window" not in click
    assert click["target"] == {"role": "button"}
    menu = policy.apply(make_event("menu.select"))
    assert menu is not None
    assert menu["menu_path"] == []  # required by the schema, nothing of it sent

    answer["collect"] = {"event_types": ["pointer.click", 7]}  # not a list of names: nothing
    assert ClientPolicy.from_policy(answer, clock=at_arrival).event_types == frozenset()


@pytest.mark.parametrize(
    ("apps", "app"),
    [
        pytest.param({"deny": "*terminal*"}, {"name": "Visual Studio Code"}, id="deny-not-a-list"),
        pytest.param({"deny": [], "allow": {"x": 1}}, {"name": "Excel"}, id="allow-not-a-list"),
        pytest.param({"allow": [3]}, {"name": "Excel"}, id="allow-not-strings"),
    ],
)
def test_a_malformed_app_list_denies_every_app(apps: dict[str, Any], app: dict[str, Any]) -> None:
    answer = make_program().public_policy()
    answer["apps"] = apps
    policy = ClientPolicy.from_policy(answer, clock=at_arrival)
    assert policy.apply(make_event("pointer.click", app=app)) is None


def test_built_in_denials_hold_even_if_the_answer_leaves_them_out() -> None:
    answer = make_program().public_policy()
    answer["apps"] = {"deny": [], "allow": []}
    policy = ClientPolicy.from_policy(answer, clock=at_arrival)
    assert policy.apply(make_event(app={"name": "1Password 7"})) is None
    assert policy.apply(make_event(app={"name": "Visual Studio Code"})) is not None


# --- what is not captured at all ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "etype"),
    [
        pytest.param(SHORTCUTS, "text.input", id="shortcuts-text"),
        pytest.param(SHORTCUTS, "clipboard", id="shortcuts-clipboard"),
        pytest.param(SHORTCUTS, "menu.select", id="shortcuts-menu"),
        pytest.param(SHORTCUTS, "pointer.drag", id="shortcuts-drag"),
        pytest.param(MENU, "key.press", id="menu-keys"),
        pytest.param(MENU, "text.input", id="menu-text"),
        pytest.param(MENU, "pointer.move", id="menu-moves"),
    ],
)
def test_types_the_program_does_not_collect_are_not_captured(program: Program, etype: str) -> None:
    assert etype not in program.allowed_types
    assert client_for(program).apply(make_event(etype)) is None


@pytest.mark.parametrize("event_type", ["screen.capture", None, 3, ""])
def test_unknown_or_missing_types_are_not_captured(event_type: Any) -> None:
    policy = client_for(make_program())
    assert policy.apply(make_event("pointer.click", type=event_type)) is None
    assert policy.apply("not an event") is None  # type: ignore[arg-type]


@pytest.mark.parametrize("program", [MENU, SHORTCUTS], ids=["menu-navigation", "shortcuts"])
@pytest.mark.parametrize(
    "app",
    [
        pytest.param({"name": "Slack", "bundle_id": "com.tinyspeck.slackmacgap"}, id="slack"),
        pytest.param({"name": "1Password 7", "bundle_id": "com.agilebits.onepassword7"}, id="1pw"),
        pytest.param({"name": "Code", "bundle_id": "com.1PASSWORD.helper"}, id="bundle-casefold"),
        pytest.param({"name": "Microsoft Outlook"}, id="outlook"),
        pytest.param({"name": "Workday"}, id="workday"),
    ],
)
def test_denied_apps_are_not_captured(program: Program, app: dict[str, str]) -> None:
    assert program.app_denied(app.get("name"), app.get("bundle_id"))
    assert client_for(program).apply(make_event("pointer.click", app=app)) is None


def test_program_denials_and_allowlists_are_honoured() -> None:
    menu, shortcuts = client_for(MENU), client_for(SHORTCUTS)
    assert (
        menu.apply(make_event(app={"name": "Terminal", "bundle_id": "com.apple.Terminal"})) is None
    )
    assert menu.apply(make_event(app={"name": "Notes"})) is not None
    assert shortcuts.apply(make_event(app={"name": "Notes"})) is None  # outside the allowlist
    assert shortcuts.apply(make_event(app=None)) is None  # no app named: fail closed
    assert shortcuts.apply(make_event(app={"name": "Visual Studio Code"})) is not None


APP_WORDS = st.sampled_from(
    ["Slack", "slack", "Code", "code", "Terminal", "1Password", "Excel", "Notes", "com.", "x", " "]
)
APP_NAMES = st.one_of(st.none(), st.lists(APP_WORDS, max_size=3).map("".join))


@settings(max_examples=300, deadline=None)
@given(name=APP_NAMES, bundle=APP_NAMES)
def test_app_decisions_match_the_server(name: str | None, bundle: str | None) -> None:
    for program in (MENU, SHORTCUTS, make_program(apps={"deny": ["*notes*"], "allow": ["*e*"]})):
        captured = client_for(program).apply(
            make_event("window.focus", app={"name": name, "bundle_id": bundle})
        )
        assert (captured is None) == program.app_denied(name, bundle)


def test_pointer_moves_are_not_sampled_on_the_client() -> None:
    policy = client_for(SHORTCUTS)  # the server keeps one move per 250 ms
    moves = [make_event("pointer.move", ts=RECEIVED_AT_MS - 1000 + i) for i in range(20)]
    assert all(policy.apply(move) is not None for move in moves)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"ts": "1800000000000"}, id="ts-string"),
        pytest.param({"seq": 1.0}, id="seq-float"),
        pytest.param({"x": "my password"}, id="coordinate-string"),
        pytest.param({"button": "secret"}, id="button-not-a-button"),
        pytest.param({"app": "Visual Studio Code"}, id="app-not-an-object"),
        pytest.param({"window": {"title": 42}}, id="title-not-text"),
        pytest.param({"target": {"name": ["a"]}}, id="target-name-not-text"),
        pytest.param({"display": {"w": "wide", "h": 1}}, id="display-not-numbers"),
    ],
)
def test_wrong_json_types_are_not_captured(fields: dict[str, Any]) -> None:
    assert client_for(make_program()).apply(make_event("pointer.click", **fields)) is None


# --- what is sent ------------------------------------------------------------------------------


def schema_fields(cls: type[msgspec.Struct]) -> set[str]:
    """The fields a recorder may send (`redacted` is added by the SDK itself)."""
    return {f.encode_name for f in msgspec.structs.fields(cls)} - {"redacted"}


@pytest.mark.parametrize("etype", sorted(s.EVENT_TYPES))
def test_only_schema_fields_are_sent(etype: str) -> None:
    event = make_event(
        etype,
        debug_dump={"note": "x"},
        text="typed",
        content="copied",
        menu_path=["File"] if etype == "menu.select" else None,
        app={"name": "Code", "bundle_id": "com.x", "pid": 4242},
        window={"title": "t", "url": "https://example.com", "rect": [0, 0, 1, 1]},
        display={"w": 1, "h": 1, "scale": 1.0, "dpi": 96},
        target={"role": "button", "name": "OK", "bounds": [0, 0]},
    )
    sent = client_for(make_program()).apply(event)
    assert sent is not None
    assert set(sent) <= schema_fields(s.EVENT_CLASS_BY_TYPE[etype]) | {"type"}
    assert "content" not in sent
    for name, cls in s.NESTED.items():
        if isinstance(sent.get(name), dict):
            assert set(sent[name]) <= schema_fields(cls), name


def test_typed_text_becomes_a_same_class_surrogate() -> None:
    sent = client_for(make_program()).apply(
        make_event("text.input", text="Pay 4111 now!\tñ½ 中", target={"role": "textbox"})
    )
    assert sent is not None
    assert sent["text"] == "aaa 0000 aaa! a! a"  # "½" is numeric, not a digit: a symbol


def test_clipboard_content_is_never_sent_only_its_length() -> None:
    policy = client_for(make_program())
    sent = policy.apply(make_event("clipboard", content="IBAN DE89 3704 0044 0532 0130 00"))
    assert sent is not None
    assert "content" not in sent
    assert sent["length"] == 32
    given_length = policy.apply(make_event("clipboard", content="abc", length=99))
    assert given_length is not None
    assert given_length["length"] == 99  # the agent's own length wins, as on the server


@pytest.mark.parametrize(
    ("key", "sent"),
    [
        ("Enter", "Enter"),
        ("ArrowDown", "ArrowDown"),
        ("F5", "F5"),
        ("q", "a"),
        ("Q", "a"),
        ("7", "0"),
        ("!", "!"),
        ("@", "!"),
        (" ", " "),
        ("space", " "),
        ("ß", "a"),
        ("\u0663", "0"),  # Arabic-Indic three
        ("Dead", "Unidentified"),
        ("hunter2", "Unidentified"),
    ],
)
def test_printable_keys_become_same_class_surrogates(key: str, sent: str) -> None:
    event = client_for(make_program()).apply(make_event("key.press", key=key))
    assert event is not None
    assert event["key"] == sent
    assert server_rows.classify_key(sent) == server_rows.classify_key(key)


@pytest.mark.parametrize(
    ("modifiers", "key", "sent"),
    [
        (["ctrl"], "s", "s"),
        (["meta"], "C", "C"),
        (["alt"], "F4", "F4"),
        (["shift"], "A", "a"),  # shift only: an upper-case letter, typing
        (["ctrl", "alt"], "@", "!"),  # AltGr: typing
        (["ctrl", "alt"], "q", "q"),  # AltGr with a letter: a real shortcut
        (["ctrl"], "é", "\u00e9"),  # non-ASCII: not kept by the server, a non-ASCII stand-in
        (["ctrl"], "€", "\u00a4"),
        (["meta"], "space", "Space"),
    ],
)
def test_shortcuts_that_type_become_surrogates(modifiers: list[str], key: str, sent: str) -> None:
    event = client_for(make_program()).apply(
        make_event("key.shortcut", modifiers=modifiers, key=key)
    )
    assert event is not None
    assert event["key"] == sent
    assert event["modifiers"] == modifiers
    mods = frozenset(modifiers)
    assert server_rows.shortcut_key(mods, sent) == server_rows.shortcut_key(mods, key)


KEYS = st.text(min_size=1, max_size=32).filter(lambda k: "\x00" not in k) | st.sampled_from(
    ["Enter", "space", "Space", "F12", "cmd", " ", "\u3000", "é", "e\u0301", "ﬁ", "½", "\u200b"]
)


@settings(max_examples=500, deadline=None)
@given(key=KEYS, modifiers=st.lists(st.sampled_from(["ctrl", "alt", "shift", "meta"]), unique=True))
def test_the_server_stores_the_same_key_and_class(key: str, modifiers: list[str]) -> None:
    policy = client_for(make_program())
    press = policy.apply(make_event("key.press", key=key))
    assert press is not None
    assert server_rows.classify_key(press["key"]) == server_rows.classify_key(key)
    shortcut = policy.apply(make_event("key.shortcut", key=key, modifiers=modifiers))
    assert shortcut is not None
    mods = frozenset(modifiers)
    assert server_rows.shortcut_key(mods, shortcut["key"]) == server_rows.shortcut_key(mods, key)
    if server_rows.shortcut_key(mods, key)[0] is None:  # not kept: nothing of the key is sent
        assert shortcut["key"] in {k for ks in client_policy.KEY_SURROGATES.values() for k in ks}


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=200))
def test_the_server_stores_the_same_text_length_and_classes(text: str) -> None:
    surrogate = client_policy.surrogate_text(text)
    assert server_rows.text_classes(surrogate) == server_rows.text_classes(text)
    assert set(surrogate) <= {"a", "0", " ", "!"}


def test_titles_labels_and_targets_are_redacted_or_dropped_per_mode() -> None:
    event = make_event(
        "menu.select",
        menu_path=["File", "Share", "Email to jane.roe@example.com"],
        target={"role": "menuitem", "name": "Send to +1 (555) 010-9999", "automation_id": "x"},
        window={"title": "customers - jane.roe@example.com.xlsx", "url": "https://a:b@ex.com/p"},
    )
    redacted = client_for(MENU).apply(event)
    assert redacted is not None
    assert redacted["menu_path"] == ["File", "Share", "Email to <EMAIL>"]
    assert redacted["target"] == {"role": "menuitem", "name": "Send to <PHONE>"}  # id unused
    assert redacted["window"] == {"title": "customers - <EMAIL>", "url": "https://ex.com"}

    hashed = client_for(SHORTCUTS).apply(make_event("window.focus", window=event["window"]))
    assert hashed is not None
    assert hashed["window"] == {"title": "customers - <EMAIL>"}  # the server hashes it; no url


def test_an_automation_id_stands_in_for_a_missing_name() -> None:
    policy = client_for(MENU)
    sent = policy.apply(make_event(target={"role": "button", "automation_id": "btn jdoe@x.io"}))
    assert sent is not None
    assert sent["target"] == {"role": "button", "automation_id": "btn <EMAIL>"}
    dropped = client_for(make_program(text={"target_names": "drop"})).apply(
        make_event(target={"role": "button", "automation_id": "btn-send"})
    )
    assert dropped is not None
    assert dropped["target"] == {"role": "button"}


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://jdoe:hunter2@intranet.example.com/hr/jdoe?id=42", "https://intranet.example.com"),
        ("example.com/path", "https://example.com"),
        ("http://10.1.2.3:8080/admin", "https://0.0.0.0"),  # the server stores <IP> either way
        ("ftp://[::1]/x", "https://%"),  # the server stores <URL> either way
        ("https://4111111111111111.example.com/x", None),  # a placeholder in the host: not sent
        ("not a url at all", None),
        ("https://x.com\tjdoe", None),  # the server would keep "x.com\tjdoe": stricter here
    ],
)
def test_urls_are_reduced_to_what_the_server_keeps(url: str, sent: str | None) -> None:
    event = client_for(make_program()).apply(make_event(window={"url": url}))
    assert event is not None
    assert event.get("window", {}).get("url") == sent
    assert client_for(MENU).apply(make_event(window={"url": url})) is not None


def test_roles_mime_types_and_reasons_are_sent_as_the_server_stores_them() -> None:
    policy = client_for(make_program())
    click = policy.apply(make_event(target={"role": "button jdoe@x.io"}))
    assert click is not None
    assert click["target"] == {"role": "other"}
    clip = policy.apply(make_event("clipboard", mime="Text/Plain"))
    odd = policy.apply(make_event("clipboard", mime="x; name=jdoe@x.io"))
    assert clip is not None
    assert odd is not None
    assert (clip["mime"], odd["mime"]) == ("text/plain", "other")
    pause = policy.apply(make_event("capture.pause", reason="reading jdoe's mail"))
    assert pause is not None
    assert pause["reason"] == "other"


def test_only_the_programs_detectors_run() -> None:
    policy = client_for(make_program(text={"detectors": ["email"]}))
    sent = policy.apply(make_event(window={"title": "a@b.com 4111 1111 1111 1111"}))
    assert sent is not None
    assert sent["window"]["title"] == "<EMAIL> 4111 1111 1111 1111"  # as the server would


def test_redacted_text_is_cut_to_the_schema_limit() -> None:
    label = "x" * 242 + " a@b.co a@b.co"  # 256 characters, 258 once the addresses are placeholders
    sent = client_for(MENU).apply(make_event("menu.select", menu_path=[label]))
    assert sent is not None
    assert len(sent["menu_path"][0]) == client_policy.MAX_SHORT
    assert run([sent], MENU).accepted == 1


# --- no mutation, no shared state ----------------------------------------------------------


def simulated_events(seed: int, n: int = 300) -> list[dict[str, Any]]:
    batch = simulate.make_batch(n, seed=seed, start_ms=RECEIVED_AT_MS - 600_000)
    return list(batch["events"])


@pytest.mark.parametrize("name", sorted(programs_under_test()))
def test_the_input_is_never_mutated(name: str) -> None:
    policy = client_for(programs_under_test()[name])
    events = enriched(simulated_events(seed=3))
    before = copy.deepcopy(events)
    for event in events:
        policy.apply(event)
    assert events == before


def test_outputs_share_nothing_with_each_other() -> None:
    policy = client_for(make_program())
    event = make_event("pointer.click", target={"role": "button", "name": "OK"})
    first = policy.apply(event)
    assert first is not None
    first["app"]["name"] = "changed"
    first["window"]["title"] = "changed"
    second = policy.apply(event)
    assert second is not None
    assert second["app"]["name"] == "Visual Studio Code"
    assert second["window"]["title"] == "main.py - project"


def test_redaction_is_memoized_per_distinct_text_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    original = Redactor.redact

    def counting(self: Redactor, text: str) -> Any:
        calls.append(text)
        return original(self, text)

    monkeypatch.setattr(Redactor, "redact", counting)
    policy = client_for(MENU)
    for _ in range(100):
        policy.apply(make_event(window={"title": "Inbox - jdoe@example.com"}))
    assert sorted(calls) == sorted(["Inbox - jdoe@example.com", *make_event()["app"].values()])
    for i in range(client_policy.MEMO_SIZE + 10):
        policy.apply(make_event(window={"title": f"title {i}"}))
    assert len(policy._texts) <= client_policy.MEMO_SIZE


# --- privacy: a planted secret never survives apply() -------------------------------------------

# (event type, where) for every free-text field an agent could fill
PLACES = [
    *[(t, ("window", "title")) for t in ("window.focus", "pointer.click", "key.press")],
    *[(t, ("window", "url")) for t in ("window.focus", "pointer.move")],
    ("pointer.click", ("app", "name")),
    ("key.shortcut", ("app", "bundle_id")),
    *[(t, ("target", "name")) for t in ("pointer.click", "text.input", "menu.select")],
    *[(t, ("target", "automation_id")) for t in ("pointer.click", "text.input")],
    ("pointer.click", ("target", "role")),
    ("menu.select", ("menu_path", None)),
    ("text.input", ("text", None)),
    ("clipboard", ("content", None)),
    ("clipboard", ("mime", None)),
    ("capture.pause", ("reason", None)),
    ("key.press", ("key", None)),
    ("pointer.scroll", ("text", None)),  # a field this type does not have
    ("window.focus", ("debug_dump", None)),  # a field no type has
]
IDENTIFIERS = ("event_id", "session_id", "subject", "device_id")  # pseudonymized by the server
AROUND = st.text(st.sampled_from("abcdefghij XYZ-_:()/"), max_size=12)


def plant(event: dict[str, Any], where: tuple[str, str | None], text: str) -> None:
    outer, inner = where
    if outer == "menu_path":
        event["menu_path"] = ["File", text]
    elif inner is None:
        event[outer] = text
    else:
        event[outer] = {**(event.get(outer) or {}), inner: text}


def sent_strings(sent: dict[str, Any]) -> str:
    """Every string the agent would send, but the identifiers and the typed-text surrogate."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                found.append(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({k: v for k, v in sent.items() if k not in (*IDENTIFIERS, "text")})
    # the stand-in for an IP host is no leak of any planted address
    return "\n".join(found).replace("https://0.0.0.0", "https://")


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    place=st.sampled_from(PLACES),
    program=st.sampled_from(sorted(set(programs_under_test()) - {"some-detectors"})),
    prefix=AROUND,
    suffix=AROUND,
    lead=LEAD,
    trail=TRAIL,
    marker=st.from_regex(r"[A-Z]{4}[0-9]{6}", fullmatch=True),
)
def test_no_planted_secret_survives_apply(
    data: st.DataObject,
    place: tuple[str, tuple[str, str | None]],
    program: str,
    prefix: str,
    suffix: str,
    lead: str,
    trail: str,
    marker: str,
) -> None:
    planted = data.draw(st.one_of(*PLANTED.values()), label="planted")
    etype, where = place
    event = make_event(etype, text=f"typed {marker}", content=f"copied {marker}")
    text = prefix + lead + planted.text + trail + suffix
    plant(event, where, text)

    sent = client_for(programs_under_test()[program]).apply(event)

    if sent is None:
        return
    everything = json.dumps(sent, ensure_ascii=False)
    assert marker not in everything
    assert planted.text not in everything
    assert leaked(sent_strings(sent), planted, prefix, suffix) == []
    if "text" in sent:
        assert set(sent["text"]) <= {"a", "0", " ", "!"}


# --- end to end: the server stores the same rows ---------------------------------------------

URLS = [
    "https://jdoe:hunter2@intranet.example.com/hr/jdoe?id=42",
    "http://10.1.2.3:8080/admin",
    "www.example.org/cv/jane",
    "https://4111111111111111.example.com/x",  # the host carries a card: see HOST_MAY_DIFFER
    "ftp://[::1]/x",
    "not a url at all",
    "example.com/path",
]
TITLES = [
    "Docs - https://docs.example.com/a/b?u=jdoe",
    "Pay ４１１１ １１１１ １１１１ １１１１ now\u200b",  # full-width digits, zero width
    "Report\u200b ＦＹ２６",  # normalized, nothing to redact
    "ssh 10.0.0.1 - AKIAIOSFODNN7EXAMPLE",
    "/home/jdoe/notes.txt",
]
EXTRA_KEYS = ["q", "Q", "7", "@", " ", "space", "ß", "é", "\u0663", "Dead", "F5", "return", "½"]
EXTRA_SHORTCUTS = [
    (["ctrl"], "s"),
    (["shift"], "A"),
    (["ctrl", "alt"], "@"),
    (["ctrl", "alt"], "q"),
    (["ctrl"], "é"),
    (["meta"], "space"),
    (["ctrl"], "€"),
    (["alt"], " "),
]
TEXTS = ["see you at 5", "naïve café ½ 中文\t!", "", "４２ ﬁ e\u0301"]
ODD_APPS = [
    {"name": "1Password 7", "bundle_id": "com.agilebits.onepassword7"},
    {"name": "Terminal", "bundle_id": "com.apple.Terminal"},
    None,
]


def enriched(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Simulated events with the cases the simulator does not produce: URLs, tricky titles,
    keys and text, unknown fields, app-less and denied apps, clipboard lengths."""
    events = copy.deepcopy(events)
    for i, event in enumerate(events):
        etype = event["type"]
        if i % 4 == 0:
            event["window"]["url"] = URLS[i // 4 % len(URLS)]
        if i % 9 == 0:
            event["window"]["title"] = TITLES[i // 9 % len(TITLES)]
        if i % 5 == 0:
            event["debug_dump"] = {"pid": 4242}
            event["app"] = {**event["app"], "pid": 4242}
        if i % 41 == 0:
            event["app"] = ODD_APPS[i // 41 % len(ODD_APPS)]
        if etype == "key.press" and i % 2:
            event["key"] = EXTRA_KEYS[i % len(EXTRA_KEYS)]
        elif etype == "key.shortcut" and i % 2:
            event["modifiers"], event["key"] = EXTRA_SHORTCUTS[i % len(EXTRA_SHORTCUTS)]
        elif etype == "text.input" and i % 2:
            event["text"] = TEXTS[i % len(TEXTS)]
        elif etype == "clipboard" and i % 2:
            event["length"] = 1234
        elif etype == "pointer.click" and i % 3 == 0:
            event["target"] = {"role": "button", "automation_id": "send-to-jane.roe@example.com"}
    return events


# Columns the client legitimately changes:
# - redactions: the client already replaced personal data, so the server finds less (or none)
#   to count; clipboard content is never sent, so it is not counted as dropped content either;
# - with mode "hash", the title / target name / menu labels whose personal data the client
#   replaced: the server hashes the redacted text (it never sees the original);
# - window_host, when the host itself carried personal data ("<CARD>.example.com"): the client
#   does not send such a URL, so the server stores no host.
HASHED = {
    "window_title": "window_titles",
    "target_name": "target_names",
    "menu_path": "menu_labels",
}


def raw_texts(event: dict[str, Any], column: str) -> list[str]:
    if column == "window_title":
        return [event["window"]["title"]]
    if column == "target_name":
        target = event.get("target") or {}
        name = target.get("name", target.get("automation_id"))
        return [] if name is None else [name]
    return list(event["menu_path"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(programs_under_test()))
def test_the_server_stores_the_same_rows_from_minimized_events(name: str, seed: int) -> None:
    program = programs_under_test()[name]
    policy = client_for(program)
    raw = enriched(simulated_events(seed))
    minimized = [sent for event in raw if (sent := policy.apply(event)) is not None]
    batch_id = f"00000000-0000-4000-8000-{seed:012d}"

    from_raw = run(raw, program, batch_id=batch_id)
    from_client = run(minimized, program, batch_id=batch_id)

    assert from_client.accepted == from_raw.accepted > 0
    # the client sent nothing the server refuses; pointer sampling is the server's
    assert from_client.rejected == {
        k: n for k, n in from_raw.rejected.items() if k == "sampled_out"
    }
    raw_rows = {r["event_id"]: r for r in rows(from_raw)}
    client_rows = {r["event_id"]: r for r in rows(from_client)}
    assert client_rows.keys() == raw_rows.keys()

    by_id = {e["event_id"]: e for e in raw}
    redactor = Redactor(program.text.detectors, program.url_mode)
    hasher = Pseudonymizer(SECRET)
    differed: set[str] = set()
    for event_id, expected in raw_rows.items():
        got = client_rows[event_id]
        for column in COLUMNS:
            if got[column] == expected[column]:
                continue
            differed.add(column)
            if column == "redactions":
                found, counted = dict(got[column] or []), dict(expected[column] or [])
                assert all(n <= counted.get(k, 0) for k, n in found.items()), (found, counted)
            elif column in HASHED and getattr(program.text, HASHED[column]) == "hash":
                texts = raw_texts(by_id[event_id], column)
                assert any(redactor.redact(t).text != normalize(t) for t in texts)
                hashes = [hasher.text_hash(normalize(redactor.redact(t).text)) for t in texts]
                assert got[column] == (hashes if column == "menu_path" else hashes[0])
            elif column in ("window_host", "window_host_id"):
                # a host with a placeholder in it: the agent does not send it at all
                assert got["window_host"] is got["window_host_id"] is None
                assert "<" in expected["window_host"]
                assert expected["window_host"] not in ("<IP>", "<URL>")
            else:
                pytest.fail(f"{column}: {got[column]!r} != {expected[column]!r}")
    # the columns the brief names are never among the differences
    assert not differed & {
        "text_length",
        "text_letters",
        "text_digits",
        "text_spaces",
        "text_symbols",
        "key",
        "key_class",
        "clipboard_length",
    }


# --- capture(): what record() spools -------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
FIELD_NAMES = sorted(
    {f for c in s.EVENT_CLASSES for f in schema_fields(c)} | {"type", "debug", "pid", "redacted"}
)
NESTED_NAMES = {name: [*sorted(schema_fields(cls)), "pid"] for name, cls in s.NESTED.items()}
CHOICES = st.sampled_from(
    ["left", "copy", "ctrl", "meta", "Enter", "a", "user", "text/plain", "jdoe@x.io", ""]
)


@st.composite
def json_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of any type, then a few fields replaced, removed or nested differently."""
    event = make_event(draw(st.sampled_from(sorted(s.EVENT_TYPES))))
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(FIELD_NAMES))
        change = draw(st.sampled_from(["value", "choice", "remove", "nested"]))
        if change == "value":
            event[name] = draw(JSON)
        elif change == "choice":
            event[name] = draw(CHOICES | st.lists(CHOICES, max_size=3))
        elif change == "remove":
            event.pop(name, None)
        else:
            outer = draw(st.sampled_from(sorted(NESTED_NAMES)))
            inner = dict(event[outer]) if isinstance(event.get(outer), dict) else {}
            inner[draw(st.sampled_from(NESTED_NAMES[outer]))] = draw(JSON | CHOICES)
            event[outer] = inner
    return event


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=json_events(), name=st.sampled_from(sorted(programs_under_test())))
def test_capture_spools_exactly_what_apply_returns_for_any_json_event(
    event: dict[str, Any], name: str
) -> None:
    agrees(client_for(programs_under_test()[name]), event)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param("not an event", "wrong_type", id="not-an-object"),
        pytest.param(make_event("pointer.click", x="12"), "wrong_type", id="wrong-json-type"),
        pytest.param(make_event("pointer.click", clicks=True), "wrong_type", id="bool-for-int"),
        pytest.param(make_event("pointer.click", clicks=9), "out_of_range", id="out-of-range"),
        pytest.param(make_event("pointer.click", event_id="7"), "invalid_value", id="bad-id"),
        pytest.param(make_event("pointer.click", subject=""), "bad_length", id="empty-id"),
        pytest.param(
            make_event("key.shortcut", modifiers=["ctrl"] * 5), "bad_length", id="five-modifiers"
        ),
        pytest.param(make_event("pointer.click", seq=None), "missing_field", id="missing-field"),
        pytest.param(make_event("screen.capture"), "unknown_type", id="unknown-type"),
        pytest.param(make_event("pointer.click", type=None), "missing_field", id="no-type"),
        pytest.param(make_event("pointer.click", type=7), "wrong_type", id="type-not-a-string"),
        pytest.param(make_event("pointer.click", ts=1), "ts_out_of_range", id="ts-before-2000"),
        pytest.param(
            make_event("pointer.click", ts=RECEIVED_AT_MS - 31 * 86_400_000),
            "ts_out_of_range",
            id="ts-too-old",
        ),
        pytest.param(
            make_event("pointer.click", ts=RECEIVED_AT_MS + 11 * 60_000),
            "ts_out_of_range",
            id="ts-ahead",
        ),
        pytest.param(make_event("pointer.click", display=None), "missing_display", id="display"),
        pytest.param(make_event("pointer.move"), "type_not_collected", id="not-collected"),
        pytest.param(make_event(app={"name": "Slack"}), "denied_app", id="denied-app"),
    ],
)
def test_what_is_not_captured_is_told_by_reason(event: Any, reason: str) -> None:
    """The server's own reason codes, from the server's own checks (a type not collected is
    the one the server calls type_not_allowed)."""
    policy = client_for(MENU)
    assert policy.capture(event) == reason
    assert policy.apply(event) is None
    assert reason in NOT_CAPTURED
    server = run([event], MENU).rejected if isinstance(event, dict) else {}
    if server:
        assert server == {client_policy.SERVER_REASON.get(reason, reason): 1}


def test_a_tuple_is_read_as_the_json_array_it_encodes_to() -> None:
    policy = client_for(MENU)
    sent = policy.apply(make_event("key.shortcut", modifiers=("ctrl",)))
    assert sent is not None
    assert sent["modifiers"] == ["ctrl"]


def test_enum_members_are_taken_at_their_json_value_by_capture() -> None:
    """msgspec reads a str or int subclass (an enum member) as its JSON value; apply() keeps
    refusing them as it always did. What capture() spools is then the plain event's JSON."""
    import enum

    class Clicks(enum.IntEnum):
        DOUBLE = 2

    policy = client_for(make_program())
    plain = make_event("pointer.click", clicks=2)
    member = {**plain, "clicks": Clicks.DOUBLE}
    assert APPLY(policy, member) is None  # (unchecked: here the two differ, on purpose)
    captured, expected = policy.capture(member), policy.capture(plain)
    assert not isinstance(captured, str)
    assert not isinstance(expected, str)
    assert captured[0] == expected[0]


def test_the_shapes_have_every_schema_field_and_only_json_types() -> None:
    for etype, cls in s.EVENT_CLASS_BY_TYPE.items():
        shape = policy_capture._SHAPES[etype]
        assert set(shape.__struct_fields__) == schema_fields(cls) | {"type"}
        assert shape.__struct_config__.forbid_unknown_fields  # apply()'s code counts them


def server_sees(raw: list[dict[str, Any]], policy: ClientPolicy) -> list[dict[str, Any]]:
    """The raw events, but for those the agent does not capture without their unknown fields:
    the server counts the fields it drops even from events it then refuses by type or app,
    which the agent never looks at (it does not capture them at all)."""
    out = []
    for event in raw:
        if policy.apply(event) is None:
            etype = event["type"]
            fields = schema_fields(s.EVENT_CLASS_BY_TYPE[etype]) | {"type"}
            event = {k: v for k, v in event.items() if k in fields}
            for outer, cls in s.NESTED.items():
                if isinstance(event.get(outer), dict):
                    event[outer] = {
                        k: v for k, v in event[outer].items() if k in schema_fields(cls)
                    }
        out.append(event)
    return out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(programs_under_test()))
def test_redaction_counts_are_what_the_server_counts_on_the_raw_events(
    name: str, seed: int
) -> None:
    """The server sees the agent's placeholders, not what they replaced, so the agent counts
    its redactions (once per event and text, as the server does) for the summaries."""
    program = programs_under_test()[name]
    policy = client_for(program)
    raw = enriched(simulated_events(seed))
    counted: collections.Counter[str] = collections.Counter()
    for event in raw:
        captured = policy.capture(event)
        if not isinstance(captured, str):
            counted.update(captured[1])

    # pointer sampling is the server's: it counts only the moves it keeps, the agent every move
    # it captured, so the server's side is counted here without sampling
    unsampled = without_sampling(program)
    expected = run(server_sees(raw, policy), unsampled).redactions
    assert counted == expected
    if name in ("permissive-common", "menu-navigation"):
        assert {"email", "url", "unknown_field"} <= set(counted)
    if name == "permissive-common":
        assert counted["clipboard_content"] > 0


# --- describe ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_describe_tells_the_employee_what_is_captured(name: str) -> None:
    program = PROGRAMS[name]
    text = client_for(program).describe()
    assert program.file.purpose in text
    assert program.file.owner in text
    assert f"{program.file.retention_days} days" in text
    for etype in program.allowed_types:
        assert etype in text
    for denied in ("slack", "1password", "workday"):
        assert denied in text
    for extra in program.file.apps.deny:
        assert extra.strip("*") in text
    for allowed in program.file.apps.allow:
        assert allowed.strip("*") in text
    assert "what you type" in text
    assert "what you copy or paste" in text
    assert "never leaves this computer" in text.replace("What never", "never")


def test_describe_explains_the_text_modes() -> None:
    menu, shortcuts = client_for(MENU).describe(), client_for(SHORTCUTS).describe()
    assert (
        "window titles: personal data replaced here; kept only once at least 10 colleagues have "
        "seen the same text"
    ) in menu
    assert "only the site's host name" in menu
    assert "kept only once at least 10 colleagues have" in menu
    assert "Until then only an unreadable fingerprint of it is stored" in menu
    assert "window titles: personal data replaced here; kept only once" in shortcuts
    hashed = client_for(make_program(text={"window_titles": "hash"})).describe()
    assert "window titles: personal data replaced here, then turned into a code" in hashed
    assert "web addresses: never sent" in shortcuts
    assert "menu items you choose: never sent" in shortcuts
    assert "Never captured: clipboard, menu.select, pointer.drag, text.input." in shortcuts


# --- one vocabulary for both sides -------------------------------------------


def test_client_and_server_share_one_vocabulary() -> None:
    """No copies to drift: both sides use contract/ilake_contract/vocabulary.py."""
    from ilake_contract import vocabulary

    assert client_policy.classify_key is vocabulary.classify_key is server_rows.classify_key
    assert client_policy.shortcut_key is vocabulary.shortcut_key is server_rows.shortcut_key
    assert policy_rules.CAPTURE_REASONS is server_rows.CAPTURE_REASONS
    assert policy_rules.MIME is server_rows.MIME
    assert client_policy.ROLE is server_rows.ROLE


def test_text_limits_match_the_schema() -> None:
    def limit(cls: type[msgspec.Struct], name: str) -> int:
        (field,) = (f for f in msgspec.inspect.type_info(cls).fields if f.encode_name == name)
        kind = field.type
        kind = kind.item_type if isinstance(kind, msgspec.inspect.ListType) else kind
        types = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
        (text,) = (t for t in types if isinstance(t, msgspec.inspect.StrType))
        assert text.max_length is not None
        return text.max_length

    assert limit(s.Window, "title") == client_policy.MAX_TITLE
    assert limit(s.Window, "url") == client_policy.MAX_URL
    assert limit(s.Target, "name") == client_policy.MAX_TARGET_NAME
    assert limit(s.Target, "automation_id") == client_policy.MAX_SHORT
    assert limit(s.App, "name") == limit(s.App, "bundle_id") == client_policy.MAX_SHORT
    assert limit(s.MenuSelect, "menu_path") == client_policy.MAX_SHORT
    assert limit(s.KeyPress, "key") == client_policy.KEY_LENGTH[1]


# --- a light package --------------------------------------------------------------------------


def test_importing_the_policy_pulls_in_no_heavy_or_server_package() -> None:
    server = [f"lambdas.core.{m}" for m in ("pipeline", "admission", "rows", "batch_policy")]
    code = (
        f"SERVER = {server!r}\n"
        "import sys, ilake_agent.policy\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pyarrow', 'boto3', 'botocore', 'ilake') or m in SERVER)\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_realistic_stream_is_mostly_captured() -> None:
    """The policy is not so strict that it captures nothing, and its output is plain JSON."""
    policy = client_for(make_program())
    events = simulated_events(seed=7, n=500)
    kept = [sent for e in events if (sent := policy.apply(e)) is not None]
    not_denied = [e for e in events if e["app"]["name"] != "Slack"]
    assert len(kept) == len(not_denied) > 0.8 * len(events)
    assert json.loads(json.dumps(kept)) == kept
