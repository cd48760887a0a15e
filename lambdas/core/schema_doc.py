"""Write docs/event-schema.md from the msgspec types: the schema as a person writing JSON reads it.

    python -m lambdas.core.schema_doc          # rewrite the document
    python -m lambdas.core.schema_doc --check  # exit 1 if it is stale

Types, limits and what is required come from `ilake_contract.schema` itself, so the document
cannot drift from what the server enforces (a test fails when the file is stale). What the
server keeps of each field is said here in words, and every field must have some: a new field
without them stops the generator. The example of each type is validated against the server's
pipeline by the tests.
"""

from __future__ import annotations

import json
import sys
import types
import typing
import uuid
from pathlib import Path
from typing import Any, Final

import msgspec

from ilake_contract import schema as s
from ilake_contract.validation import INVALID_REASONS, POLICY_REASONS, SERVER_ONLY_REASONS

DOCUMENT: Final = Path(__file__).resolve().parents[2] / "docs" / "event-schema.md"
EXAMPLE_TS: Final = 1_800_000_000_000  # 2027-01-15T08:00:00Z
# The agent's own policy refusals (ilake_agent.policy), named here so the server side need not
# import the agent.
AGENT_ONLY_REASONS: Final = {
    "type_not_collected": "a type the program does not collect (the server's `type_not_allowed`)",
    "no_stand_in": "a character key the server would not keep, with no stand-in of its class",
}

# What the server keeps of each field: "<type>.<field>" first, then "<Struct>.<field>", then the
# field's name.
KEPT: Final[dict[str, str]] = {
    # the envelope
    "Envelope.schema": "`interaction/1`, or `interaction/1.N` for a newer minor version "
    "(unknown fields of a newer minor version are dropped and counted); anything else "
    "refuses the batch (400)",
    "Envelope.batch_id": "the batch's identity: a retry sends the same id with the same events "
    "and gets the first answer again; stored with each row",
    "Envelope.sent_at": "when the agent sent the batch; not stored (rows carry the arrival time)",
    "Envelope.agent": "which agent sent the batch",
    "Envelope.events": "the events, each judged on its own: an invalid event is counted under "
    "its reason and never fails the batch",
    "Envelope.not_captured": "set by the agent SDK: how many events it did not capture since "
    "its previous batch, by reason, in counts only; counted in the `NotCaptured.<reason>` "
    "metrics (an unknown reason as `other`), not stored as rows",
    "Agent.version": "stored as `agent_version` if it looks like a version, else `other`",
    "Agent.os": "stored as `agent_os` if it looks like a name, else `other`",
    "Agent.os_version": "not stored",
    # every event
    "type": "which event this is (one of the sections below)",
    "event_id": "stored (lower case); a second event with the same id in one batch is refused",
    "ts": "when it happened (epoch milliseconds, 2000-01-01 to 2100-01-01); stored. Refused when "
    "more than 30 days old or more than 10 minutes ahead of the receiver's clock",
    "seq": "the agent's counter within the session; stored",
    "session_id": "stored as a pseudonym (a keyed hash), never in clear",
    "subject": "the person (e.g. the account name); stored as a pseudonym, never in clear",
    "device_id": "stored as a pseudonym, never in clear",
    "app": "the application in use: an app the program denies (or one outside its allowlist) "
    "is not captured at all",
    "window": "the focused window",
    "redacted": "set by the agent SDK, never by a recorder: how many matches it replaced by a "
    "placeholder (by detector), or fields it left out, before sending; added to the row's "
    "`redactions` (a recorder's own `redacted` is dropped by the SDK as an unknown field)",
    "display": "the screen, in pixels; pointer events without it are refused, since their "
    "coordinates are stored as fractions of it",
    # nested objects
    "App.name": "matched against the program's denied and allowed apps; stored after the "
    "program's detectors replaced personal data by placeholders",
    "App.bundle_id": "likewise",
    "Window.title": "per the program's `window_titles`: `drop` stores nothing, `hash` a keyed "
    "hash, `common` the text once enough people have seen it (an id until then)",
    "Window.url": 'with `urls = "common"` only the host, kept like a title; the path, query '
    "and user never; with `drop` nothing",
    "Display.w": "stored",
    "Display.h": "stored",
    "Display.scale": "stored",
    "Target.role": "stored if it looks like a role (letters, spaces, `_`, `-`), else `other`",
    "Target.name": "per the program's `target_names`, like a window title",
    "Target.automation_id": "stands in for a missing `name`, under the same mode",
    "target": "the control acted on",
    # the types' own fields
    "x": "stored as a fraction of the display's width (0 to 1), rounded to the program's "
    "`coordinate_precision`",
    "y": "stored as a fraction of the display's height, likewise",
    "x2": "the drag's end, like `x`",
    "y2": "the drag's end, like `y`",
    "button": "stored",
    "clicks": "stored (2 for a double click)",
    "dx": "stored",
    "dy": "stored",
    "modifiers": "stored, in the order ctrl, alt, shift, meta",
    "key.shortcut.key": "stored when the shortcut does not type a character (ctrl, alt or meta "
    "with it); one that types is stored as its class only (letter, digit, space, symbol)",
    "key.press.key": "named keys (Enter, arrows, F-keys, ...) stored; a character only as its "
    "class (letter, digit, space, symbol)",
    "text": "never stored: only its length and how many letters, digits, spaces and symbols",
    "menu_path": "the labels from the menu bar down, per the program's `menu_labels`, like a "
    "window title",
    "op": "stored",
    "mime": "stored if it looks like a MIME type, else `other`",
    "length": "stored; when absent, the length of `content`",
    "content": "never stored: only its length",
    "reason": "stored if one of `user`, `idle`, `screen_locked`, `sleep`, `denied_app`, "
    "`policy`, `server`, else `other`",
}

