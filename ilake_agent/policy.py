"""The program's policy on the employee's machine: capture only what the server would keep.

`ClientPolicy.from_policy()` reads the JSON of GET /v1/programs/{program}/policy; `apply()`
minimizes one event before it is spooled or sent (defence in depth: the server applies the same
policy again) and `describe()` tells the employee in plain words what is captured.

Rules of `apply()` (each mirrors what lambdas/core/pipeline.py does on the server, so the server
stores the same values from the minimized event as it would from the raw one):

1. Not captured at all (None): a type the program does not collect (or one this agent does not
   know); an event from a denied app, or from an app outside the program's allowlist (the
   server's globs: built-in denials plus the program's, casefolded, on app name and bundle id;
   with an allowlist an event naming no app is denied); an event with a wrong JSON type in a field
   (the server would reject it, and a string where a number belongs is read by no redaction).
   Pointer sampling is left to the server, which sees every session's moves in order.
2. Only the fields the schema (DESIGN 4.2) defines are kept: the envelope fields plus the type's
   own fields, at every level (app, window, display, target); anything else is dropped.
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
   "redact" and "hash" run the program's redactor (same detectors, same URL mode), so personal
   data is a placeholder before it leaves the machine. Hashing stays on the server, which holds
   the secret. App names and bundle ids are redacted too, as the server does.
7. URLs: "drop" removes them; "host" sends only `https://<host>` as the server reduces it
   (an IP host as the surrogate 0.0.0.0, a host the server cannot read as "%", so the server
   stores the same <IP> and <URL> placeholders); anything but a bare host name after redaction
   (a placeholder inside the host, text after it) is not sent at all.
8. Target roles, clipboard MIME types and pause reasons are sent as the server stores them:
   a token of the expected shape or "other".
9. Redacted text longer than the schema allows for its field is cut to fit, so the server
   accepts the event (placeholders can be longer than what they replace).

Unknown values in the policy fail closed: an unknown text mode is "drop", missing event types
collect nothing, a malformed app list denies every app, an unknown or missing detector list runs
every detector. App decisions, windows, targets, redactions, keys and URL reductions are
memoized per distinct value (in memory only, each memo cleared when it reaches MEMO_SIZE
entries): window titles repeat on every event and apply() sits on the caller's thread. The memos
are plain dicts, safe to share between threads under the GIL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from lambdas.core.programs import DEFAULT_DENIED_APPS, app_denied, glob_regex
from lambdas.core.redact import DETECTORS, Redactor
from lambdas.core.schema import EVENT_CLASS_BY_TYPE, EVENT_TYPES
from lambdas.core.vocabulary import (
    CAPTURE_REASONS,
    MIME,
    ROLE,
    classify_key,
    safe_token,
    shortcut_key,
)

TEXT_MODES: Final = frozenset({"drop", "hash", "redact"})
URL_MODES: Final = frozenset({"drop", "host"})
MEMO_SIZE: Final = 4096

# Schema limits (lambdas/core/schema.py) the minimized text must fit.
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

# Fields sent as they are once their JSON type is right (the server checks ranges and formats).
_STR, _INT, _NUMBER = frozenset({str}), frozenset({int}), frozenset({int, float})
_PLAIN: dict[str, frozenset[type]] = {
    **dict.fromkeys(("event_id", "session_id", "subject", "device_id"), _STR),
    **dict.fromkeys(("ts", "seq", "clicks", "length"), _INT),  # the schema refuses 1.0 and true
    **dict.fromkeys(("x", "y", "x2", "y2", "dx", "dy"), _NUMBER),
}
_OMIT: Final = object()
_MISSING: Final = object()


_Handler = Callable[[Any, dict[str, Any]], Any]
_Spec = tuple[tuple[tuple[str, frozenset[type]], ...], tuple[tuple[str, _Handler], ...]]


class PolicyError(ValueError):
    """The policy answer is not a JSON object: nothing can be captured under it."""


class _Reject(Exception):  # internal control flow: never escapes apply()
    """The event carries a value of the wrong JSON type: it is not captured."""


# --- the server's classifications (lambdas/core/vocabulary.py, shared) -----------------------


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
        detectors: tuple[str, ...],
        deny: tuple[str, ...],
        allow: tuple[str, ...] | None,
    ) -> None:
        self.program = program
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
        self._redactor = Redactor(detectors, self.urls)
        # The server's own glob compiler and decision (Program.app_denied), over the same lists.
        self._deny = glob_regex(deny)
        self._allow = glob_regex(allow) if allow is not None else None
        self._apps: dict[tuple[str | None, str | None], dict[str, Any] | None] = {}
        self._texts: dict[str, str] = {}
        self._urls: dict[str, str | None] = {}
        self._keys: dict[tuple[str, frozenset[str] | None], str | None] = {}
        self._windows: dict[tuple[str | None, str | None], dict[str, Any]] = {}
        self._targets: dict[tuple[str | None, str | None, str | None], dict[str, Any]] = {}
        self._specs = {etype: self._spec(etype) for etype in sorted(self.event_types)}

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> ClientPolicy:
        """Compile the JSON of GET /v1/programs/{p}/policy; anything unexpected fails closed."""
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
            detectors=tuple(sorted(set(detectors))),
            # the built-in denials hold even if the answer left them out; a malformed list
            # denies every app
            deny=tuple(
                dict.fromkeys((*DEFAULT_DENIED_APPS, *(deny if deny is not None else ["*"])))
            ),
            # a malformed allowlist allows nothing; an empty one means no allowlist
            allow=(tuple(allow) or None) if allow is not None else (),
        )

    # -- apply --------------------------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """A new, minimized event, or None when the event must not be captured at all."""
        if not isinstance(event, dict):
            return None
        etype = event.get("type")
        spec = self._specs.get(etype) if type(etype) is str else None
        if spec is None:
            return None
        plain, special = spec
        get = event.get
        try:
            app = self._app(get("app"))
            if app is None:
                return None
            out: dict[str, Any] = {"type": etype, "app": app}
            for name, kinds in plain:
                value = get(name, _MISSING)
                if value is _MISSING:
                    continue
                if value is not None and type(value) not in kinds:
                    return None
                out[name] = value
            for name, handle in special:
                value = get(name, _MISSING)
                if value is _MISSING:
                    continue
                if value is None:
                    out[name] = None
                    continue
                result = handle(value, event)
                if result is not _OMIT:
                    out[name] = result
        except _Reject:
            return None
        if etype == "clipboard" and out.get("length") is None:
            content = get("content")
            if type(content) is str:
                out["length"] = len(content)
        return out

    def _spec(self, etype: str) -> _Spec:
        """The type's fields: those of a plain JSON type, then those that need work."""
        handlers: dict[str, _Handler] = {
            "window": self._window,
            "display": _display,
            "button": _choice(_BUTTONS),
            "op": _choice(_CLIPBOARD_OPS),
            "modifiers": _modifiers,
            "key": self._key,
            "text": _typed_text,
            "target": self._target,
            "menu_path": self._menu_path,
            "mime": _mime,
            "reason": _reason,
            "content": _content,
        }
        names = [f.encode_name for f in msgspec.structs.fields(EVENT_CLASS_BY_TYPE[etype])]
        # `app` is decided before the fields (a denied app stops everything); a field with
        # neither a plain type nor a handler would raise KeyError here, at compile time
        plain = tuple((n, _PLAIN[n]) for n in names if n in _PLAIN)
        special = tuple((n, handlers[n]) for n in names if n not in _PLAIN and n != "app")
        return plain, special

    def _app(self, app: Any) -> dict[str, Any] | None:
        """The app as sent, or None when its events are not captured (denied)."""
        if app is None:
            name = bundle = None
        elif isinstance(app, dict):
            name, bundle = app.get("name"), app.get("bundle_id")
        else:
            raise _Reject
        if not (name is None or type(name) is str) or not (bundle is None or type(bundle) is str):
            raise _Reject
        key = (name, bundle)
        try:
            done = self._apps[key]
        except KeyError:
            denied = app_denied(self._deny, self._allow, name, bundle)
            done = None if denied else self._minimal_app(name, bundle)
            if len(self._apps) >= MEMO_SIZE:
                self._apps.clear()
            self._apps[key] = done
        return None if done is None else dict(done)

    def _minimal_app(self, name: str | None, bundle: str | None) -> dict[str, Any]:
        app: dict[str, Any] = {}
        if name is not None:
            app["name"] = self._redacted(name, MAX_SHORT)
        if bundle is not None:
            app["bundle_id"] = self._redacted(bundle, MAX_SHORT)
        return app

    def _redacted(self, text: str, limit: int) -> str:
        done = self._texts.get(text)
        if done is None:
            done = self._redactor.redact(text).text
            if len(self._texts) >= MEMO_SIZE:
                self._texts.clear()
            self._texts[text] = done
        return done[:limit]

    def _kept_text(self, mode: str, value: Any, limit: int) -> Any:
        if value is None:
            return None
        if type(value) is not str:
            raise _Reject
        return _OMIT if mode == "drop" else self._redacted(value, limit)

    def _window(self, window: Any, event: dict[str, Any]) -> Any:
        if not isinstance(window, dict):
            raise _Reject
        title, url = window.get("title"), window.get("url")
        if not (title is None or type(title) is str) or not (url is None or type(url) is str):
            raise _Reject
        key = (title, url)
        try:
            done = self._windows[key]
        except KeyError:
            done = {}
            kept = self._kept_text(self.window_titles, title, MAX_TITLE)
            if kept is not _OMIT and kept is not None:
                done["title"] = kept
            reduced = self._url(url) if url is not None and self.urls == "host" else None
            if reduced is not None:
                done["url"] = reduced
            if len(self._windows) >= MEMO_SIZE:
                self._windows.clear()
            self._windows[key] = done
        return dict(done) if done else _OMIT

    def _url(self, url: str) -> str | None:
        """What the server stores of a URL in host mode, as a URL it reduces to the same host."""
        try:
            return self._urls[url]
        except KeyError:
            pass
        result = self._redactor.redact(url if "://" in url else f"https://{url}")
        host = result.text
        reduced: str | None = None
        if result.counts.get("url") == 1 and " " not in host:
            # only a bare host name: the server's own check lets "x.com\tjdoe" through
            reduced = _HOST_SURROGATES.get(host) or (
                f"https://{host}" if _BARE_HOST.fullmatch(host) else None
            )
        if len(self._urls) >= MEMO_SIZE:
            self._urls.clear()
        self._urls[url] = reduced
        return reduced

    def _target(self, target: Any, event: dict[str, Any]) -> Any:
        if not isinstance(target, dict):
            raise _Reject
        role, name, automation_id = (
            target.get("role"),
            target.get("name"),
            target.get("automation_id"),
        )
        for value in (role, name, automation_id):
            if not (value is None or type(value) is str):
                raise _Reject
        key = (role, name, automation_id)
        try:
            done = self._targets[key]
        except KeyError:
            done = {}
            if role is not None:
                done["role"] = safe_token(role, ROLE)
            # the server stores the name, or the automation id when there is no name
            if name is not None:
                kept = self._kept_text(self.target_names, name, MAX_TARGET_NAME)
                if kept is not _OMIT:
                    done["name"] = kept
            else:
                kept = self._kept_text(self.target_names, automation_id, MAX_SHORT)
                if kept is not _OMIT and kept is not None:
                    done["automation_id"] = kept
            if len(self._targets) >= MEMO_SIZE:
                self._targets.clear()
            self._targets[key] = done
        return dict(done)

    def _menu_path(self, labels: Any, event: dict[str, Any]) -> list[Any]:
        if not isinstance(labels, list):
            raise _Reject
        if self.menu_labels == "drop":
            return []  # required by the schema; the server stores nothing of it
        return [self._kept_text(self.menu_labels, label, MAX_SHORT) for label in labels]

    def _key(self, key: Any, event: dict[str, Any]) -> str:
        if not isinstance(key, str) or not KEY_LENGTH[0] <= len(key) <= KEY_LENGTH[1]:
            raise _Reject
        if event.get("type") == "key.shortcut":
            mods = event.get("modifiers")
            modifiers = frozenset(mods) if isinstance(mods, list) else frozenset()
        else:
            modifiers = None
        memo = (key, modifiers)
        try:
            sent = self._keys[memo]
        except KeyError:
            sent = surrogate_key(key, modifiers)
            if len(self._keys) >= MEMO_SIZE:
                self._keys.clear()
            self._keys[memo] = sent
        if sent is None:
            raise _Reject
        return sent

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
                "only the site's host name (e.g. example.com); the page and anything after it "
                "never leave this computer"
                if self.urls == "host"
                else "never sent"
            ),
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

    @staticmethod
    def _describe_mode(mode: str) -> str:
        if mode == "redact":
            return "kept after personal data is replaced by placeholders"
        if mode == "hash":
            return (
                "personal data replaced here, then turned into a code on the server, so "
                "windows can be told apart without reading them"
            )
        return "never sent"


