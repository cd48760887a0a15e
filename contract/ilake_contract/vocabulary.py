"""What the server keeps of keys, typed text, roles, MIME types and pause reasons.

Pure and shared: the ingest pipeline applies these rules, and the agent SDK (which cannot import
the pipeline: it needs pyarrow) applies the same ones before anything leaves the machine.
"""

from __future__ import annotations

import re

from .redact import normalize

NAMED_KEYS: dict[str, str] = {
    **{
        k.lower(): k
        for k in (
            "Enter",
            "Tab",
            "Escape",
            "Backspace",
            "Delete",
            "Insert",
            "Home",
            "End",
            "PageUp",
            "PageDown",
            "ArrowUp",
            "ArrowDown",
            "ArrowLeft",
            "ArrowRight",
            "CapsLock",
            "NumLock",
            "ScrollLock",
            "PrintScreen",
            "Pause",
            "ContextMenu",
            "Shift",
            "Control",
            "Alt",
            "Meta",
        )
    },
    **{f"f{i}": f"F{i}" for i in range(1, 25)},
    "return": "Enter",
    "esc": "Escape",
    "del": "Delete",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "ctrl": "Control",
    "option": "Alt",
    "cmd": "Meta",
    "command": "Meta",
    "super": "Meta",
    "win": "Meta",
}
MODIFIER_ORDER = ("ctrl", "alt", "shift", "meta")
CAPTURE_REASONS = frozenset(
    {"user", "idle", "screen_locked", "sleep", "denied_app", "policy", "server", "other"}
)
MIME = re.compile(r"[a-z]+/[a-z0-9][a-z0-9.+-]{0,63}")
ROLE = re.compile(r"[A-Za-z][A-Za-z _-]{0,63}")


def char_class(ch: str) -> str:
    if ch.isalpha():
        return "letter"
    if ch.isdigit():
        return "digit"
    if ch.isspace():
        return "space"
    if ch.isprintable():
        return "symbol"
    return "other"


def classify_key(key: str) -> tuple[str | None, str]:
    """(key kept, key_class): named non-printing keys are kept, printable characters are not."""
    named = NAMED_KEYS.get(key.lower())
    if named is not None:
        return named, "named"
    folded = normalize(key)
    if len(folded) == 1:
        return None, char_class(folded)
    if folded.lower() == "space":
        return None, "space"
    return None, "other"


def shortcut_key(modifiers: frozenset[str], key: str) -> tuple[str | None, str]:
    """Keep the key of a real shortcut; a 'shortcut' that types a character is typing."""
    named, key_class = classify_key(key)
    if named is not None:
        return named, key_class
    command = modifiers & {"ctrl", "alt", "meta"}
    if not command:
        return None, key_class  # shift+letter is an upper-case letter, not a shortcut
    folded = normalize(key)
    if len(folded) != 1 or not folded.isascii() or not folded.isprintable():
        return None, key_class
    altgr = {"ctrl", "alt"} <= modifiers and "meta" not in modifiers
    if altgr and not folded.isalnum():
        return None, key_class  # AltGr (ctrl+alt) types '@', '{', '€' on many layouts
    return folded.lower(), key_class


def text_classes(text: str) -> tuple[int, int, int, int, int]:
    """Length and character-class counts: all that is kept of typed text."""
    letters = digits = spaces = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
        elif ch.isdigit():
            digits += 1
        elif ch.isspace():
            spaces += 1
    return len(text), letters, digits, spaces, len(text) - letters - digits - spaces


def safe_token(value: str | None, pattern: re.Pattern[str]) -> str | None:
    """The value if it has the expected shape, else \"other\" (free text never passes)."""
    if value is None:
        return None
    return value if pattern.fullmatch(value) else "other"
