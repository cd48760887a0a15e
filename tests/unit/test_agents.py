"""Agent enrollment against a moto agents table: one active token per agent id and program,
replaced only when asked, and fingerprints that tell an agent's tokens apart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambdas.adapters.agents_table import (
    enroll_agent,
    grant_from_item,
    list_agents,
    revoke_agent_id,
)
from lambdas.core import resources
from lambdas.core.agents import AlreadyEnrolled, EnrolledMeanwhile, token_hash

TABLE = "ilake-agents"
PROGRAM, OTHER = "menu-navigation", "shortcut-learning"


@contextmanager
def agents_table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_table(
            TableName=TABLE,
            KeySchema=resources.AGENTS.key_schema,
            AttributeDefinitions=resources.AGENTS.attribute_definitions,
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with agents_table() as client:
        yield client


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return sorted(
        dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"],
        key=lambda item: item["token_hash"]["S"],
    )


def active(dynamodb: Any, program: str, agent_id: str) -> list[str]:
    """Hashes of the tokens the authorizer would accept for this agent id."""
    return [
        item["token_hash"]["S"]
        for item in items(dynamodb)
        if grant_from_item(item) is not None
        and (item["program"]["S"], item["agent_id"]["S"]) == (program, agent_id)
    ]


def enroll(dynamodb: Any, agent_id: str = "LAPTOP-42", **kwargs: Any) -> Any:
    return enroll_agent(dynamodb, TABLE, program=PROGRAM, agent_id=agent_id, **kwargs)


def test_enrolling_an_agent_id_with_an_active_token_is_refused_and_writes_nothing(
    dynamodb: Any,
) -> None:
    first = enroll(dynamodb)
    before = items(dynamodb)
    with pytest.raises(AlreadyEnrolled) as refused:
        enroll(dynamodb)
    assert refused.value.active == 1
    assert items(dynamodb) == before
    assert active(dynamodb, PROGRAM, "LAPTOP-42") == [token_hash(first.token)]


def test_replace_revokes_the_old_token_in_the_same_write(dynamodb: Any) -> None:
    first = enroll(dynamodb)
    second = enroll(dynamodb, replace=True)
    assert (first.revoked, second.revoked) == (0, 1)
    assert active(dynamodb, PROGRAM, "LAPTOP-42") == [token_hash(second.token)]
    listed = list_agents(dynamodb, TABLE, PROGRAM)
    assert {a["fingerprint"]: a["status"] for a in listed} == {
        first.fingerprint: "revoked",
        second.fingerprint: "active",
    }


def test_fingerprints_are_the_start_of_the_stored_hash_and_tell_tokens_apart(
    dynamodb: Any,
) -> None:
    first = enroll(dynamodb)
    second = enroll(dynamodb, replace=True)
    assert first.fingerprint == token_hash(first.token)[:12]
    assert second.fingerprint == token_hash(second.token)[:12]
    assert first.fingerprint != second.fingerprint
    listed = list_agents(dynamodb, TABLE, PROGRAM)
    assert {a["fingerprint"] for a in listed} == {first.fingerprint, second.fingerprint}
    for hashed in (token_hash(first.token), token_hash(second.token)):
        assert hashed not in repr(listed)  # a prefix only, never the whole hash


def test_the_agent_ids_slot_is_never_a_grant_nor_listed(dynamodb: Any) -> None:
    enrolled = enroll(dynamodb)
    [slot] = [item for item in items(dynamodb) if "status" not in item]
    assert slot["token_hash"]["S"] == f"agent#{PROGRAM}#LAPTOP-42"
    assert grant_from_item(slot) is None
    assert enrolled.token not in repr(items(dynamodb))
    assert [a["agent_id"] for a in list_agents(dynamodb, TABLE, PROGRAM)] == ["LAPTOP-42"]


def test_other_agent_ids_and_other_programs_are_independent(dynamodb: Any) -> None:
    enroll(dynamodb)
    enroll(dynamodb, agent_id="LAPTOP-43")
    enroll_agent(dynamodb, TABLE, program=OTHER, agent_id="LAPTOP-42")
    assert len(active(dynamodb, PROGRAM, "LAPTOP-42")) == 1
    assert len(active(dynamodb, PROGRAM, "LAPTOP-43")) == 1
    assert len(active(dynamodb, OTHER, "LAPTOP-42")) == 1


def test_a_revoked_or_expired_token_does_not_block_a_new_one(dynamodb: Any) -> None:
    enroll(dynamodb)
    assert revoke_agent_id(dynamodb, TABLE, program=PROGRAM, agent_id="LAPTOP-42") == 1
    expiring = enroll(dynamodb)
    assert expiring.revoked == 0
    dynamodb.update_item(
        TableName=TABLE,
        Key={"token_hash": {"S": token_hash(expiring.token)}},
        UpdateExpression="SET expires_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - 1)}},
    )
    statuses = {a["fingerprint"]: a["status"] for a in list_agents(dynamodb, TABLE, PROGRAM)}
    assert statuses[expiring.fingerprint] == "expired"
    latest = enroll(dynamodb)
    assert latest.revoked == 0
    assert active(dynamodb, PROGRAM, "LAPTOP-42") == [token_hash(latest.token)]


def test_duplicates_enrolled_before_the_check_are_found_and_replaced(dynamodb: Any) -> None:
    """Tokens written before agent ids had a slot: the scan still sees them."""
    now = int(time.time())
    for n in range(2):
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "token_hash": {"S": f"{n:064x}"},
                "agent_id": {"S": "LAPTOP-42"},
                "program": {"S": PROGRAM},
                "status": {"S": "active"},
                "created_at": {"N": str(now)},
                "expires_at": {"N": str(now + 86_400)},
            },
        )
    with pytest.raises(AlreadyEnrolled) as refused:
        enroll(dynamodb)
    assert refused.value.active == 2
    replaced = enroll(dynamodb, replace=True)
    assert replaced.revoked == 2
    assert active(dynamodb, PROGRAM, "LAPTOP-42") == [token_hash(replaced.token)]


class _Interleaved:
    """A DynamoDB client on which another enrollment of the same agent id lands between this
    enrollment's reads and its write, as a second operator's could."""

    def __init__(self, client: Any, **competitor: Any) -> None:
        self._client, self._competitor = client, competitor
        self.won: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.won is None:
            self.won = enroll(self._client, **self._competitor)
        return self._client.transact_write_items(**kwargs)


@pytest.mark.parametrize("replace", [False, True])
def test_of_two_enrollments_at_once_one_wins(dynamodb: Any, replace: bool) -> None:
    if replace:
        enroll(dynamodb)
    interleaved = _Interleaved(dynamodb, replace=replace)
    before_competitor = len(items(dynamodb))
    with pytest.raises(EnrolledMeanwhile):
        enroll(interleaved, replace=replace)
    assert active(dynamodb, PROGRAM, "LAPTOP-42") == [token_hash(interleaved.won.token)]
    assert len(items(dynamodb)) == before_competitor + 1 + (not replace)  # its token (and slot)


def emptied(dynamodb: Any) -> Any:
    for item in items(dynamodb):
        dynamodb.delete_item(TableName=TABLE, Key={"token_hash": item["token_hash"]})
    return dynamodb


# one table for all examples, emptied at the start of each
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["enroll", "replace", "revoke"]),
            st.sampled_from([PROGRAM, OTHER]),
            st.sampled_from(["a", "b"]),
        ),
        max_size=8,
    )
)
def test_an_agent_id_never_has_two_active_tokens(
    dynamodb: Any, steps: list[tuple[str, str, str]]
) -> None:
    """For any sequence of enrollments, replacements and revocations: enrolling succeeds
    exactly when the agent id has no active token, a replacement revokes exactly those, and
    at most one token per agent id and program is ever accepted."""
    emptied(dynamodb)
    tokens: dict[tuple[str, str], str | None] = {}
    for action, program, agent_id in steps:
        key = (program, agent_id)
        had = tokens.get(key)
        if action == "revoke":
            revoked = revoke_agent_id(dynamodb, TABLE, program=program, agent_id=agent_id)
            assert revoked == (had is not None)
            tokens[key] = None
            continue
        replace = action == "replace"
        try:
            enrolled = enroll_agent(
                dynamodb, TABLE, program=program, agent_id=agent_id, replace=replace
            )
        except AlreadyEnrolled:
            assert had is not None
            assert not replace
        else:
            assert had is None or replace
            assert enrolled.revoked == (had is not None)
            tokens[key] = token_hash(enrolled.token)
        accepted: dict[tuple[str, str], list[str]] = {}
        for item in items(dynamodb):
            if grant_from_item(item) is not None:
                owner = (item["program"]["S"], item["agent_id"]["S"])
                accepted.setdefault(owner, []).append(item["token_hash"]["S"])
        assert accepted == {k: [hashed] for k, hashed in tokens.items() if hashed}
