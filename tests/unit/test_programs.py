"""Program files: loading, validation errors, restrictive defaults, app policy.

See docs/design.md#programs-policy-as-code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ilake_contract.redact import DETECTORS
from ilake_contract.schema import EVENT_TYPES
from lambdas.core.programs import (
    DEFAULT_DENIED_APPS,
    Program,
    ProgramError,
    load_programs,
    parse_program,
)
from tests.support.builders import (
    PROGRAM_HEADER,
    PROGRAMS_DIR,
    make_event,
    make_program,
    program_toml,
)
from tests.support.data_path import run

MINIMAL = PROGRAM_HEADER.format(name="minimal")


def write(directory: Path, stem: str, text: str) -> Path:
    path = directory / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, stem: str = "unit-test") -> tuple[str, str]:
    path = write(tmp_path, stem, text)
    with pytest.raises(ProgramError) as caught:
        load_programs(tmp_path)
    return str(caught.value), str(path)


# --- the example programs ----------------------------------------------------------------------


def test_example_programs_load() -> None:
    programs = load_programs(PROGRAMS_DIR)
    assert set(programs) == {"menu-navigation", "shortcut-learning"}
    for name, program in programs.items():
        assert program.name == name
        assert program.policy_version == f"{name}@{program.file.version}"
        assert program.allowed_types <= EVENT_TYPES
        assert "text.input" not in program.allowed_types
        assert "clipboard" not in program.allowed_types
        assert len(program.digest) == 64


def test_example_program_settings() -> None:
    programs = load_programs(PROGRAMS_DIR)
    menu, shortcuts = programs["menu-navigation"], programs["shortcut-learning"]
    assert menu.collect.coordinate_precision == 3
    assert (menu.text.window_titles, menu.text.urls) == ("common", "common")
    assert menu.text.min_people == 10
    assert menu.app_denied("Terminal", "com.apple.Terminal")
    assert shortcuts.collect.pointer_sample_ms == 250
    assert shortcuts.text.window_titles == "common"
    assert (shortcuts.text.target_names, shortcuts.text.menu_labels) == ("drop", "drop")


def test_load_programs_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="no program files"):
        load_programs(tmp_path)


# --- errors name the file and the field ----------------------------------------------------------

ERROR_CASES = [
    pytest.param(MINIMAL + "colour = 1\n", "colour", id="unknown-top-level-key"),
    pytest.param(
        MINIMAL + '[collect]\nevent_type = ["pointer.move"]\n', "event_type", id="unknown-nested"
    ),
    pytest.param(MINIMAL + '[text]\nwindow_title = "hash"\n', "window_title", id="misspelt-text"),
    pytest.param(MINIMAL.replace("version = 3", 'version = "3"'), "version", id="wrong-type"),
    pytest.param(
        MINIMAL + '[collect]\npointer_sample_ms = "fast"\n',
        "collect.pointer_sample_ms",
        id="wrong-nested-type",
    ),
    pytest.param(MINIMAL + "[collect]\nevent_types = [1]\n", "collect.event_types", id="list-item"),
    pytest.param(MINIMAL + "collect = 5\n", "collect", id="section-not-a-table"),
    pytest.param(
        MINIMAL.replace("retention_days = 30", "retention_days = 0"),
        "retention_days",
        id="out-of-range",
    ),
    pytest.param(
        MINIMAL + '[text]\nwindow_titles = "keep"\n', "text.window_titles", id="unknown-text-mode"
    ),
    pytest.param(MINIMAL + '[text]\nurls = "hash"\n', "text.urls", id="urls-cannot-hash"),
    pytest.param(MINIMAL + "[text]\nmin_people = 4\n", "text.min_people", id="k-below-floor"),
    pytest.param(MINIMAL + "[text]\nmin_people = 1001\n", "text.min_people", id="k-too-high"),
    pytest.param(MINIMAL + '[text]\nmin_people = "10"\n', "text.min_people", id="k-not-int"),
    pytest.param(
        MINIMAL.replace('lawful_basis = "consent"', 'lawful_basis = "because"'),
        "lawful_basis",
        id="unknown-lawful-basis",
    ),
    pytest.param(
        MINIMAL + '[collect]\nevent_types = ["pointer.move", "keylogger"]\n',
        "collect.event_types",
        id="unknown-event-type",
    ),
    pytest.param(
        MINIMAL + '[text]\ndetectors = ["email", "dna"]\n', "text.detectors", id="unknown-detector"
    ),
    pytest.param(MINIMAL + "[text]\ndetectors = []\n", "text.detectors", id="no-detectors"),
    pytest.param(MINIMAL.replace('owner = "ml-platform@example.com"\n', ""), "owner", id="missing"),
    pytest.param(MINIMAL.replace('name = "minimal"\n', ""), "name", id="missing-name"),
]


@pytest.mark.parametrize(("text", "field"), ERROR_CASES)
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    message, path = load_error(tmp_path, text, stem="minimal")
    assert path in message
    assert field in message


@pytest.mark.parametrize("field", ["window_titles", "target_names", "menu_labels"])
def test_clear_text_modes_are_refused_naming_common(tmp_path: Path, field: str) -> None:
    """Keeping a text in clear whatever it holds is no longer possible: the loader says what to
    use instead, and accepts that."""
    text = MINIMAL + f'[text]\n{field} = "redact"\n'
    message, path = load_error(tmp_path, text, stem="minimal")
    assert path in message
    assert f"field 'text.{field}'" in message
    assert '"common"' in message
    assert "min_people" in message
    fixed = parse_program(text.replace('"redact"', '"common"').encode(), "m.toml", "minimal")
    assert getattr(fixed.text, field) == "common"


def test_url_hosts_in_clear_are_refused_naming_common(tmp_path: Path) -> None:
    message, _ = load_error(tmp_path, MINIMAL + '[text]\nurls = "host"\n', stem="minimal")
    assert "field 'text.urls'" in message
    assert '"common"' in message
    assert '"hash"' not in message  # a URL has no hash mode


def test_every_clear_text_mode_is_named_at_once(tmp_path: Path) -> None:
    text = MINIMAL + '[text]\nwindow_titles = "redact"\nmenu_labels = "redact"\nurls = "host"\n'
    message, _ = load_error(tmp_path, text, stem="minimal")
    assert all(f"text.{f}" in message for f in ("window_titles", "menu_labels", "urls"))


@pytest.mark.parametrize(("k", "ok"), [(5, True), (10, True), (1000, True), (4, False), (0, False)])
def test_min_people_is_at_least_five(tmp_path: Path, k: int, ok: bool) -> None:
    text = MINIMAL + f'[text]\nwindow_titles = "common"\nmin_people = {k}\n'
    if ok:
        assert parse_program(text.encode(), "m.toml", "minimal").text.min_people == k
    else:
        message, _ = load_error(tmp_path, text, stem="minimal")
        assert "text.min_people" in message


def test_unknown_values_are_named(tmp_path: Path) -> None:
    text = MINIMAL + '[collect]\nevent_types = ["pointer.move", "keylogger"]\n'
    message, _ = load_error(tmp_path, text, stem="minimal")
    assert "keylogger" in message
    assert "pointer.move" not in message.split("collect.event_types", 1)[1]


@pytest.mark.parametrize(
    "name", ["Menu", "menu_nav", "menu nav", "-menu", "menu-", "ménu", "m" * 41, ""]
)
def test_bad_name_characters(tmp_path: Path, name: str) -> None:
    message, path = load_error(tmp_path, program_toml(name=name), stem="unit-test")
    assert path in message
    assert "field 'name'" in message


def test_name_must_equal_file_stem(tmp_path: Path) -> None:
    message, path = load_error(tmp_path, program_toml(name="unit-test"), stem="other-name")
    assert path in message
    assert "field 'name'" in message
    assert "other-name" in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(MINIMAL + "x = = 1\n", id="syntax"),
        pytest.param(MINIMAL + 'name = "again"\n', id="duplicate-key"),
        pytest.param(MINIMAL + "[collect\n", id="unclosed-table"),
    ],
)
def test_invalid_toml_names_the_file(tmp_path: Path, text: str) -> None:
    message, path = load_error(tmp_path, text, stem="minimal")
    assert path in message
    assert "TOML" in message
    assert "line" in message


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "minimal.toml"
    path.write_bytes(MINIMAL.encode("utf-16"))
    with pytest.raises(ProgramError, match=r"minimal\.toml"):
        load_programs(tmp_path)


def test_one_bad_file_fails_the_whole_load(tmp_path: Path) -> None:
    write(tmp_path, "minimal", MINIMAL)
    write(tmp_path, "broken", program_toml(name="broken") + "colour = 1\n")
    with pytest.raises(ProgramError, match=r"broken\.toml"):
        load_programs(tmp_path)


# --- defaults are the most restrictive ------------------------------------------------------


def test_minimal_file_defaults_are_restrictive() -> None:
    program = parse_program(MINIMAL.encode(), "minimal.toml", "minimal")
    assert program.allowed_types == frozenset()
    text = program.text
    assert (text.window_titles, text.target_names, text.menu_labels) == ("drop",) * 3
    assert text.urls == "drop"
    assert list(text.detectors) == list(DETECTORS)
    assert program.file.apps.allow == []


def test_minimal_program_accepts_no_event() -> None:
    program = parse_program(MINIMAL.encode(), "minimal.toml", "minimal")
    events = [make_event(etype) for etype in sorted(EVENT_TYPES)]
    outcome = run(events, program)
    assert outcome.accepted == 0
    assert outcome.table is None
    assert outcome.rejected == {"type_not_allowed": len(EVENT_TYPES)}


# --- default-denied applications ------------------------------------------------------------

DENIED_APPS = [
    ("1Password", "com.1password.1password"),
    ("Bitwarden", "com.bitwarden.desktop"),
    ("KeePassXC", "org.keepassxc.keepassxc"),
    ("LastPass", "com.lastpass.LastPass"),
    ("Keychain Access", "com.apple.keychainaccess"),
    ("Passwords", "com.apple.Passwords"),
    ("Slack", "com.tinyspeck.slackmacgap"),
    ("Microsoft Teams", "com.microsoft.teams2"),
    ("Messages", "com.apple.MobileSMS"),
    ("Mail", "com.apple.mail"),
    ("Microsoft Outlook", "com.microsoft.Outlook"),
    ("Signal", "org.whispersystems.signal-desktop"),
    ("WhatsApp", "net.whatsapp.WhatsApp"),
    ("Telegram", "ru.keepcoder.Telegram"),
    ("zoom.us", "us.zoom.xos"),
    ("Workday", "com.workday.workdayapp"),
    ("BambooHR", None),
    ("Culture Amp", None),
    ("Lattice", None),
    ("OUTLOOK.EXE", None),
    ("ms-teams.exe", None),
    ("KeePass.exe", None),
]


def all_programs() -> list[Program]:
    examples = load_programs(PROGRAMS_DIR)
    return [
        *examples.values(),
        parse_program(MINIMAL.encode(), "minimal.toml", "minimal"),
        make_program(),
        make_program(apps={"allow": ["*"]}),
        make_program(apps={"deny": ["*terminal*"], "allow": ["*slack*", "*1password*", "*"]}),
    ]


@pytest.mark.parametrize(("name", "bundle_id"), DENIED_APPS)
def test_default_denied_apps_are_denied_in_every_program(name: str, bundle_id: str | None) -> None:
    for program in all_programs():
        assert program.app_denied(name, bundle_id), program.name
        assert program.app_denied(name.upper(), bundle_id), program.name
        if bundle_id:
            assert program.app_denied(None, bundle_id), program.name
            assert program.app_denied("Harmless Name", bundle_id), program.name


@pytest.mark.parametrize("name", [name for name, _ in DENIED_APPS])
def test_default_denied_apps_are_denied_by_name_alone(name: str) -> None:
    """Agents that cannot read a bundle id (or send none) still name the app."""
    for program in all_programs():
        assert program.app_denied(name, None), program.name
        assert program.app_denied(name.lower(), None), program.name


def test_bundle_id_alone_denies_1password_7() -> None:
    """1Password 7 for Mac, still common, reports the bundle id com.agilebits.onepassword7."""
    for program in all_programs():
        assert program.app_denied(None, "com.agilebits.onepassword7"), program.name


def test_allow_list_cannot_reallow_a_default_denied_app() -> None:
    program = make_program(apps={"allow": ["*slack*", "slack", "*1password*", "*"]})
    assert program.app_denied("Slack", "com.tinyspeck.slackmacgap")
    assert program.app_denied("1Password", None)
    assert not program.app_denied("Visual Studio Code", None)
    outcome = run([make_event(app={"name": "Slack"}), make_event()], program)
    assert outcome.rejected == {"denied_app": 1}
    assert outcome.accepted == 1


def test_default_denials_are_published_in_every_policy() -> None:
    for program in all_programs():
        denied = program.public_policy()["apps"]["deny"]  # type: ignore[index]
        assert denied[: len(DEFAULT_DENIED_APPS)] == list(DEFAULT_DENIED_APPS)


def test_extra_denials_add_to_the_defaults() -> None:
    program = make_program(apps={"deny": ["*terminal*", "Notes"]})
    assert program.app_denied("Terminal", "com.apple.Terminal")
    assert program.app_denied("notes", None)
    assert program.app_denied("Slack", None)
    assert not program.app_denied("Notes Pro", None)
    assert not program.app_denied("Visual Studio Code", "com.microsoft.VSCode")


def test_no_allow_list_allows_events_without_an_app() -> None:
    program = make_program()
    assert not program.app_denied(None, None)
    assert run([make_event(app=None)], program).accepted == 1


# --- allow-list semantics ----------------------------------------------------------------------


def test_allow_list_denies_apps_not_on_it() -> None:
    program = load_programs(PROGRAMS_DIR)["shortcut-learning"]
    assert not program.app_denied("Visual Studio Code", "com.microsoft.VSCode")
    assert not program.app_denied(None, "com.microsoft.VSCode")
    assert not program.app_denied("GOOGLE CHROME", None)
    assert program.app_denied("Notes", "com.apple.Notes")
    assert program.app_denied("Terminal", None)


def test_allow_list_denies_events_without_an_app() -> None:
    program = make_program(apps={"allow": ["*code*"]})
    assert program.app_denied(None, None)
    assert program.app_denied("", "")
    events = [
        make_event(app=None),
        make_event(app={}),
        make_event(app={"name": "Notes"}),
        make_event(app={"name": "Visual Studio Code"}),
    ]
    outcome = run(events, program)
    assert outcome.rejected == {"denied_app": 3}
    assert outcome.accepted == 1


def test_allow_patterns_match_the_whole_name() -> None:
    program = make_program(apps={"allow": ["Figma"]})
    assert not program.app_denied("figma", None)
    assert program.app_denied("Figma Helper", None)


def test_app_decisions_do_not_depend_on_order() -> None:
    program = make_program(apps={"allow": ["*code*"]})
    answers = [program.app_denied("Notes", None), program.app_denied("Code", None)]
    answers += [program.app_denied("Notes", None), program.app_denied("Code", None)]
    assert answers == [True, False, True, False]


# --- the public policy -------------------------------------------------------------------------


def test_public_policy_content() -> None:
    program = load_programs(PROGRAMS_DIR)["menu-navigation"]
    policy = program.public_policy()
    assert json.loads(json.dumps(policy)) == policy
    assert policy["program"] == "menu-navigation"
    assert policy["policy_version"] == "menu-navigation@2"
    assert policy["lawful_basis"] == "legitimate_interests"
    assert policy["retention_days"] == 180
    assert policy["notice_version"] == "2026-09"
    assert policy["owner"] == "ml-platform@example.com"
    assert str(policy["purpose"]).startswith("Learn how employees reach commands")
    assert policy["collect"] == {
        "event_types": sorted(program.file.collect.event_types),
        "pointer_sample_ms": 60_000,  # the default: menu-navigation collects no moves
        "coordinate_precision": 3,
    }
    assert policy["text"] == {
        "window_titles": "common",
        "target_names": "common",
        "menu_labels": "common",
        "urls": "common",
        "min_people": 10,
        "detectors": sorted(DETECTORS),
    }
    assert policy["apps"] == {
        "deny": [*DEFAULT_DENIED_APPS, "*terminal*", "*iterm*", "*powershell*"],
        "allow": [],
    }


def test_public_policy_of_an_allow_list_program() -> None:
    program = load_programs(PROGRAMS_DIR)["shortcut-learning"]
    policy = program.public_policy()
    assert policy["apps"]["allow"] == list(program.file.apps.allow)  # type: ignore[index]
    assert policy["collect"]["pointer_sample_ms"] == 250  # type: ignore[index]
    assert policy["text"]["window_titles"] == "common"  # type: ignore[index]


def test_public_policy_of_a_minimal_program() -> None:
    policy = parse_program(MINIMAL.encode(), "minimal.toml", "minimal").public_policy()
    assert policy["collect"]["event_types"] == []  # type: ignore[index]
    text = dict(policy["text"])  # type: ignore[call-overload]
    assert text.pop("detectors") == sorted(DETECTORS)
    assert text.pop("min_people") == 10
    assert set(text.values()) == {"drop"}
