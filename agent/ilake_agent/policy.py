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
   within a batch and an erased subject; a pointer move inside the sampling interval is dropped
   by the Client (`sampled_out`, per session, on `ts`) before the server sees it, and the server
   applies the same rule again to what any agent sends.
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

`capture()` (policy_capture.py) is what `record()` spools: the same rules, fast, checked against
`apply()` by the tests; `describe()` (policy_describe.py) is the plain-language account. Why an
event is not captured, and the values both paths send alike, are in policy_rules.py.

App decisions, windows, targets, redactions, keys and URL reductions are memoized per distinct
value (in memory only, each memo cleared when it reaches MEMO_SIZE entries): window titles
repeat on every event. The memos are plain dicts, safe to share between threads under the GIL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from ilake_contract.apps import DEFAULT_DENIED_APPS, app_denied, glob_regex
from ilake_contract.redact import DETECTORS, Redactor
from ilake_contract.schema import EVENT_CLASS_BY_TYPE, EVENT_TYPES, NESTED
from ilake_contract.validation import POINTER_TYPES, judge
from ilake_contract.vocabulary import ROLE, classify_key, safe_token, shortcut_key

from .policy_capture import FastCapture
from .policy_describe import describe_policy
from .policy_rules import (
    CLIPBOARD_CONTENT,
    MAX_AGE_S,
    MAX_SKEW_S,
    MISSING,
    MISSING_DISPLAY,
    NO_COUNTS,
    TS_OUT_OF_RANGE,
    WRONG_TYPE,
    Counts,
    Memo,
    NoStandIn,
    Reject,
    invalid_reason,
    merge,
    mime_sent,
    modifiers_sent,
    reason_sent,
)

# the reasons and rules users import from here, defined where both paths share them
from .policy_rules import DENIED_APP as DENIED_APP
from .policy_rules import MEMO_SIZE as MEMO_SIZE
from .policy_rules import NO_STAND_IN as NO_STAND_IN
from .policy_rules import NOT_CAPTURED as NOT_CAPTURED
from .policy_rules import NOT_COLLECTED as NOT_COLLECTED
from .policy_rules import POLICY_REASONS as POLICY_REASONS
from .policy_rules import SERVER_REASON as SERVER_REASON
from .policy_rules import surrogate_text as surrogate_text

TEXT_MODES: Final = frozenset({"drop", "hash", "common"})
URL_MODES: Final = frozenset({"drop", "common"})

# Schema limits (contract/ilake_contract/schema.py) the minimized text must fit.
MAX_TITLE = 1024
MAX_URL = 4096
MAX_TARGET_NAME = 1024
MAX_SHORT = 256  # app name, bundle id, automation id, menu label
KEY_LENGTH = (1, 32)


# Literal values of the schema: anything else would be rejected by the server.
_BUTTONS = frozenset({"left", "right", "middle", "back", "forward"})
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

_OMIT: Final = object()