_COMMON: Final = {
    "event_id": "0b7e6c1a-3f0e-4c53-9a53-1c1f4c2f1e01",
    "type": "",
    "ts": EXAMPLE_TS,
    "seq": 41,
    "session_id": "2026-12-02-morning",
    "subject": "jdoe",
    "device_id": "LAPTOP-42",
    "app": {"name": "Visual Studio Code", "bundle_id": "com.microsoft.VSCode"},
    "window": {"title": "main.py - project", "url": "https://example.com/docs/intro"},
    "display": {"w": 2560, "h": 1440, "scale": 2.0},
}
_OWN: Final[dict[str, dict[str, Any]]] = {
    "pointer.move": {"x": 1200.5, "y": 640},
    "pointer.click": {
        "x": 1210,
        "y": 655,
        "button": "left",
        "clicks": 1,
        "target": {"role": "button", "name": "Run", "automation_id": "run-button"},
    },
    "pointer.scroll": {"x": 1200, "y": 700, "dx": 0, "dy": -120},
    "pointer.drag": {"x": 300, "y": 200, "x2": 900, "y2": 240, "button": "left"},
    "key.shortcut": {"modifiers": ["ctrl", "shift"], "key": "p"},
    "key.press": {"key": "Enter"},
    "text.input": {"text": "hello world", "target": {"role": "textbox", "name": "Search"}},
    "menu.select": {"menu_path": ["File", "Save As..."], "target": {"role": "menuitem"}},
    "window.focus": {},
    "clipboard": {"op": "copy", "mime": "text/plain", "length": 42},
    "capture.pause": {"reason": "user"},
    "capture.resume": {"reason": "user"},
}


def example(etype: str) -> dict[str, Any]:
    """A valid event of `etype` as an agent would send it."""
    pointer = etype.startswith("pointer.")
    event = {**_COMMON, "type": etype, **_OWN[etype]}
    if not pointer:
        event.pop("display")
    return event


def envelope_example() -> dict[str, Any]:
    """A batch around one event, as POST /v1/programs/{program}/batches takes it."""
    return {
        "schema": "interaction/1",
        "batch_id": "5d1f3f0c-8a3e-4a55-b8a8-2f5f8e0c7a10",
        "sent_at": EXAMPLE_TS + 1_000,
        "agent": {"version": "0.1.0", "os": "linux", "os_version": "6.8"},
        "events": [example("key.press")],
    }