# --- field handlers (value, event) -> value to send, _OMIT, or raise _Reject ------------------


def _integer(value: Any, event: dict[str, Any]) -> int:
    if type(value) is not int:  # the schema refuses floats and booleans here
        raise _Reject
    return value


def _number(value: Any, event: dict[str, Any]) -> int | float:
    if type(value) is not float and type(value) is not int:
        raise _Reject
    return value


def _choice(allowed: frozenset[str]) -> Callable[[Any, dict[str, Any]], str]:
    def handle(value: Any, event: dict[str, Any]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise _Reject
        return value

    return handle


def _modifiers(value: Any, event: dict[str, Any]) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(m, str) and m in _MODIFIERS for m in value
    ):
        raise _Reject
    return list(value)


def _display(value: Any, event: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Reject
    out: dict[str, Any] = {}
    w, h, scale = value.get("w"), value.get("h"), value.get("scale")
    if w is not None:
        out["w"] = _integer(w, event)
    if h is not None:
        out["h"] = _integer(h, event)
    if scale is not None:
        out["scale"] = _number(scale, event)
    return out


def _typed_text(value: Any, event: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise _Reject
    return surrogate_text(value)


def _content(value: Any, event: dict[str, Any]) -> object:
    if not isinstance(value, str):
        raise _Reject
    return _OMIT  # never sent; its length is set by apply()


def _mime(value: Any, event: dict[str, Any]) -> str | None:
    if not isinstance(value, str):
        raise _Reject
    return safe_token(value.lower(), MIME) if value else None


def _reason(value: Any, event: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise _Reject
    return value if value in CAPTURE_REASONS else "other"


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