class PolicyError(ValueError):
    """The policy answer is not a JSON object: nothing can be captured under it."""


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
        self._apps: dict[tuple[str | None, str | None], Memo | None] = {}
        self._texts: dict[str, tuple[str, Counts]] = {}
        self._urls: dict[str, tuple[str | None, Counts]] = {}
        self._keys: dict[tuple[str, tuple[str, ...] | None], str | None] = {}
        self._windows: dict[tuple[str | None, str | None], Memo] = {}
        self._targets: dict[tuple[str | None, str | None, str | None], Memo] = {}
        # capture(event): what record() spools, the fast path over these same decisions (a bound
        # method of its own object, so that a call costs what a method call costs)
        self.capture = FastCapture(self).capture

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
            return invalid_reason(event)
        etype = event.get("type")
        if type(etype) is not str or etype not in EVENT_TYPES:
            return invalid_reason(event)
        if etype not in self.event_types:
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
                raise Reject
            if origin is None:
                return DENIED_APP
            if etype in POINTER_TYPES and typed.display is None:
                return MISSING_DISPLAY
            out: dict[str, Any] = {"type": etype, "app": dict(origin[0])}
            counts = origin[1]
            for name in _ORDER[etype]:  # schema order: modifiers come before key
                value = event.get(name, MISSING)
                if value is MISSING:
                    continue
                if value is not None:
                    kinds = _PLAIN.get(name)
                    if name == "display":  # as the server read it (a scale of 1 is the default)
                        value = msgspec.to_builtins(typed.display)
                    elif kinds is None:
                        value, found = self._special(name, value, event)
                        counts = merge(counts, found)
                    elif type(value) not in kinds:  # exact types: not 1.0, not true
                        raise Reject
                if value is not _OMIT:
                    out[name] = value
        except Reject:
            return WRONG_TYPE
        except NoStandIn:
            return NO_STAND_IN
        if etype == "clipboard" and out.get("length") is None:
            content = event.get("content")
            if type(content) is str:
                out["length"] = len(content)  # what the server stores as clipboard_length
        unknown = _unknown_fields(event, fields, nested)
        if unknown:
            counts = merge(counts, {"unknown_field": unknown})
        return out, counts

    def _special(self, name: str, value: Any, event: dict[str, Any]) -> tuple[Any, Counts]:
        """A field that needs work: (the value as sent, or _OMIT; redactions); raise Reject."""
        if name == "window":
            if not isinstance(value, dict):
                raise Reject
            kept, counts, _ = self._window(
                _str_or_none(value.get("title")), _str_or_none(value.get("url"))
            )
            return (dict(kept) if kept else _OMIT), counts
        if name == "target":
            if not isinstance(value, dict):
                raise Reject
            role, target_name = _str_or_none(value.get("role")), _str_or_none(value.get("name"))
            kept, counts, _ = self._target(
                role, target_name, _str_or_none(value.get("automation_id"))
            )
            return dict(kept), counts
        if name == "menu_path":
            return self._menu(value)
        if name == "modifiers":
            return list(modifiers_sent(value)), NO_COUNTS
        if name == "key":
            mods = event.get("modifiers")
            if event["type"] == "key.press":
                return self._key(value, None), NO_COUNTS
            modifiers = tuple(mods) if isinstance(mods, list | tuple) else ()
            return self._key(value, modifiers), NO_COUNTS
        if not isinstance(value, str):
            raise Reject
        if name in _CHOICES:
            if value not in _CHOICES[name]:
                raise Reject
            return value, NO_COUNTS
        if name == "text":
            return surrogate_text(value), NO_COUNTS
        if name == "mime":
            return mime_sent(value), NO_COUNTS
        if name == "reason":
            return reason_sent(value), NO_COUNTS
        if name == "content":
            return _OMIT, CLIPBOARD_CONTENT  # never sent; its length is (see _minimize)
        raise AssertionError(f"no rule for the field {name!r}")  # caught by the tests

    def _ts_ok(self, ts: int) -> bool:
        now = self._clock()
        return now - MAX_AGE_S <= ts / 1000 <= now + MAX_SKEW_S

    # -- memoized decisions, shared by both paths ---------------------------------------

    def _app(self, name: str | None, bundle: str | None) -> Memo | None:
        """The app as sent and its redaction counts, or None when its events are denied."""
        key = (name, bundle)
        done = self._apps.get(key, MISSING)
        if done is not MISSING:
            return done  # type: ignore[return-value]
        if app_denied(self._deny, self._allow, name, bundle):
            done = None
        else:
            app: dict[str, Any] = {}
            counts: Counts = NO_COUNTS
            if name is not None:
                app["name"], counts = self._redacted(name, MAX_SHORT)
            if bundle is not None:
                app["bundle_id"], bundle_counts = self._redacted(bundle, MAX_SHORT)
                counts = merge(counts, bundle_counts)
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
            done = (result.text, result.counts or NO_COUNTS)
            if len(self._texts) >= MEMO_SIZE:
                self._texts.clear()
            self._texts[text] = done
        return done[0][:limit], done[1]

    def _kept_text(self, mode: str, value: str | None, limit: int) -> tuple[Any, Counts]:
        """(the text as sent, or None, or _OMIT; the redactions the server would count).

        The server counts redactions in "common" mode only: in "hash" mode it hashes the text
        whole (the agent still replaces personal data first, and counts nothing)."""
        if value is None:
            return None, NO_COUNTS
        if mode == "drop":
            return _OMIT, NO_COUNTS
        kept, counts = self._redacted(value, limit)
        return kept, counts if mode == "common" else NO_COUNTS

    def _window(self, title: str | None, url: str | None) -> Memo:
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
                counts = merge(counts, url_counts)
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

    def _target(self, role: str | None, name: str | None, automation_id: str | None) -> Memo:
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
            raise Reject
        memo = (key, modifiers)
        sent = self._keys.get(memo, MISSING)
        if sent is MISSING:
            sent = surrogate_key(key, None if modifiers is None else frozenset(modifiers))
            if len(self._keys) >= MEMO_SIZE:
                self._keys.clear()
            self._keys[memo] = sent
        if sent is None:
            raise NoStandIn
        return sent  # type: ignore[return-value]

    def _menu(self, labels: Any) -> tuple[list[Any], Counts]:
        if not isinstance(labels, list | tuple):  # a tuple is a JSON array, as msgspec reads it
            raise Reject
        if self.menu_labels == "drop":
            return [], NO_COUNTS  # required by the schema; the server stores nothing of it
        sent, counts = [], NO_COUNTS
        for label in labels:
            kept, found = self._kept_text(self.menu_labels, _str_or_none(label), MAX_SHORT)
            sent.append(kept)
            counts = merge(counts, found)
        return sent, counts

    # -- describe -----------------------------------------------------------------------------

    def describe(self) -> str:
        """What is captured, in plain words, for the employee whose machine runs the agent."""
        return describe_policy(self)


# --- fields: check a JSON type and convert; raise Reject on a wrong one -----------------------


def _str_or_none(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise Reject


def _memo(kept: dict[str, Any], counts: Counts) -> Memo:
    """A memoized object: as a dict (for apply), its redactions, and as JSON (for capture)."""
    return kept, counts, msgspec.Raw(_encode(kept))


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


# --- the schema, as apply() reads it ----------------------------------------------------------

_encode = msgspec.json.encode
_CHOICES: Final = {"button": _BUTTONS, "op": _CLIPBOARD_OPS}
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