# --- types in words -----------------------------------------------------------------------------


def _annotated(tp: Any) -> tuple[Any, list[msgspec.Meta]]:
    if typing.get_origin(tp) is typing.Annotated:
        base, *extras = typing.get_args(tp)
        return base, [m for m in extras if isinstance(m, msgspec.Meta)]
    return tp, []


def _number(n: float) -> str:
    if isinstance(n, int) and n >= 2**30 and (n & (n - 1)) == 0:
        return f"2^{n.bit_length() - 1}"
    return f"{n:,}"


def _limits(metas: list[msgspec.Meta], unit: str) -> list[str]:
    words: list[str] = []
    for meta in metas:
        low = (meta.ge, ">=") if meta.ge is not None else (meta.gt, ">")
        high = meta.le
        if low[0] is not None and high is not None:
            if low[1] == ">=":
                words.append(f"{_number(low[0])} to {_number(high)}")
            else:
                words.append(f"more than {_number(low[0])}, at most {_number(high)}")
        if meta.min_length and meta.max_length is not None:
            words.append(f"{meta.min_length} to {meta.max_length:,} {unit}")
        elif meta.max_length is not None:
            words.append(f"at most {meta.max_length:,} {unit}")
        if meta.pattern is not None:
            words.append("a UUID, e.g. `0b7e6c1a-3f0e-4c53-9a53-1c1f4c2f1e01`")
    return words


def describe_type(tp: Any) -> tuple[str, str]:
    """(the JSON type in words, its limits in words) of a schema type."""
    base, metas = _annotated(tp)
    if isinstance(base, types.UnionType) or typing.get_origin(base) is typing.Union:
        args = [a for a in typing.get_args(base) if a is not type(None)]
        kind, limits = describe_type(args[0]) if len(args) == 1 else ("any", "")
        nullable = len(args) < len(typing.get_args(base))
        return (f"{kind} or null" if nullable else kind), limits
    if typing.get_origin(base) is typing.Literal:
        return "string", "one of " + ", ".join(f"`{v}`" for v in typing.get_args(base))
    if typing.get_origin(base) is list:
        item_kind, item_limits = describe_type(typing.get_args(base)[0])
        words = _limits(metas, "items")
        if item_limits:
            words.append(f"each {item_limits}")
        return f"array of {item_kind}s", "; ".join(words)
    if typing.get_origin(base) is dict:
        key_kind, _ = describe_type(typing.get_args(base)[0])
        value_kind, value_limits = describe_type(typing.get_args(base)[1])
        return f"object of {value_kind}s by {key_kind}", value_limits
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return f"object (`{base.__name__}` below)", ""
    if base is uuid.UUID:
        return "string", "a UUID"
    if base is msgspec.Raw:
        return "array of events", ""
    names = {int: "integer", float: "number", str: "string", bool: "boolean"}
    if base in names:
        unit = "characters" if base is str else ""
        return names[base], "; ".join(_limits(metas, unit))
    raise ValueError(f"no words for the type {tp!r}: teach describe_type")


def kept(struct: type[msgspec.Struct], name: str, etype: str | None = None) -> str:
    for key in (f"{etype}.{name}", f"{struct.__name__}.{name}", name):
        if key in KEPT:
            return KEPT[key]
    raise KeyError(f"no words for {struct.__name__}.{name}: say in KEPT what the server keeps")


def _default(field: msgspec.structs.FieldInfo) -> str:
    if field.required:
        return "required"
    if field.default is None:
        return "optional"
    return f"optional, default `{json.dumps(field.default)}`"


def _table(
    struct: type[msgspec.Struct], fields: list[msgspec.structs.FieldInfo], etype: str | None
) -> list[str]:
    rows = [
        "| field | JSON type | limits | required | what the server keeps |",
        "|---|---|---|---|---|",
    ]
    for field in fields:
        kind, limits = describe_type(field.type)
        cells = [
            f"`{field.encode_name}`",
            kind,
            limits,
            _default(field),
            kept(struct, field.name, etype),
        ]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows


# --- the document ------------------------------------------------------------------------------


