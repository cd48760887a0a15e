"""Program files: one TOML file per program, validated on load.

See docs/design.md#programs-policy-as-code.

A program file is policy as code: it is reviewed like code and drives both the infrastructure and
the ingest policy. The loader refuses anything it does not understand (a misspelt key must not
silently fall back to a default) and names the file and the field in every error. Everything a
file leaves out takes the most restrictive value.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from ilake_contract.apps import DEFAULT_DENIED_APPS, app_denied, glob_regex
from ilake_contract.redact import DETECTORS
from ilake_contract.schema import EVENT_TYPES
from ilake_contract.schema import PROGRAM_NAME as PROGRAM_NAME

TextMode = Literal["drop", "hash", "common"]
UrlMode = Literal["drop", "common"]
TEXT_FIELDS = ("window_titles", "target_names", "menu_labels", "urls")
MIN_PEOPLE_FLOOR = 5  # the lowest `min_people` a program may set (docs/common-text.md)
MIN_PEOPLE_DEFAULT = 10
# Modes that kept text in clear whatever it held; refused with a pointer to "common".
_CLEAR_MODES = {"redact": "kept every text in clear", "host": "kept every host in clear"}
LawfulBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]


class TextPolicy(Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What happens to free text the agent sends. Default: nothing is kept.

    "common" keeps a text (after the detectors) in clear only once `min_people` distinct people
    have sent it, and until then only its keyed hash (docs/common-text.md); "hash" keeps only
    the keyed hash; "drop" keeps nothing. URLs in "common" mode are reduced to their host."""

    window_titles: TextMode = "drop"
    target_names: TextMode = "drop"
    menu_labels: TextMode = "drop"
    urls: UrlMode = "drop"
    min_people: Annotated[int, Meta(ge=MIN_PEOPLE_FLOOR, le=1000)] = MIN_PEOPLE_DEFAULT
    detectors: Annotated[list[str], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: list(DETECTORS)
    )


