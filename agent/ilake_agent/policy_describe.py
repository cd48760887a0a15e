"""`describe()`: what a program's policy captures, in plain words, for the employee whose machine
runs the agent (`ilake agent run` prints it before capture starts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ilake_contract.schema import EVENT_TYPES

if TYPE_CHECKING:
    from .policy import ClientPolicy


def describe_policy(policy: ClientPolicy) -> str:
    """What is captured, in plain words, for the employee whose machine runs the agent."""
    lines = [f'What this agent captures for the program "{policy.program}"']
    if policy.policy_version:
        lines[0] += f" (policy {policy.policy_version})"
    lines += [
        "",
        f"Purpose: {policy.purpose or 'not stated: nothing should be captured'}",
        f"Responsible: {policy.owner or 'not stated'}",
    ]
    if policy.lawful_basis:
        lines.append(f"Lawful basis: {policy.lawful_basis.replace('_', ' ')}")
    if policy.notice_version:
        lines.append(f"Privacy notice: version {policy.notice_version}")
    if policy.retention_days is not None:
        lines.append(f"Kept for: {policy.retention_days} days, then deleted")
    lines += ["", "Captured:"]
    if not policy.event_types:
        lines.append("  - nothing: this program collects no events")
    for etype in sorted(policy.event_types):
        lines.append(f"  - {etype}: {_type_words(policy, etype)}")
    not_collected = sorted(EVENT_TYPES - policy.event_types)
    if not_collected:
        lines.append(f"Never captured: {', '.join(not_collected)}.")
    lines += [
        "",
        "Text on your screen:",
        f"  - window titles: {_mode_words(policy, policy.window_titles)}",
        f"  - names of buttons and fields you use: {_mode_words(policy, policy.target_names)}",
        f"  - menu items you choose: {_mode_words(policy, policy.menu_labels)}",
        "  - web addresses: "
        + (
            "only the site's host name (e.g. example.com), kept like a title; the page and "
            "anything after it never leave this computer"
            if policy.urls == "common"
            else "never sent"
        ),
    ]
    if "common" in (policy.window_titles, policy.target_names, policy.menu_labels, policy.urls):
        lines += [
            f"  Titles, labels and menu items are kept only once at least {_people(policy)} have",
            "  seen the same text. Until then only an unreadable fingerprint of it is stored:",
            "  a title only you see (a document, a message, a question you typed) stays",
            "  unreadable to everyone.",
        ]
    if (
        policy.window_titles != "drop"
        or policy.target_names != "drop"
        or policy.menu_labels != "drop"
    ):
        found = ", ".join(_DETECTOR_WORDS.get(d, d) for d in policy.detectors)
        lines.append(f"  Replaced by placeholders (like <EMAIL>) on this computer: {found}.")
    lines += [
        "",
        "Applications never captured (nothing is recorded while they are in use):",
        "  " + ", ".join(p.strip("*") or p for p in policy.deny),
    ]
    if policy.allow is not None:
        if policy.allow:
            lines.append("Only these applications are captured:")
            lines.append("  " + ", ".join(p.strip("*") or p for p in policy.allow))
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


def _type_words(policy: ClientPolicy, etype: str) -> str:
    words = _TYPE_WORDS.get(etype, etype)
    if etype.startswith("pointer.") and policy.coordinate_precision is not None:
        words += f" (position rounded to {policy.coordinate_precision} decimals of the screen)"
    if etype == "pointer.move" and policy.pointer_sample_ms:
        words += f", at most one every {policy.pointer_sample_ms} ms"
    return words


def _people(policy: ClientPolicy) -> str:
    if policy.min_people is None:
        return "several colleagues (the policy does not say how many)"
    return f"{policy.min_people} colleagues"


def _mode_words(policy: ClientPolicy, mode: str) -> str:
    if mode == "common":
        return (
            f"personal data replaced here; kept only once at least {_people(policy)} have "
            "seen the same text"
        )
    if mode == "hash":
        return (
            "personal data replaced here, then turned into a code on the server, so "
            "windows can be told apart without reading them"
        )
    return "never sent"


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
