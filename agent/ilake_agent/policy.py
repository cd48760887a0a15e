"""The program's policy on the employee's machine: capture only what the server would keep.

`ClientPolicy.from_policy()` reads the JSON of GET /v1/programs/{program}/policy; `apply()`
minimizes one event before it is spooled or sent (defence in depth: the server applies the same
policy again) and `describe()` tells the employee in plain words what is captured.

Rules of `apply()` (each mirrors what lambdas/core/pipeline.py does on the server, so the server
stores the same values from the minimized event as it would from the raw one):

1. Not captured at all (None), in the server's order and under the server's reason codes: a
   type the program does not collect (checked first: the agent reads no further what it drops);
   an event the server's own checks refuse (ilake_contract.validation: a missing field, a wrong
   JSON type, a value out of range or too long, an unknown type, a bad id); a `ts` more than 30
   days old or 10 minutes ahead of this machine's clock; an event from a denied app, or from an
   app outside the program's allowlist (the server's globs: built-in denials plus the program's,
   casefolded, on app name and bundle id; with an allowlist an event naming no app is denied);
   a pointer event without `display`. So what the agent keeps the server accepts, and what the
   server would refuse never reaches the spool. Only the server can refuse a repeated event id
   within a batch, a pointer move inside the sampling interval (it sees every session's moves in
   order) and an erased subject.
2. Only the fields the schema (docs/event-schema.md) defines are kept: the envelope fields plus
   the type's own fields, at every level (app, window, display, target); anything else is dropped.
3. text.input `text` becomes a surrogate of the same length and character classes (letters
   "a", digits "0", whitespace " ", anything else "!"), so typed text never leaves the machine
   while the server stores the same text_length and class counts.
4. clipboard `content` is never sent; `length` is kept, or set to the content's length when the
   agent gave none (what the server stores as clipboard_length either way).
5. key.press with a printable character (and key.shortcut that types one: no ctrl/alt/meta, or
   AltGr, or a non-ASCII character) becomes a surrogate of the same key_class that the server
   also refuses to keep; named keys (Enter, arrows, F-keys) and real shortcuts are sent as-is.
6. Window titles, target names (automation ids when there is no name) and menu labels: "drop"
   removes them (menu_path becomes []: the server requires the field and stores nothing of it);
   "common" and "hash" run the program's redactor (same detectors, same URL mode), so personal
   data is a placeholder before it leaves the machine. Hashing, and keeping a text in clear only
   once enough people have sent it, stay on the server, which holds the secret and sees everyone.
   App names and bundle ids are redacted too, as the server does.
7. URLs: "drop" removes them; "common" sends only `https://<host>` as the server reduces it
   (an IP host as the surrogate 0.0.0.0, a host the server cannot read as "%", so the server
   stores the same <IP> and <URL> placeholders); anything but a bare host name after redaction
   (a placeholder inside the host, text after it) is not sent at all.
8. Target roles, clipboard MIME types and pause reasons are sent as the server stores them:
   a token of the expected shape or "other".
9. Redacted text longer than the schema allows for its field is cut to fit, so the server
   accepts the event (placeholders can be longer than what they replace).

Unknown values in the policy fail closed: an unknown text mode is "drop", missing event types
collect nothing, a malformed app list denies every app, an unknown or missing detector list runs
every detector.

`capture()` is what `record()` spools: the same rules, on the caller's thread for every event.
msgspec checks every field in one C pass, into a shape per event type (the server's own types
and limits, missing kept apart from null, unknown fields refused); Python then does only what
needs it, on
memoized decisions, and the result is encoded (memoized objects as pre-encoded JSON). An event
the shape refuses goes through `apply()`'s own code, which decides and counts exactly. Tests
check that `capture()` spools exactly `apply()`'s result for any JSON event. The one difference
is outside JSON: msgspec reads a subclass of str or int (an enum member) as its JSON value,
where `apply()` refuses it; what is sent is then the plain value's event. A tuple is read as
the JSON array it encodes to by both.

Alongside, `capture()` gives the redactions the server would have counted for the raw event
(the server sees placeholders only): per detector, once per event and text, in "common" mode
only (the server counts nothing for a hashed text), a reduced URL at least once, dropped
clipboard content and unknown fields. Not counted: unknown fields of events the agent does not
capture (the server counts them before refusing such an event). Counted although the server
would not have: the redactions in events it refuses after the agent captured them (pointer
sampling, a clock that drifted while the event was spooled, a suppressed subject). Why an event
is not captured is one of NOT_CAPTURED: POLICY_REASONS or the server's INVALID_REASONS.

App decisions, windows, targets, redactions, keys and URL reductions are memoized per distinct
value (in memory only, each memo cleared when it reaches MEMO_SIZE entries): window titles
repeat on every event. The memos are plain dicts, safe to share between threads under the GIL.
"""

from __future__ import annotations

import itertools
import re
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
from msgspec import UNSET

from ilake_contract.apps import DEFAULT_DENIED_APPS, app_denied, glob_regex
from ilake_contract.redact import DETECTORS, Redactor
from ilake_contract.schema import EVENT_CLASS_BY_TYPE, EVENT_TYPES, NESTED, EventId
from ilake_contract.validation import (
    INVALID_REASONS,
    MAX_CLOCK_SKEW_MS,
    MAX_EVENT_AGE_MS,
    POINTER_TYPES,
    judge,
)
from ilake_contract.vocabulary import (
    CAPTURE_REASONS,
    MIME,
    ROLE,
    classify_key,
    safe_token,
    shortcut_key,
)