def render() -> str:
    from .pipeline import Limits

    limits = Limits()
    base_fields = {f.name for f in msgspec.structs.fields(s.EventBase)}
    lines = [
        "# Event schema `interaction/1`",
        "",
        "<!-- Generated from contract/ilake_contract/schema.py by "
        "`python -m lambdas.core.schema_doc`: do not edit by hand. -->",
        "",
        "What an agent sends: a batch (the envelope) of events, each a JSON object. "
        "`ilake agent run --source stdin-jsonl` reads one event per line, exactly as in the "
        "examples below, and makes the batches itself. The HTTP API is in [api.md](api.md).",
        "",
        "Every field is checked against the limits below. An event that breaks one is not "
        "stored and is counted under a reason (end of this page); the agent refuses it already, "
        "under the same reason. Fields the schema does not define are dropped and counted "
        "(`unknown_field`), at every level, so a newer agent can send more. A missing optional "
        "field and `null` are the same.",
        "",
        "## The envelope (one per batch)",
        "",
        f"At most {limits.max_events:,} events and {limits.max_body_bytes // 2**20} MiB of "
        "JSON per batch (gzip allowed).",
        "",
        *_table(s.Envelope, list(msgspec.structs.fields(s.Envelope)), None),
        "",
        "```json",
        json.dumps(envelope_example(), ensure_ascii=False),
        "```",
        "",
        "`agent`:",
        "",
        *_table(s.Agent, list(msgspec.structs.fields(s.Agent)), None),
        "",
        "## Fields of every event",
        "",
        *_table(
            s.EventBase,
            [
                msgspec.structs.FieldInfo(
                    "type", "type", typing.Literal[tuple(sorted(s.EVENT_TYPES))]
                ),
                *msgspec.structs.fields(s.EventBase),
            ],
            None,
        ),
        "",
    ]
    for name, struct in s.NESTED.items():
        lines += [
            f"### `{struct.__name__}` (in `{name}`)",
            "",
            *_table(struct, list(msgspec.structs.fields(struct)), None),
            "",
        ]
    lines += ["## Event types", ""]
    for cls in s.EVENT_CLASSES:
        etype = str(cls.__struct_config__.tag)
        own = [f for f in msgspec.structs.fields(cls) if f.name not in base_fields]
        lines += [f"### `{etype}`", ""]
        if etype.startswith("pointer."):
            lines += ["`display` is required.", ""]
        if own:
            lines += _table(cls, own, etype)
        else:
            lines.append("No fields of its own.")
        lines += ["", "```json", json.dumps(example(etype), ensure_ascii=False), "```", ""]
    lines += [
        "## Why an event is not stored",
        "",
        "The server answers each batch with `rejected`: events by reason. The agent counts the "
        "events it does not capture by reason too (`ilake agent run` prints them). The agent "
        "refuses what the event alone or the program decides, under the server's codes; only "
        "the server can tell the rest.",
        "",
        "| reason | meaning | refused by |",
        "|---|---|---|",
    ]
    for code, words in INVALID_REASONS.items():
        lines.append(f"| `{code}` | {words} | agent and server |")
    for code, words in POLICY_REASONS.items():
        where = (
            "server (the agent says `type_not_collected`)"
            if code == "type_not_allowed"
            else ("agent and server")
        )
        lines.append(f"| `{code}` | {words} | {where} |")
    for code, words in SERVER_ONLY_REASONS.items():
        where = "the agent SDK's client and server" if code == "sampled_out" else "server only"
        lines.append(f"| `{code}` | {words} | {where} |")
    for code, words in AGENT_ONLY_REASONS.items():
        lines.append(f"| `{code}` | {words} | agent only |")
    lines += [
        "",
        "An event of a type its program does not collect is `type_not_collected` on the agent "
        "whatever else is wrong with it: the agent does not read further what it drops anyway.",
        "A line that is not a JSON object is counted by `ilake agent run` as unreadable.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(
                f"{DOCUMENT.name} is stale: run python -m lambdas.core.schema_doc", file=sys.stderr
            )
            return 1
        return 0
    if args:
        print("usage: python -m lambdas.core.schema_doc [--check]", file=sys.stderr)
        return 2
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
