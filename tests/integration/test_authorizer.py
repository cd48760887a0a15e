"""The REQUEST authorizer against a moto agents table."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ilake.apigw import authorizer_event, method_arn, policy_allows
from lambdas.adapters.agents_table import enroll_agent, revoke_agent
from lambdas.authorizer import handler as authorizer
from lambdas.core.agents import token_hash
from tests.support.api import FakeContext
from tests.support.lake import REGION, Lake

pytestmark = pytest.mark.integration


def request(
    program: str, authorization: str | None, method: str = "POST", route: str = "batches"
) -> dict[str, Any]:
    headers = {} if authorization is None else {"Authorization": authorization}
    return authorizer_event(method, f"/v1/programs/{program}/{route}", headers, region=REGION)


def arn(program: str, method: str = "POST", route: str = "batches") -> str:
    return method_arn(method, f"/v1/programs/{program}/{route}", region=REGION)


@pytest.fixture
def token(lake: Lake) -> str:
    return enroll_agent(
        lake.clients.dynamodb, lake.agents_table, program="everything", agent_id="laptop-42"
    ).token


def call(event: dict[str, Any]) -> dict[str, Any]:
    return authorizer.handler(event, FakeContext())


def test_valid_token_is_allowed_for_its_program_only(token: str) -> None:
    policy = call(request("everything", f"Bearer {token}"))
    assert policy["principalId"] == "laptop-42"
    assert policy["context"] == {"program": "everything", "agent_id": "laptop-42"}
    assert policy_allows(policy, arn("everything"))
    assert policy_allows(policy, arn("everything", "GET", "policy"))
    # API Gateway caches this policy per token: it must not open other programs' routes
    assert not policy_allows(policy, arn("menu-navigation"))
    assert not policy_allows(policy, arn("everything-else"))


def test_token_on_another_programs_path_gets_no_allow(token: str) -> None:
    policy = call(request("menu-navigation", f"Bearer {token}"))
    assert not policy_allows(policy, request("menu-navigation", None)["methodArn"])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer ilk_short",
        "Bearer a b c",
        "Bearer ilk_" + "x" * 200,
        "Bearer ilk_unknown_token_value_0123456789",
    ],
)
def test_missing_malformed_or_unknown_token_is_unauthorized(lake: Lake, header: str | None) -> None:
    with pytest.raises(authorizer.Unauthorized, match=r"^Unauthorized$"):
        call(request("everything", header))


def test_revoked_token_is_unauthorized(lake: Lake, token: str) -> None:
    revoke_agent(lake.clients.dynamodb, lake.agents_table, token)
    with pytest.raises(authorizer.Unauthorized, match=r"^Unauthorized$"):
        call(request("everything", f"Bearer {token}"))


def test_expired_token_is_unauthorized(lake: Lake, token: str) -> None:
    lake.clients.dynamodb.update_item(
        TableName=lake.agents_table,
        Key={"token_hash": {"S": token_hash(token)}},
        UpdateExpression="SET expires_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - 1)}},
    )
    with pytest.raises(authorizer.Unauthorized, match=r"^Unauthorized$"):
        call(request("everything", f"Bearer {token}"))


def test_only_the_hash_is_stored_and_the_token_is_never_logged(
    lake: Lake, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call(request("everything", f"Bearer {token}"))
    with pytest.raises(authorizer.Unauthorized):
        call(request("everything", f"Bearer {token}x"))
    items = lake.clients.dynamodb.scan(TableName=lake.agents_table)["Items"]
    assert token not in repr(items)
    [stored] = [item for item in items if "status" in item]  # the other is the agent id's slot
    assert stored["token_hash"]["S"] == token_hash(token)
    out = capsys.readouterr()
    assert token not in out.out + out.err