class CollectPolicy(Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What is collected at all. Default: nothing."""

    event_types: list[str] = msgspec.field(default_factory=list)
    pointer_sample_ms: Annotated[int, Meta(ge=0, le=60_000)] = 60_000
    coordinate_precision: Annotated[int, Meta(ge=1, le=4)] = 1


class AppPolicy(Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Extra denials on top of the defaults, and an optional allowlist."""

    deny: list[Annotated[str, Meta(min_length=1, max_length=128)]] = msgspec.field(
        default_factory=list
    )
    allow: list[Annotated[str, Meta(min_length=1, max_length=128)]] = msgspec.field(
        default_factory=list
    )


class ProgramFile(Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: str
    version: Annotated[int, Meta(ge=1)]
    purpose: Annotated[str, Meta(min_length=10, max_length=2000)]
    owner: Annotated[str, Meta(min_length=3, max_length=200)]
    lawful_basis: LawfulBasis
    dpia_ref: Annotated[str, Meta(min_length=1, max_length=100)]
    notice_version: Annotated[str, Meta(min_length=1, max_length=50)]
    retention_days: Annotated[int, Meta(ge=1, le=3650)]
    collect: CollectPolicy = msgspec.field(default_factory=CollectPolicy)
    text: TextPolicy = msgspec.field(default_factory=TextPolicy)
    apps: AppPolicy = msgspec.field(default_factory=AppPolicy)


class ProgramError(ValueError):
    """A program file is invalid; the message names the file and the field."""


class Program:
    """A validated program with its policy compiled for the hot path."""

    __slots__ = (
        "_allow",
        "_decisions",
        "_deny",
        "allowed_types",
        "collect",
        "digest",
        "file",
        "name",
        "policy_version",
        "text",
    )

    def __init__(self, file: ProgramFile, digest: str) -> None:
        self.file = file
        self.name = file.name
        self.collect = file.collect
        self.text = file.text
        self.allowed_types = frozenset(file.collect.event_types)
        self.digest = digest
        self.policy_version = f"{file.name}@{file.version}"
        self._deny = glob_regex((*DEFAULT_DENIED_APPS, *file.apps.deny))
        self._allow = glob_regex(file.apps.allow) if file.apps.allow else None
        # App identities (not personal data) repeat across every batch: decide each once.
        self._decisions: dict[tuple[str | None, str | None], bool] = {}

    def app_denied(self, name: str | None, bundle_id: str | None) -> bool:
        """Fail closed: with an allowlist, an event that names no app is denied too."""
        key = (name, bundle_id)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(name, bundle_id)
            if len(self._decisions) < _MAX_DECISIONS:
                self._decisions[key] = decision
        return decision

    def _decide(self, name: str | None, bundle_id: str | None) -> bool:
        return app_denied(self._deny, self._allow, name, bundle_id)

    @property
    def has_common_text(self) -> bool:
        """Whether any text is kept in "common" mode (and people must be counted)."""
        text = self.text
        return "common" in (text.window_titles, text.target_names, text.menu_labels, text.urls)

    @property
    def url_mode(self) -> str:
        """The redactor's URL mode: a host is what "common" counts and may release."""
        return "host" if self.text.urls == "common" else "drop"

    def public_policy(self) -> dict[str, object]:
        """The effective collection policy an agent may show its user (GET .../policy)."""
        return {
            "program": self.name,
            "policy_version": self.policy_version,
            "purpose": self.file.purpose,
            "owner": self.file.owner,
            "lawful_basis": self.file.lawful_basis,
            "notice_version": self.file.notice_version,
            "retention_days": self.file.retention_days,
            "collect": {
                "event_types": sorted(self.allowed_types),
                "pointer_sample_ms": self.collect.pointer_sample_ms,
                "coordinate_precision": self.collect.coordinate_precision,
            },
            "text": {
                "window_titles": self.text.window_titles,
                "target_names": self.text.target_names,
                "menu_labels": self.text.menu_labels,
                "urls": self.text.urls,
                "min_people": self.text.min_people,
                "detectors": sorted(self.text.detectors),
            },
            "apps": {
                "deny": [*DEFAULT_DENIED_APPS, *self.file.apps.deny],
                "allow": list(self.file.apps.allow),
            },
        }


_MAX_DECISIONS = 4096


def parse_program(data: bytes, source: str, expected_name: str | None = None) -> Program:
    """Validate one program file's bytes; `source` names it in errors."""
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProgramError(f"{source}: not valid TOML: {exc}") from None
    cleartext = _cleartext_modes(raw)
    if cleartext:
        raise ProgramError(f"{source}: " + "; ".join(cleartext))
    try:
        file = msgspec.convert(raw, ProgramFile)
    except msgspec.ValidationError as exc:
        raise ProgramError(f"{source}: {_field_error(exc)}") from None
    problems = _semantic_problems(file, expected_name)
    if problems:
        raise ProgramError(f"{source}: " + "; ".join(problems))
    return Program(file, hashlib.sha256(data).hexdigest())


def _cleartext_modes(raw: object) -> list[str]:
    """Refuse the modes that kept free text in clear for anyone, naming the one that replaces
    them: a title, label or host is kept in clear only once enough people have sent it."""
    text = raw.get("text") if isinstance(raw, dict) else None
    if not isinstance(text, dict):
        return []
    problems = []
    for name in TEXT_FIELDS:
        mode = text.get(name)
        if isinstance(mode, str) and mode in _CLEAR_MODES:
            others = '"drop"' if name == "urls" else '"hash" or "drop"'
            problems.append(
                f"field 'text.{name}': \"{mode}\" {_CLEAR_MODES[mode]}, whatever it held (a "
                f'prompt, a message subject); use "common" (kept in clear only once min_people '
                f"people have sent the same text), or {others}"
            )
    return problems


def _field_error(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    match = re.search(r" - at `\$\.?(.*)`$", message)
    if match:
        return f"field '{match.group(1)}': {message[: match.start()]}"
    return message


def _semantic_problems(file: ProgramFile, expected_name: str | None) -> list[str]:
    problems = []
    if not PROGRAM_NAME.fullmatch(file.name):
        problems.append("field 'name': must be 1-40 of [a-z0-9-], not starting or ending with '-'")
    elif expected_name is not None and file.name != expected_name:
        problems.append(f"field 'name': must equal the file name '{expected_name}'")
    unknown_types = sorted(set(file.collect.event_types) - EVENT_TYPES)
    if unknown_types:
        problems.append(f"field 'collect.event_types': unknown event types {unknown_types}")
    unknown_detectors = sorted(set(file.text.detectors) - set(DETECTORS))
    if unknown_detectors:
        problems.append(f"field 'text.detectors': unknown detectors {unknown_detectors}")
    return problems


def load_programs(directory: Path) -> dict[str, Program]:
    """Load every `*.toml` in `directory`; the file stem must equal the program name."""
    programs: dict[str, Program] = {}
    for path in sorted(directory.glob("*.toml")):
        program = parse_program(path.read_bytes(), str(path), expected_name=path.stem)
        programs[program.name] = program
    if not programs:
        raise ProgramError(f"{directory}: no program files (*.toml)")
    return programs
