"""docs/event-schema.md is generated from the msgspec types, is current, and its examples are
events the server stores and the agent captures."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from ilake_agent.policy import DENIED_APP, POLICY_REASONS, ClientPolicy
from ilake_contract import schema as s
from lambdas.core import schema_doc
from tests.support.builders import encode, make_program
from tests.support.data_path import ingest, run


def test_the_document_is_current() -> None:
    assert schema_doc.DOCUMENT.read_text() == schema_doc.render(), (
        "docs/event-schema.md is stale: run python -m lambdas.core.schema_doc"
    )


def test_check_fails_on_a_stale_document_and_writing_makes_it_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "event-schema.md"
    monkeypatch.setattr(schema_doc, "DOCUMENT", document)
    assert schema_doc.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert schema_doc.main([]) == 0
    assert schema_doc.main(["--check"]) == 0
    assert schema_doc.main(["--bogus"]) == 2


@pytest.mark.parametrize("etype", sorted(s.EVENT_TYPES))
def test_each_example_is_stored_by_the_server_and_captured_by_the_agent(etype: str) -> None:
    program = make_program()
    received_at = schema_doc.EXAMPLE_TS + 60_000
    event = schema_doc.example(etype)
    outcome = run([event], program, received_at_ms=received_at)
    assert (outcome.accepted, outcome.rejected) == (1, {})
    assert "unknown_field" not in outcome.redactions

    policy = ClientPolicy.from_policy(program.public_policy(), clock=lambda: received_at / 1000)
    captured = policy.capture(event)
    assert not isinstance(captured, str), captured
    sent = msgspec.json.decode(captured[0])
    assert run([sent], program, received_at_ms=received_at).accepted == 1


def test_the_envelope_example_is_a_batch_the_server_takes() -> None:
    received_at = schema_doc.EXAMPLE_TS + 60_000
    outcome = ingest(
        encode(schema_doc.envelope_example()), make_program(), received_at_ms=received_at
    )
    assert outcome.accepted == 1


def test_every_field_is_in_the_document_with_words_on_what_is_kept() -> None:
    text = schema_doc.render()
    for cls in (*s.EVENT_CLASSES, *s.NESTED.values(), s.Envelope, s.Agent):
        for field in msgspec.structs.fields(cls):
            assert f"| `{field.encode_name}` |" in text
    for etype in s.EVENT_TYPES:
        assert f"### `{etype}`" in text
        assert json.dumps(schema_doc.example(etype), ensure_ascii=False) in text


def test_a_field_without_words_stops_the_generator() -> None:
    class Newer(msgspec.Struct):
        shiny: int

    with pytest.raises(KeyError, match=r"Newer\.shiny"):
        schema_doc.kept(Newer, "shiny")


def test_the_agents_own_reasons_are_the_agents() -> None:
    assert set(schema_doc.AGENT_ONLY_REASONS) == set(POLICY_REASONS) - {DENIED_APP}
