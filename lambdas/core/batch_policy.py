"""The program's policy applied to one batch: who sent each event, where it happened, and each
text as its mode keeps it, memoized for the batch only.

Texts, pseudonyms and app decisions repeat heavily inside a batch (every event carries its
window title), so each is computed once per batch; nothing submitted outlives the request.
Admission (lambdas/core/admission.py) asks who and where; row building (lambdas/core/rows.py)
asks for the texts of targets, menus and tokens.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ilake_contract import schema as s
from ilake_contract.redact import Redactor, normalize
from ilake_contract.vocabulary import safe_token

from .common_text import canonical, text_id
from .prefilter import BULK_MIN_TEXTS, redact_all
from .programs import Program
from .pseudonym import Pseudonymizer


@dataclass(slots=True)
class BatchPolicy:
    """The program's policy applied to one batch's values, each computed once: memo tables
    dropped with the batch, so nothing submitted outlives it."""

    program: Program
    pseudonyms: Pseudonymizer
    redactor: Redactor
    events: list[Any]  # the batch's, for the bulk prefilter
    common_texts: dict[str, str] = field(default_factory=dict)
    _bulk_done: bool = False
    _pids: dict[tuple[str, str], str] = field(default_factory=dict)
    _texts: dict[tuple[str, str], Kept] = field(default_factory=dict)
    _who: dict[tuple[str, str, str], Who] = field(default_factory=dict)
    _places: dict[tuple[Any, ...], Place | None] = field(default_factory=dict)
    _origins: dict[tuple[Any, ...], tuple[Who, Place | None]] = field(default_factory=dict)
    _apps: dict[s.App | None, tuple[str | None, str | None, dict[str, int]] | None] = field(
        default_factory=dict
    )

    def pid(self, kind: str, value: str) -> str:
        key = (kind, value)
        pid = self._pids.get(key)
        if pid is None:
            pid = self._pids[key] = self.pseudonyms.pid(kind, value)
        return pid

    def text(self, mode: str, value: str | None) -> Kept:
        """Apply a text mode to one value, memoized: (what the row keeps in clear, the text's
        id in "common" modes, redactions). Modes: the program's drop, hash and common; "url"
        (a URL in common mode: its host is the text); "redact" for app names and tokens."""
        if value is None or mode == "drop":
            return _NOTHING
        key = (mode, value)
        done = self._texts.get(key)
        if done is None:
            done = self._texts[key] = self._apply(mode, value)
        return done

    def _apply(self, mode: str, value: str) -> Kept:
        if mode == "hash":
            return self.pseudonyms.text_hash(normalize(value)), None, NO_COUNTS
        if mode == "url":
            result = self.redactor.redact(value if "://" in value else f"https://{value}")
            single = result.counts.get("url") == 1 and " " not in result.text
            return None, self._common(result.text) if single else None, result.counts or _URL
        result = self.redactor.redact(value)
        if mode == "common":
            return None, self._common(result.text), result.counts
        return result.text, None, result.counts

    def prefetch(self) -> None:
        """Redact the batch's distinct window titles at once, with the detectors' triggers found
        in bulk: called when a batch turns out to have many (a browser-heavy person's batch,
        every title new), so that a typical batch, a few windows over and over, never pays for
        looking. Target names and menu labels are a program's own labels: they repeat, and are
        redacted one at a time as they come."""
        self._bulk_done = True
        if self.program.text.window_titles != "common":
            return
        memo, common = self._texts, self._common
        titles = list(
            {
                ev.window.title
                for ev in self.events
                if ev.window is not None
                and ev.window.title is not None
                and ("common", ev.window.title) not in memo
            }
        )
        for title, result in zip(titles, redact_all(self.redactor, titles), strict=True):
            memo["common", title] = (None, common(result.text), result.counts)

    def _common(self, redacted: str) -> str | None:
        """The id of a text kept in "common" mode; the text stays in memory, for release."""
        text = canonical(redacted)
        if not text:
            return None
        tid = text_id(self.pseudonyms, text)
        self.common_texts[tid] = text
        return tid

    def token(
        self, value: str | None, pattern: re.Pattern[str], *, lower: bool = False
    ) -> str | None:
        """A token-shaped value (MIME type, agent version), or "other". The shape alone
        is not enough: a bare secret has it too ("application/4111111111111111"), so a value in
        which a detector finds anything is "other" as well."""
        if value is None:
            return None
        kept = safe_token(value.lower() if lower else value, pattern)
        if kept != "other" and self.text("redact", value)[2]:
            return "other"
        return kept

    def origin(self, ev: Any) -> tuple[Who, Place | None]:
        """Who sent an event and where it happened (None: the app is denied). Consecutive
        events share both, so one lookup answers most events; a new title costs only its place
        (the people behind it are memoized apart)."""
        key = (ev.subject, ev.device_id, ev.session_id, ev.app, ev.window)
        origin = self._origins.get(key)
        if origin is None:
            who = self.who(ev.subject, ev.device_id, ev.session_id)
            origin = self._origins[key] = (who, self.place(ev.app, ev.window))
        return origin

    def who(self, subject: str, device: str, session: str) -> Who:
        """The pseudonyms of who sent an event: the same for all of a session's events."""
        key = (subject, device, session)
        who = self._who.get(key)
        if who is None:
            who = self._who[key] = Who(
                self.pid("subject", subject),
                self.pid("device", device),
                self.pid("session", session),
            )
        return who

    def place(self, app: s.App | None, window: s.Window | None) -> Place | None:
        """Where an event happened (app and window, as the policy keeps them), or None if the
        app is denied. Consecutive events share it, so it is worked out once per distinct one."""
        key = (app, window)
        places = self._places
        if key in places:  # a miss raising KeyError would cost every new title an exception
            return places[key]
        if len(places) == BULK_MIN_TEXTS and not self._bulk_done:
            self.prefetch()
        place = places[key] = self._make_place(app, window)
        return place

    def _make_place(self, app: s.App | None, window: s.Window | None) -> Place | None:
        kept_app = self._app(app)
        if kept_app is None:
            return None
        policy = self.program.text
        title, url = (window.title, window.url) if window else (None, None)
        kept_title, title_id, title_counts = self.text(policy.window_titles, title)
        host, host_id, host_counts = self.text("url" if policy.urls == "common" else "drop", url)
        return Place(
            kept_app[0],
            kept_app[1],
            kept_title,
            title_id,
            host,
            host_id,
            merge(kept_app[2], title_counts, host_counts),
        )

    def _app(self, app: s.App | None) -> tuple[str | None, str | None, dict[str, int]] | None:
        """An app as the row keeps it (name, bundle id, their redactions), or None if denied:
        once per app, whatever windows it shows."""
        if app in self._apps:
            return self._apps[app]
        name, bundle_id = (app.name, app.bundle_id) if app else (None, None)
        kept: tuple[str | None, str | None, dict[str, int]] | None = None
        if not self.program.app_denied(name, bundle_id):
            kept_name, _, name_counts = self.text("redact", name)
            kept_bundle, _, bundle_counts = self.text("redact", bundle_id)
            kept = (kept_name, kept_bundle, merge(name_counts, bundle_counts))
        self._apps[app] = kept
        return kept


class Who(NamedTuple):
    subject_pid: str
    device_pid: str
    session_pid: str


class Place(NamedTuple):
    app_name: str | None
    bundle_id: str | None
    title: str | None
    title_id: str | None
    host: str | None
    host_id: str | None
    counts: dict[str, int]


Kept = tuple[str | None, str | None, dict[str, int]]  # see BatchPolicy.text
NO_COUNTS: dict[str, int] = {}
_NOTHING: Kept = (None, None, NO_COUNTS)
_URL = {"url": 1}


def merge(*parts: dict[str, int]) -> dict[str, int]:
    """Redaction counts added up; a single non-empty part is returned as it is (memoized counts
    stay shared objects, which the batch's tally relies on)."""
    nonempty = [p for p in parts if p]
    if len(nonempty) <= 1:
        return nonempty[0] if nonempty else NO_COUNTS
    merged: Counter[str] = Counter()
    for part in nonempty:
        merged.update(part)
    return dict(merged)
