"""What the agents did before sending reaches the server, in counts only: the redactions an agent
made travel with each event into the row's `redactions`, and the events it did not capture
travel with its next batch. Bounded, validated, and never content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.core.errors import MalformedBatch
from lambdas.core.pipeline import NOT_CAPTURED_REASONS, not_captured
from tests.support.builders import encode, make_batch, make_event
from tests.support.data_path import ingest, rows, run

from .test_agent_client import FAST, ScriptedServer, at_arrival, client

EMAIL = "jane.roe@example.com"


def redactions_of(row: dict[str, Any]) -> dict[str, int]:
    return dict(row["redactions"] or [])


# --- the server ---------------------------------------------------------------------------------


def test_an_events_claimed_redactions_join_the_rows_count_not_the_answer() -> None:
    outcome = run(
        [
            make_event("pointer.click", redacted={"email": 2, "phone": 1}),
            make_event("pointer.click", window={"title": f"Mail to {EMAIL}"}),
            make_event("pointer.click"),
        ]
    )
    claimed, found, clean = rows(outcome)
    assert redactions_of(claimed) == {"email": 2, "phone": 1}
    assert redactions_of(found) == {"email": 1}
    assert clean["redactions"] is None
    assert outcome.redacted_events == 2  # rows holding a placeholder, whoever replaced it
    assert outcome.redactions == {"email": 1}  # what ingest itself replaced
    assert outcome.agent_redactions == {"email": 2, "phone": 1}


def test_claims_merge_with_what_ingest_finds_in_the_same_event() -> None:
    [row] = rows(run([make_event(window={"title": f"To {EMAIL}"}, redacted={"email": 1})]))
    assert redactions_of(row) == {"email": 2}


@pytest.mark.parametrize(
    "claim",
    [
        {"typed_text": 1},  # not a detector: no new metric names from an agent
        {"email": 0},
        {"email": -1},
        {"email": 10_001},
        {"email": "1"},
        {"EMAIL": 1},
        [],
        "email",
    ],
)
def test_a_bad_claim_rejects_the_event_and_echoes_nothing(claim: Any) -> None:
    outcome = run([make_event(redacted=claim), make_event()])
    assert outcome.accepted == 1
    assert sum(outcome.rejected.values()) == 1
    assert outcome.agent_redactions == {}


def test_not_captured_counts_are_read_from_the_envelope_and_unknown_reasons_folded() -> None:
    outcome = run(
        [make_event()],
        not_captured={"denied_app": 7, "type_not_collected": 3, "made_up_reason": 2},
    )
    assert outcome.not_captured == {"denied_app": 7, "type_not_collected": 3, "other": 2}
    assert outcome.accepted == 1


def test_a_batch_of_counts_alone_is_accepted_and_stores_nothing() -> None:
    outcome = run([], not_captured={"denied_app": 4})
    assert outcome.table is None
    assert outcome.not_captured == {"denied_app": 4}


@pytest.mark.parametrize(
    "counts",
    [
        {"Denied App": 1},
        {"denied_app": 0},
        {"denied_app": 100_000_001},
        {f"reason_{i}": 1 for i in range(33)},
        {"x" * 41: 1},
        ["denied_app"],
    ],
)
def test_a_malformed_not_captured_field_is_a_400_naming_only_the_field(counts: Any) -> None:
    secret = "hunter2-secret-reason"
    body = encode(make_batch([make_event()], not_captured=counts)).replace(
        b"Denied App", secret.encode()
    )
    with pytest.raises(MalformedBatch) as refused:
        ingest(body)
    assert "not_captured" in str(refused.value.detail)
    assert secret not in str(refused.value.detail)


@given(st.dictionaries(st.text(max_size=12), st.integers(1, 10**6), max_size=8))
def test_folded_reasons_are_always_known_and_the_total_is_kept(counts: dict[str, int]) -> None:
    folded = not_captured(counts)
    assert set(folded) <= NOT_CAPTURED_REASONS | {"other"}
    assert sum(folded.values()) == sum(counts.values())


# --- the agent ----------------------------------------------------------------------------------


def sent_events(server: ScriptedServer) -> list[dict[str, Any]]:
    return [event for post in server.posts for event in post["batch"]["events"]]


def test_each_event_carries_the_redactions_the_agent_made(tmp_path: Path) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, [])
    assert agent.record(make_event(window={"title": f"Reply to {EMAIL}"}))
    assert agent.record(make_event())
    assert agent.close(5)
    redacted, clean = sent_events(server)
    assert redacted["redacted"] == {"email": 1}
    assert EMAIL not in str(redacted)
    assert "redacted" not in clean
    assert agent.counters.redactions == {"email": 1}


@pytest.mark.parametrize("claim", [{"card": 9}, {"bogus": 1}, {"email": 0}, "x", None])
def test_a_recorders_own_claim_is_dropped_as_an_unknown_field(tmp_path: Path, claim: Any) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, [])
    assert agent.record(make_event(redacted=claim) | {"redacted": claim})
    assert agent.close(5)
    [event] = sent_events(server)
    assert event["redacted"] == {"unknown_field": 1}


def test_events_not_captured_travel_once_with_the_next_batch(tmp_path: Path) -> None:
    server = ScriptedServer(503)  # the first attempt fails: the retry must carry the same counts
    agent = client(tmp_path, server, [])
    for _ in range(3):
        assert not agent.record(make_event("key.press"))  # menu-navigation does not collect it
    assert not agent.record(make_event(app={"name": "1Password"}))
    assert agent.record(make_event())
    assert agent.flush(5)
    assert agent.record(make_event())
    assert agent.close(5)
    first, retry, second = (post["batch"] for post in server.posts)
    assert first["not_captured"] == retry["not_captured"]
    assert first["not_captured"] == {"type_not_collected": 3, "denied_app": 1}
    assert first["batch_id"] == retry["batch_id"]
    assert "not_captured" not in second
    assert agent.counters.not_captured_by == first["not_captured"]


def test_counts_alone_go_out_on_flush_when_nothing_was_captured(tmp_path: Path) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, [], limits=FAST)
    for _ in range(2):
        assert not agent.record(make_event(app={"name": "1Password"}))
    assert agent.close(5)
    [post] = server.posts
    assert post["batch"]["events"] == []
    assert post["batch"]["not_captured"] == {"denied_app": 2}


def test_the_agents_batches_pass_the_servers_envelope(tmp_path: Path) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, [])
    assert not agent.record(make_event("key.press"))
    assert agent.record(make_event(window={"title": f"To {EMAIL}"}))
    assert agent.close(5)
    [post] = server.posts
    import gzip

    outcome = ingest(gzip.decompress(post["body"]))
    [row] = rows(outcome)
    assert redactions_of(row) == {"email": 1}
    assert outcome.redactions == {}  # nothing was left for ingest to find
    assert outcome.not_captured == {"type_not_collected": 1}


def test_pointer_moves_are_sampled_on_the_agent_as_the_server_samples_them(
    tmp_path: Path,
) -> None:
    """shortcut-learning keeps one pointer move per session every 250 ms: the agent spools no
    move the server would refuse as sampled_out, and says how many it left out."""
    from ilake_agent.client import Client
    from tests.support.builders import PROGRAMS_DIR

    class Server(ScriptedServer):
        def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            from lambdas.core.programs import load_programs

            return 200, load_programs(PROGRAMS_DIR)["shortcut-learning"].public_policy(), {}

    server = Server()
    agent = Client(
        "http://agent.test", "ilk_test", "shortcut-learning",
        spool_dir=tmp_path / "spool", transport=server, limits=FAST, clock=at_arrival,
    )  # fmt: skip
    start = make_event("pointer.move")["ts"]
    offsets = [0, 100, 249, 250, 300, 600, 601]  # kept: 0, 250, 600
    moves = [make_event("pointer.move", ts=start + dt, seq=i) for i, dt in enumerate(offsets)]
    other = [make_event("pointer.move", ts=start + 10, session_id="session-2")]  # its own clock
    kept = [agent.record(move) for move in [*moves, *other]]
    assert kept == [True, False, False, True, False, True, False, True]
    assert agent.close(5)
    assert agent.counters.not_captured_by == {"sampled_out": 4}
    [post] = server.posts
    import gzip

    outcome = ingest(gzip.decompress(post["body"]), load_programs_named("shortcut-learning"))
    assert outcome.rejected == {}  # the server samples nothing more away
    assert outcome.accepted == 4
    assert outcome.not_captured == {"sampled_out": 4}


def load_programs_named(name: str) -> Any:
    from lambdas.core.programs import load_programs
    from tests.support.builders import PROGRAMS_DIR

    return load_programs(PROGRAMS_DIR)[name]