TEXT_MODES: Final = frozenset({"drop", "hash", "common"})
URL_MODES: Final = frozenset({"drop", "common"})
MEMO_SIZE: Final = 4096

# Schema limits (contract/ilake_contract/schema.py) the minimized text must fit.
MAX_TITLE = 1024
MAX_URL = 4096
MAX_TARGET_NAME = 1024
MAX_SHORT = 256  # app name, bundle id, automation id, menu label
KEY_LENGTH = (1, 32)


# Literal values of the schema: anything else would be rejected by the server.
_BUTTONS = frozenset({"left", "right", "middle", "back", "forward"})
_MODIFIERS = frozenset({"ctrl", "alt", "shift", "meta"})
_CLIPBOARD_OPS = frozenset({"copy", "cut", "paste"})

# Same-class stand-ins for keys the server would not keep, tried in order: the first one the
# server also refuses to keep under the event's modifiers is sent (non-ASCII ones cover ctrl+é).
KEY_SURROGATES: Final[dict[str, tuple[str, ...]]] = {
    "letter": ("a", "\u00e9"),
    "digit": ("0", "\u0660"),
    "space": (" ", "Space"),
    "symbol": ("!", "\u00a4"),
    "other": ("Unidentified",),
}
# A URL host the server reduced to a placeholder, and a URL from which it derives the same one.
_HOST_SURROGATES = {"<IP>": "https://0.0.0.0", "<URL>": "https://%"}
_BARE_HOST = re.compile(r"[\w.-]{1,253}")  # what the redactor's host extraction yields
_ASCII_SURROGATE = {
    i: ("a" if ch.isalpha() else "0" if ch.isdigit() else " " if ch.isspace() else "!")
    for i, ch in ((i, chr(i)) for i in range(128))
}

_MAX_AGE_S: Final = MAX_EVENT_AGE_MS / 1000
_MAX_SKEW_S: Final = MAX_CLOCK_SKEW_MS / 1000
_OMIT: Final = object()
_MISSING: Final = object()

# Why an event is not captured (counted by reason in the client's Counters): the program's
# policy, or the event is invalid (the server's own reason codes, from the server's own checks).
NOT_COLLECTED: Final = "type_not_collected"  # the server says type_not_allowed
DENIED_APP: Final = "denied_app"
NO_STAND_IN: Final = "no_stand_in"
POLICY_REASONS: Final[dict[str, str]] = {
    NOT_COLLECTED: "a type the program does not collect",
    DENIED_APP: "from an app the program denies, or outside its allowlist",
    NO_STAND_IN: "a character key the server would not keep, with no stand-in of its class",
}
UNKNOWN_TYPE: Final = "unknown_type"
WRONG_TYPE: Final = "wrong_type"
TS_OUT_OF_RANGE: Final = "ts_out_of_range"
MISSING_DISPLAY: Final = "missing_display"
NOT_CAPTURED: Final = (*POLICY_REASONS, *INVALID_REASONS)
# The agent's reason where the server names the same refusal differently.
SERVER_REASON: Final = {NOT_COLLECTED: "type_not_allowed"}

Counts = dict[str, int]  # redactions by detector; memoized objects, never mutated
_NO_COUNTS: Final[Counts] = {}
_Memo = tuple[dict[str, Any], Counts, msgspec.Raw]  # see _memo()
_FastTail = Callable[[Any, Counts], Counts]


class PolicyError(ValueError):
    """The policy answer is not a JSON object: nothing can be captured under it."""


class _Reject(Exception):  # internal control flow: never escapes apply()
    """The event carries a value that is not plain JSON (a tuple, an enum member): it is not
    captured (apply() only; capture() reads such values as their JSON value)."""


class _NoStandIn(Exception):  # internal control flow: never escapes apply() or capture()
    """A key the server would not keep and no stand-in of its class: not captured."""


# --- the server's classifications (ilake_contract.vocabulary, shared) -------------------------


def key_kept(key: str, modifiers: frozenset[str] | None) -> tuple[bool, str]:
    """(the server keeps the key, key_class) for a key.press (modifiers None) or a shortcut."""
    kept, key_class = classify_key(key) if modifiers is None else shortcut_key(modifiers, key)
    return kept is not None, key_class


def surrogate_key(key: str, modifiers: frozenset[str] | None) -> str | None:
    """The key as sent: itself when the server keeps it, else a same-class stand-in."""
    kept, key_class = key_kept(key, modifiers)
    if kept:
        return key
    for candidate in KEY_SURROGATES[key_class]:
        if key_kept(candidate, modifiers) == (False, key_class):
            return candidate
    return None  # no stand-in stores the same values: not captured


def surrogate_text(text: str) -> str:
    """Same length and character classes as `text` (the server's text_classes), no content."""
    if text.isascii():
        return text.translate(_ASCII_SURROGATE)
    return "".join(
        "a" if ch.isalpha() else "0" if ch.isdigit() else " " if ch.isspace() else "!"
        for ch in text
    )


