"""What both of the policy's paths decide alike: `apply()` (policy.py) and the fast `capture()`
(policy_capture.py) refuse events under these reasons and send these values.

Why an event is not captured (counted by reason in the client's Counters) is the program's
policy, or the event is invalid (the server's own reason codes, from the server's own checks).
"""

from __future__ import annotations

import itertools
from typing import Any, Final

import msgspec

from ilake_contract.validation import INVALID_REASONS, MAX_CLOCK_SKEW_MS, MAX_EVENT_AGE_MS, judge
from ilake_contract.vocabulary import CAPTURE_REASONS, MIME, safe_token

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

# The server's bounds on an event's `ts`, in seconds of this machine's clock.
MAX_AGE_S: Final = MAX_EVENT_AGE_MS / 1000
MAX_SKEW_S: Final = MAX_CLOCK_SKEW_MS / 1000

MEMO_SIZE: Final = 4096  # entries a memo holds before it is cleared
MISSING: Final = object()  # not in a memo, or not in the event (a null is in it)

Counts = dict[str, int]  # redactions by detector; memoized objects, never mutated
NO_COUNTS: Final[Counts] = {}
# A memoized app, window or target: as a dict (apply's), its redactions, as JSON (capture's).
Memo = tuple[dict[str, Any], Counts, msgspec.Raw]
CLIPBOARD_CONTENT: Final = {"clipboard_content": 1}  # dropped content, as the server counts it

_MODIFIERS = frozenset({"ctrl", "alt", "shift", "meta"})
_MODIFIER_TUPLES: Final = frozenset(
    mods for n in range(5) for mods in itertools.product(sorted(_MODIFIERS), repeat=n)
)
_ASCII_SURROGATE = {
    i: ("a" if ch.isalpha() else "0" if ch.isdigit() else " " if ch.isspace() else "!")
    for i, ch in ((i, chr(i)) for i in range(128))
}


class Reject(Exception):  # internal control flow: never escapes apply() or capture()
    """The event carries a value of the wrong JSON type, or one that is not plain JSON (a tuple,
    an enum member: apply() only, as capture() reads such values as their JSON value)."""


class NoStandIn(Exception):  # internal control flow: never escapes apply() or capture()
    """A key the server would not keep and no stand-in of its class: not captured."""


def invalid_reason(event: Any) -> str:
    """Why the server refuses an event that is not an object of a known type."""
    verdict = judge(event)
    return verdict if isinstance(verdict, str) else WRONG_TYPE


def surrogate_text(text: str) -> str:
    """Same length and character classes as `text` (the server's text_classes), no content."""
    if text.isascii():
        return text.translate(_ASCII_SURROGATE)
    return "".join(
        "a" if ch.isalpha() else "0" if ch.isdigit() else " " if ch.isspace() else "!"
        for ch in text
    )


def modifiers_sent(value: Any) -> tuple[str, ...]:
    """A shortcut's modifiers as sent; raise Reject when they are not a list of modifiers."""
    if isinstance(value, list | tuple):  # a tuple is a JSON array, as msgspec reads it
        mods = tuple(value)
        try:
            if mods in _MODIFIER_TUPLES:
                return mods
        except TypeError:  # something unhashable in the list: not a modifier
            raise Reject from None
        if all(isinstance(m, str) and m in _MODIFIERS for m in mods):
            return mods  # more than four: the server decides
    raise Reject


def mime_sent(value: str) -> str | None:
    """A clipboard MIME type as the server stores it: a known token or "other"."""
    return safe_token(value.lower(), MIME) if value else None


def reason_sent(value: str) -> str:
    """A pause reason as the server stores it: a known one or "other"."""
    return value if value in CAPTURE_REASONS else "other"


def merge(counts: Counts, more: Counts) -> Counts:
    """Both counts added up; either one itself when the other is empty (never mutated)."""
    if not more:
        return counts
    if not counts:
        return more
    merged = dict(counts)
    for name, n in more.items():
        merged[name] = merged.get(name, 0) + n
    return merged