# --- the policy ------------------------------------------------------------------------------


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _strings(value: Any) -> list[str] | None:
    """A list of strings, or None when the value is anything else."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _section(policy: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = policy.get(name)
    return section if isinstance(section, Mapping) else {}


def _mode(section: Mapping[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = section.get(name)
    return value if isinstance(value, str) and value in allowed else "drop"


class ClientPolicy:
    """A program's collection policy compiled for the agent's hot path."""

    def __init__(
        self,
        *,
        program: str,
        policy_version: str,
        purpose: str,
        owner: str,
        lawful_basis: str,
        notice_version: str,
        retention_days: int | None,
        event_types: frozenset[str],
        pointer_sample_ms: int | None,
        coordinate_precision: int | None,
        window_titles: str,
        target_names: str,
        menu_labels: str,
        urls: str,
        min_people: int | None,
        detectors: tuple[str, ...],
        deny: tuple[str, ...],
        allow: tuple[str, ...] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.program = program
        self._clock = clock  # seconds, for the server's bounds on `ts`
        self.policy_version = policy_version
        self.purpose = purpose
        self.owner = owner
        self.lawful_basis = lawful_basis
        self.notice_version = notice_version
        self.retention_days = retention_days
        self.event_types = event_types & EVENT_TYPES
        self.pointer_sample_ms = pointer_sample_ms
        self.coordinate_precision = coordinate_precision
        self.window_titles = window_titles if window_titles in TEXT_MODES else "drop"
        self.target_names = target_names if target_names in TEXT_MODES else "drop"
        self.menu_labels = menu_labels if menu_labels in TEXT_MODES else "drop"
        self.urls = urls if urls in URL_MODES else "drop"
        self.detectors = detectors
        self.deny = deny
        self.allow = allow
        self.min_people = min_people
        self._redactor = Redactor(detectors, "host" if self.urls == "common" else "drop")
        # The server's own glob compiler and decision (Program.app_denied), over the same lists.
        self._deny = glob_regex(deny)
        self._allow = glob_regex(allow) if allow is not None else None
        self._apps: dict[tuple[str | None, str | None], _Memo | None] = {}
        self._texts: dict[str, tuple[str, Counts]] = {}
        self._urls: dict[str, tuple[str | None, Counts]] = {}
        self._keys: dict[tuple[str, tuple[str, ...] | None], str | None] = {}
        self._windows: dict[tuple[str | None, str | None], _Memo] = {}
        self._targets: dict[tuple[str | None, str | None, str | None], _Memo] = {}
        # capture()'s memo of the same decisions by the parsed (frozen, hashable) app, window or
        # target itself: no key tuple to build per event
        self._parsed: dict[Any, _Memo | None] = {}
        self._shapes = {etype: _SHAPES[etype] for etype in sorted(self.event_types)}
        self._fast_tails = self._compile_fast_tails()

    @classmethod
    def from_policy(
        cls, policy: Mapping[str, Any], *, clock: Callable[[], float] = time.time
    ) -> ClientPolicy:
        """Compile the JSON of GET /v1/programs/{p}/policy; anything unexpected fails closed.
        `clock` (seconds) is the one the server's bounds on an event's `ts` are checked with."""
        if not isinstance(policy, Mapping):
            raise PolicyError("the policy answer is not a JSON object")
        collect = _section(policy, "collect")
        text = _section(policy, "text")
        apps = _section(policy, "apps")
        event_types = _strings(collect.get("event_types")) or []
        detectors = _strings(text.get("detectors"))
        if not detectors or not set(detectors) <= set(DETECTORS):
            detectors = list(DETECTORS)  # unknown to this agent: run every detector it has
        deny = _strings(apps.get("deny"))
        allow = _strings(apps.get("allow", []))
        retention = policy.get("retention_days")
        sample_ms = collect.get("pointer_sample_ms")
        min_people = text.get("min_people")
        precision = collect.get("coordinate_precision")
        return cls(
            program=_text(policy.get("program"), "unknown"),
            policy_version=_text(policy.get("policy_version")),
            purpose=_text(policy.get("purpose")),
            owner=_text(policy.get("owner")),
            lawful_basis=_text(policy.get("lawful_basis")),
            notice_version=_text(policy.get("notice_version")),
            retention_days=retention if type(retention) is int else None,
            event_types=frozenset(event_types),
            pointer_sample_ms=sample_ms if type(sample_ms) is int else None,
            coordinate_precision=precision if type(precision) is int else None,
            window_titles=_mode(text, "window_titles", TEXT_MODES),
            target_names=_mode(text, "target_names", TEXT_MODES),
            menu_labels=_mode(text, "menu_labels", TEXT_MODES),
            urls=_mode(text, "urls", URL_MODES),
            min_people=min_people if type(min_people) is int else None,
            detectors=tuple(sorted(set(detectors))),
            # the built-in denials hold even if the answer left them out; a malformed list
            # denies every app
            deny=tuple(
                dict.fromkeys((*DEFAULT_DENIED_APPS, *(deny if deny is not None else ["*"])))
            ),
            # a malformed allowlist allows nothing; an empty one means no allowlist
            allow=(tuple(allow) or None) if allow is not None else (),
            clock=clock,
        )

    # -- apply: the rules, field by field --------------------------------------------------

    def apply(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """A new, minimized event, or None when the event must not be captured at all."""
        minimized = self._minimize(event)
        return None if isinstance(minimized, str) else minimized[0]

    def _minimize(self, event: Any) -> tuple[dict[str, Any], Counts] | str:
        """(the minimized event, the redactions the server would count for the raw event) or
        why the event is not captured. The reference for `capture()`'s fast path."""
        if not isinstance(event, dict):
            return _invalid(event)
        etype = event.get("type")
        if type(etype) is not str or etype not in EVENT_TYPES:
            return _invalid(event)
        if etype not in self._shapes:
            return NOT_COLLECTED
        # the server's own reading of the event, and its reason; a recorder's `redacted` is
        # not read (the SDK writes its own), only counted as an unknown field below
        verdict = judge({k: v for k, v in event.items() if k != "redacted"})
        if isinstance(verdict, str):
            return verdict
        typed = verdict[0]
        if not self._ts_ok(typed.ts):
            return TS_OUT_OF_RANGE
        fields, nested = _FIELDS[etype]
        try:
            app = event.get("app")
            if app is None:
                origin = self._app(None, None)
            elif isinstance(app, dict):
                origin = self._app(
                    _str_or_none(app.get("name")), _str_or_none(app.get("bundle_id"))
                )
            else:
                raise _Reject
            if origin is None:
                return DENIED_APP
            if etype in POINTER_TYPES and typed.display is None:
                return MISSING_DISPLAY
            out: dict[str, Any] = {"type": etype, "app": dict(origin[0])}
            counts = origin[1]
            for name in _ORDER[etype]:  # schema order: modifiers come before key
                value = event.get(name, _MISSING)
                if value is _MISSING:
                    continue
                if value is not None:
                    kinds = _PLAIN.get(name)
                    if name == "display":  # as the server read it (a scale of 1 is the default)
                        value = msgspec.to_builtins(typed.display)
                    elif kinds is None:
                        value, found = self._special(name, value, event)
                        counts = _merge(counts, found)
                    elif type(value) not in kinds:  # exact types: not 1.0, not true
                        raise _Reject
                if value is not _OMIT:
                    out[name] = value
        except _Reject:
            return WRONG_TYPE
        except _NoStandIn:
            return NO_STAND_IN
        if etype == "clipboard" and out.get("length") is None:
            content = event.get("content")
            if type(content) is str:
                out["length"] = len(content)  # what the server stores as clipboard_length
        unknown = _unknown_fields(event, fields, nested)
        if unknown:
            counts = _merge(counts, {"unknown_field": unknown})
        return out, counts

    def _special(self, name: str, value: Any, event: dict[str, Any]) -> tuple[Any, Counts]:
        """A field that needs work: (the value as sent, or _OMIT; redactions); raise _Reject."""
        if name == "window":
            if not isinstance(value, dict):
                raise _Reject
            kept, counts, _ = self._window(
                _str_or_none(value.get("title")), _str_or_none(value.get("url"))
            )
            return (dict(kept) if kept else _OMIT), counts
        if name == "target":
            if not isinstance(value, dict):
                raise _Reject
            role, target_name = _str_or_none(value.get("role")), _str_or_none(value.get("name"))
            kept, counts, _ = self._target(
                role, target_name, _str_or_none(value.get("automation_id"))
            )
            return dict(kept), counts
        if name == "menu_path":
            return self._menu(value)
        if name == "modifiers":
            return list(_modifiers(value)), _NO_COUNTS
        if name == "key":
            mods = event.get("modifiers")
            if event["type"] == "key.press":
                return self._key(value, None), _NO_COUNTS
            modifiers = tuple(mods) if isinstance(mods, list | tuple) else ()
            return self._key(value, modifiers), _NO_COUNTS
        if not isinstance(value, str):
            raise _Reject
        if name in _CHOICES:
            if value not in _CHOICES[name]:
                raise _Reject
            return value, _NO_COUNTS
        if name == "text":
            return surrogate_text(value), _NO_COUNTS
        if name == "mime":
            return _mime(value), _NO_COUNTS
        if name == "reason":
            return _reason(value), _NO_COUNTS
        if name == "content":
            return _OMIT, _CLIPBOARD_CONTENT  # never sent; its length is (see _minimize)
        raise AssertionError(f"no rule for the field {name!r}")  # caught by the tests

    # -- capture: the same rules on the caller's hot path ---------------------------------

    def capture(self, event: dict[str, Any]) -> tuple[bytes, Counts] | str:
        """What `record()` spools for one event: (the minimized event as JSON, the redactions
        the server would have counted for the raw event), or why it is not captured (one of
        NOT_CAPTURED). The JSON is `apply()`'s result, encoded.

        msgspec checks every field in one C pass (into a shape per event type with the server's
        types and limits); Python then does only what needs it, on memoized decisions. An event
        the shape refuses (an invalid value, an unknown field) goes through `apply()`'s own code,
        which asks the server's checks why (or drops and counts the unknown fields).
        """
        if not isinstance(event, dict):
            return _invalid(event)
        etype = event.get("type")
        if type(etype) is not str:
            return _invalid(event)
        shape = self._shapes.get(etype)
        if shape is None:
            return NOT_COLLECTED if etype in EVENT_TYPES else UNKNOWN_TYPE
        try:
            ev: Any = _convert(event, shape)
        except (msgspec.ValidationError, TypeError, RecursionError):
            return self._capture_exactly(event)
        if not _event_id_ok(ev.event_id):
            return self._capture_exactly(event)  # the server's reason, in the server's order
        now = self._clock()  # in seconds: float arithmetic, 1 ms apart is still told apart
        if not now - _MAX_AGE_S <= ev.ts / 1000 <= now + _MAX_SKEW_S:
            return TS_OUT_OF_RANGE
        try:
            app = ev.app
            origin = self._parsed.get(app, _MISSING)
            if origin is _MISSING:
                key = (None, None) if app is None or app is UNSET else (app.name, app.bundle_id)
                origin = self._remember(app, self._app(*key))
            if origin is None:
                return DENIED_APP
            if etype in POINTER_TYPES and (ev.display is None or ev.display is UNSET):
                return MISSING_DISPLAY
            ev.app = origin[2]  # type: ignore[index]
            counts: Counts = origin[1]  # type: ignore[index]
            window = ev.window
            if window is not None and window is not UNSET:
                done = self._parsed.get(window) or self._remember(
                    window, self._window(window.title, window.url)
                )
                ev.window = done[2] if done[0] else UNSET
                if done[1]:
                    counts = _merge(counts, done[1])
            tail = self._fast_tails.get(etype)
            if tail is not None:
                counts = tail(ev, counts)
        except _Reject:
            return WRONG_TYPE
        except _NoStandIn:
            return NO_STAND_IN
        try:
            return _encode(ev), counts
        except TypeError:  # a value msgspec cannot encode (an object of another class)
            return WRONG_TYPE

    def _capture_exactly(self, event: dict[str, Any]) -> tuple[bytes, Counts] | str:
        minimized = self._minimize(event)
        if isinstance(minimized, str):
            return minimized
        try:
            return _encode(minimized[0]), minimized[1]
        except TypeError:
            return WRONG_TYPE

    def _ts_ok(self, ts: int) -> bool:
        now = self._clock()
        return now - _MAX_AGE_S <= ts / 1000 <= now + _MAX_SKEW_S

    def _compile_fast_tails(self) -> dict[str, _FastTail]:
        """Per event type, the work on its own fields after the shape checked their types."""

        def target(ev: Any, counts: Counts) -> Counts:
            t = ev.target
            if t is not None and t is not UNSET:
                done = self._parsed.get(t) or self._remember(
                    t, self._target(t.role, t.name, t.automation_id)
                )
                ev.target = done[2]
                if done[1]:
                    counts = _merge(counts, done[1])
            return counts

        def shortcut(ev: Any, counts: Counts) -> Counts:
            mods = ev.modifiers
            modifiers = () if mods is None or mods is UNSET else _modifiers(mods)
            if isinstance(ev.key, str):
                ev.key = self._key(ev.key, modifiers)
            return counts

        def press(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.key, str):
                ev.key = self._key(ev.key, None)
            return counts

        def text_input(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.text, str):
                ev.text = surrogate_text(ev.text)
            return target(ev, counts)

        def menu(ev: Any, counts: Counts) -> Counts:
            labels = ev.menu_path
            if labels is not None and labels is not UNSET:
                ev.menu_path, found = self._menu(labels)
                counts = _merge(counts, found)
            return target(ev, counts)

        def clipboard(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.mime, str):
                ev.mime = _mime(ev.mime)
            content = ev.content
            if isinstance(content, str):
                ev.content = UNSET  # never sent; its length is
                if (ev.length is None or ev.length is UNSET) and type(content) is str:
                    ev.length = len(content)
                counts = _merge(counts, _CLIPBOARD_CONTENT)
            return counts

        def capture_reason(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.reason, str):
                ev.reason = _reason(ev.reason)
            return counts

        tails: dict[str, _FastTail] = {
            "pointer.click": target,
            "key.shortcut": shortcut,
            "key.press": press,
            "text.input": text_input,
            "menu.select": menu,
            "clipboard": clipboard,
            "capture.pause": capture_reason,
            "capture.resume": capture_reason,
        }
        return {t: tails[t] for t in self._shapes if t in tails}

    # -- memoized decisions, shared by both paths ---------------------------------------

    def _remember(self, parsed: Any, done: Any) -> Any:
        if len(self._parsed) >= MEMO_SIZE:
            self._parsed.clear()
        self._parsed[parsed] = done
        return done

    def _app(self, name: str | None, bundle: str | None) -> _Memo | None:
        """The app as sent and its redaction counts, or None when its events are denied."""
        key = (name, bundle)
        done = self._apps.get(key, _MISSING)
        if done is not _MISSING:
            return done  # type: ignore[return-value]
        if app_denied(self._deny, self._allow, name, bundle):
            done = None
        else:
            app: dict[str, Any] = {}
            counts: Counts = _NO_COUNTS
            if name is not None:
                app["name"], counts = self._redacted(name, MAX_SHORT)
            if bundle is not None:
                app["bundle_id"], bundle_counts = self._redacted(bundle, MAX_SHORT)
                counts = _merge(counts, bundle_counts)
            done = _memo(app, counts)
        if len(self._apps) >= MEMO_SIZE:
            self._apps.clear()
        self._apps[key] = done
        return done

    def _redacted(self, text: str, limit: int) -> tuple[str, Counts]:
        """The text after the program's redaction, cut to `limit`, and what was found in it."""
        done = self._texts.get(text)
        if done is None:
            result = self._redactor.redact(text)
            done = (result.text, result.counts or _NO_COUNTS)
            if len(self._texts) >= MEMO_SIZE:
                self._texts.clear()
            self._texts[text] = done
        return done[0][:limit], done[1]

    def _kept_text(self, mode: str, value: str | None, limit: int) -> tuple[Any, Counts]:
        """(the text as sent, or None, or _OMIT; the redactions the server would count).

        The server counts redactions in "common" mode only: in "hash" mode it hashes the text
        whole (the agent still replaces personal data first, and counts nothing)."""
        if value is None:
            return None, _NO_COUNTS
        if mode == "drop":
            return _OMIT, _NO_COUNTS
        kept, counts = self._redacted(value, limit)
        return kept, counts if mode == "common" else _NO_COUNTS

    def _window(self, title: str | None, url: str | None) -> _Memo:
        key = (title, url)
        done = self._windows.get(key)
        if done is None:
            kept: dict[str, Any] = {}
            title_kept, counts = self._kept_text(self.window_titles, title, MAX_TITLE)
            if title_kept is not _OMIT and title_kept is not None:
                kept["title"] = title_kept
            if url is not None and self.urls == "common":
                reduced, url_counts = self._url(url)
                if reduced is not None:
                    kept["url"] = reduced
                counts = _merge(counts, url_counts)
            done = _memo(kept, counts)
            if len(self._windows) >= MEMO_SIZE:
                self._windows.clear()
            self._windows[key] = done
        return done

    def _url(self, url: str) -> tuple[str | None, Counts]:
        """What the server stores of a URL in host mode, as a URL it reduces to the same host,
        and what the server counts for it (at least the URL itself)."""
        done = self._urls.get(url)
        if done is not None:
            return done
        result = self._redactor.redact(url if "://" in url else f"https://{url}")
        host = result.text
        reduced: str | None = None
        if result.counts.get("url") == 1 and " " not in host:
            # only a bare host name: the server's own check lets "x.com\tjdoe" through
            reduced = _HOST_SURROGATES.get(host) or (
                f"https://{host}" if _BARE_HOST.fullmatch(host) else None
            )
        done = (reduced, result.counts or {"url": 1})
        if len(self._urls) >= MEMO_SIZE:
            self._urls.clear()
        self._urls[url] = done
        return done

    def _target(self, role: str | None, name: str | None, automation_id: str | None) -> _Memo:
        key = (role, name, automation_id)
        done = self._targets.get(key)
        if done is None:
            kept: dict[str, Any] = {}
            if role is not None:
                kept["role"] = safe_token(role, ROLE)
            # the server stores the name, or the automation id when there is no name
            if name is not None:
                name_kept, counts = self._kept_text(self.target_names, name, MAX_TARGET_NAME)
                if name_kept is not _OMIT:
                    kept["name"] = name_kept
            else:
                name_kept, counts = self._kept_text(self.target_names, automation_id, MAX_SHORT)
                if name_kept is not _OMIT and name_kept is not None:
                    kept["automation_id"] = name_kept
            done = _memo(kept, counts)
            if len(self._targets) >= MEMO_SIZE:
                self._targets.clear()
            self._targets[key] = done
        return done

    def _key(self, key: Any, modifiers: tuple[str, ...] | None) -> str:
        """A key.press key (modifiers None) or a shortcut's key, as sent."""
        if not isinstance(key, str) or not KEY_LENGTH[0] <= len(key) <= KEY_LENGTH[1]:
            raise _Reject
        memo = (key, modifiers)
        sent = self._keys.get(memo, _MISSING)
        if sent is _MISSING:
            sent = surrogate_key(key, None if modifiers is None else frozenset(modifiers))
            if len(self._keys) >= MEMO_SIZE:
                self._keys.clear()
            self._keys[memo] = sent
        if sent is None:
            raise _NoStandIn
        return sent  # type: ignore[return-value]

    def _menu(self, labels: Any) -> tuple[list[Any], Counts]:
        if not isinstance(labels, list | tuple):  # a tuple is a JSON array, as msgspec reads it
            raise _Reject
        if self.menu_labels == "drop":
            return [], _NO_COUNTS  # required by the schema; the server stores nothing of it
        sent, counts = [], _NO_COUNTS
        for label in labels:
            kept, found = self._kept_text(self.menu_labels, _str_or_none(label), MAX_SHORT)
            sent.append(kept)
            counts = _merge(counts, found)
        return sent, counts

    # -- describe -----------------------------------------------------------------------------

    def describe(self) -> str:
        """What is captured, in plain words, for the employee whose machine runs the agent."""
        lines = [f'What this agent captures for the program "{self.program}"']
        if self.policy_version:
            lines[0] += f" (policy {self.policy_version})"
        lines += [
            "",
            f"Purpose: {self.purpose or 'not stated: nothing should be captured'}",
            f"Responsible: {self.owner or 'not stated'}",
        ]
        if self.lawful_basis:
            lines.append(f"Lawful basis: {self.lawful_basis.replace('_', ' ')}")
        if self.notice_version:
            lines.append(f"Privacy notice: version {self.notice_version}")
        if self.retention_days is not None:
            lines.append(f"Kept for: {self.retention_days} days, then deleted")
        lines += ["", "Captured:"]
        if not self.event_types:
            lines.append("  - nothing: this program collects no events")
        for etype in sorted(self.event_types):
            lines.append(f"  - {etype}: {self._describe_type(etype)}")
        not_collected = sorted(EVENT_TYPES - self.event_types)
        if not_collected:
            lines.append(f"Never captured: {', '.join(not_collected)}.")
        lines += [
            "",
            "Text on your screen:",
            f"  - window titles: {self._describe_mode(self.window_titles)}",
            f"  - names of buttons and fields you use: {self._describe_mode(self.target_names)}",
            f"  - menu items you choose: {self._describe_mode(self.menu_labels)}",
            "  - web addresses: "
            + (
                "only the site's host name (e.g. example.com), kept like a title; the page and "
                "anything after it never leave this computer"
                if self.urls == "common"
                else "never sent"
            ),
        ]
        if "common" in (self.window_titles, self.target_names, self.menu_labels, self.urls):
            lines += [
                f"  Titles, labels and menu items are kept only once at least {self._people} have",
                "  seen the same text. Until then only an unreadable fingerprint of it is stored:",
                "  a title only you see (a document, a message, a question you typed) stays",
                "  unreadable to everyone.",
            ]
        if (
            self.window_titles != "drop"
            or self.target_names != "drop"
            or self.menu_labels != "drop"
        ):
            found = ", ".join(_DETECTOR_WORDS.get(d, d) for d in self.detectors)
            lines.append(f"  Replaced by placeholders (like <EMAIL>) on this computer: {found}.")
        lines += [
            "",
            "Applications never captured (nothing is recorded while they are in use):",
            "  " + ", ".join(p.strip("*") or p for p in self.deny),
        ]
        if self.allow is not None:
            if self.allow:
                lines.append("Only these applications are captured:")
                lines.append("  " + ", ".join(p.strip("*") or p for p in self.allow))
            else:
                lines.append("No application is captured (the allowed list is unreadable).")
        lines += [
            "",
            "What never leaves this computer:",
            "  - what you type: only how many characters, and how many were letters, digits,",
            "    spaces or symbols",
            "  - which character keys you press: only whether each was a letter, digit, space or",
            "    symbol (keys like Enter or the arrows, and shortcuts like Ctrl+S, are recorded)",
            "  - what you copy or paste: only its length and kind (text, image, ...)",
            "",
            "The server applies these same rules again before anything is stored.",
        ]
        return "\n".join(lines)

    def _describe_type(self, etype: str) -> str:
        words = _TYPE_WORDS.get(etype, etype)
        if etype.startswith("pointer.") and self.coordinate_precision is not None:
            words += f" (position rounded to {self.coordinate_precision} decimals of the screen)"
        if etype == "pointer.move" and self.pointer_sample_ms:
            words += f", at most one every {self.pointer_sample_ms} ms"
        return words

    @property
    def _people(self) -> str:
        if self.min_people is None:
            return "several colleagues (the policy does not say how many)"
        return f"{self.min_people} colleagues"

    def _describe_mode(self, mode: str) -> str:
        if mode == "common":
            return (
                f"personal data replaced here; kept only once at least {self._people} have "
                "seen the same text"
            )
        if mode == "hash":
            return (
                "personal data replaced here, then turned into a code on the server, so "
                "windows can be told apart without reading them"
            )
        return "never sent"


# --- field helpers: check a JSON type and convert; raise _Reject on a wrong one ----------------


def _str_or_none(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Reject


def _modifiers(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):  # a tuple is a JSON array, as msgspec reads it
        mods = tuple(value)
        try:
            if mods in _MODIFIER_TUPLES:
                return mods
        except TypeError:  # something unhashable in the list: not a modifier
            raise _Reject from None
        if all(isinstance(m, str) and m in _MODIFIERS for m in mods):
            return mods  # more than four: the server decides
    raise _Reject


def _mime(value: str) -> str | None:
    return safe_token(value.lower(), MIME) if value else None


def _reason(value: str) -> str:
    return value if value in CAPTURE_REASONS else "other"


def _memo(kept: dict[str, Any], counts: Counts) -> _Memo:
    """A memoized object: as a dict (for apply), its redactions, and as JSON (for capture)."""
    return kept, counts, msgspec.Raw(_encode(kept))


def _merge(counts: Counts, more: Counts) -> Counts:
    """Both counts added up; either one itself when the other is empty (never mutated)."""
    if not more:
        return counts
    if not counts:
        return more
    merged = dict(counts)
    for name, n in more.items():
        merged[name] = merged.get(name, 0) + n
    return merged


def _unknown_fields(
    event: dict[str, Any], fields: frozenset[str], nested: tuple[tuple[str, frozenset[str]], ...]
) -> int:
    """Fields the schema does not define, counted as the server counts what it drops."""
    unknown = sum(1 for name in event if name not in fields)
    for name, known in nested:
        value = event.get(name)
        if isinstance(value, dict):
            unknown += sum(1 for key in value if key not in known)
    return unknown


# --- the schema, as the two paths read it ------------------------------------------------------

_encode = msgspec.json.encode
_convert = msgspec.convert
_CHOICES: Final = {"button": _BUTTONS, "op": _CLIPBOARD_OPS}
_CLIPBOARD_CONTENT: Final = {"clipboard_content": 1}
_MODIFIER_TUPLES: Final = frozenset(
    mods for n in range(5) for mods in itertools.product(sorted(_MODIFIERS), repeat=n)
)
# Fields sent as they are once their JSON type is right (the server checks ranges and formats).
_STR, _INT, _NUMBER = frozenset({str}), frozenset({int}), frozenset({int, float})
_PLAIN: Final[dict[str, frozenset[type]]] = {
    **dict.fromkeys(("event_id", "session_id", "subject", "device_id"), _STR),
    **dict.fromkeys(("ts", "seq", "clicks", "length"), _INT),  # the schema refuses 1.0 and true
    **dict.fromkeys(("x", "y", "x2", "y2", "dx", "dy"), _NUMBER),
}


def _names(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    """An event's fields as a recorder may send them: `redacted` is the SDK's own, added to the
    minimized event (a recorder's claim is an unknown field, dropped and counted)."""
    return tuple(f.encode_name for f in msgspec.structs.fields(cls) if f.name != "redacted")


# Per event type: its fields in schema order but `app` (decided first), its field names with
# "type", and the nested objects it has with their fields (for counting unknown fields).
_ORDER: Final = {
    t: tuple(n for n in _names(c) if n != "app") for t, c in EVENT_CLASS_BY_TYPE.items()
}
_FIELDS: Final = {
    t: (
        frozenset((*_names(c), "type")),
        tuple((n, frozenset(_names(k))) for n, k in NESTED.items() if n in _names(c)),
    )
    for t, c in EVENT_CLASS_BY_TYPE.items()
}


# The shapes `capture()` converts events into: the server's own types of every field (so the
# server's limits are checked in the same C pass), unknown fields refused (apply()'s code drops
# and counts them). A missing optional field stays UNSET (left out when encoded), a null stays
# None (sent as null), as apply() keeps them apart.
# The event id is checked apart, with the server's own pattern compiled once: msgspec runs a
# pattern through `re` on every value, at twice the cost (about as much as the rest of the
# shape). An id it refuses goes through `apply()`, which asks the server's checks why.
_EVENT_ID_PATTERN: Final = next(
    m.pattern
    for m in typing.get_args(EventId)[1:]
    if isinstance(m, msgspec.Meta) and m.pattern is not None
)
_event_id_ok: Final = re.compile(_EVENT_ID_PATTERN).search  # msgspec's own test: re.search


def _nested_shape(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The server's nested object (its fields, types, limits and encoding), untracked by the
    garbage collector: it holds only strings and numbers, and one is made per event."""
    fields = [
        (f.encode_name, f.type) if f.required else (f.encode_name, f.type, f.default)
        for f in msgspec.structs.fields(cls)
    ]
    config = cls.__struct_config__
    return msgspec.defstruct(
        f"_{cls.__name__}",
        fields,
        kw_only=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        omit_defaults=config.omit_defaults,
        frozen=True,
        gc=False,
    )


_NESTED_SHAPES: Final = {name: _nested_shape(cls) for name, cls in NESTED.items()}


def _shape_of(etype: str) -> type[msgspec.Struct]:
    fields: list[Any] = [("type", str)]
    for f in msgspec.structs.fields(EVENT_CLASS_BY_TYPE[etype]):
        if f.name == "redacted":
            continue  # the SDK's own: a recorder's claim is an unknown field, dropped
        if f.name == "event_id":
            fields.append((f.encode_name, str))
        elif f.name in _NESTED_SHAPES:  # all optional: the object or null
            fields.append((f.encode_name, _NESTED_SHAPES[f.name] | None | msgspec.UnsetType, UNSET))
        elif f.required:
            fields.append((f.encode_name, f.type))
        else:
            fields.append((f.encode_name, f.type | msgspec.UnsetType, UNSET))
    return msgspec.defstruct(
        f"_Shape_{etype.replace('.', '_')}",
        fields,
        kw_only=True,
        forbid_unknown_fields=True,
        gc=False,
    )


def _invalid(event: Any) -> str:
    """Why the server refuses an event that is not an object of a known type."""
    verdict = judge(event)
    return verdict if isinstance(verdict, str) else WRONG_TYPE


_SHAPES: Final = {etype: _shape_of(etype) for etype in EVENT_CLASS_BY_TYPE}


_TYPE_WORDS = {
    "pointer.move": "mouse movements",
    "pointer.click": "mouse clicks (which button, how many clicks, the control's role)",
    "pointer.scroll": "scrolling",
    "pointer.drag": "drag and drop (start and end points)",
    "key.shortcut": "keyboard shortcuts such as Ctrl+S",
    "key.press": "key presses (named keys only; characters become letter/digit/space/symbol)",
    "text.input": "text fields you type into (length and character counts only, never the text)",
    "menu.select": "menu items you choose",
    "window.focus": "which application and window you switch to",
    "clipboard": "copy, cut and paste (length and kind only, never the content)",
    "capture.pause": "when capture is paused",
    "capture.resume": "when capture resumes",
}
_DETECTOR_WORDS = {
    "private_key": "private keys",
    "jwt": "access tokens",
    "url": "web addresses",
    "email": "e-mail addresses",
    "aws_key": "cloud access keys",
    "aws_secret": "cloud secret keys",
    "iban": "bank account numbers (IBAN)",
    "ip": "IP addresses",
    "card": "payment card numbers",
    "ssn": "national id numbers",
    "phone": "phone numbers",
    "path_user": "user names in file paths",
    "secret": "passwords and other secrets",
}
