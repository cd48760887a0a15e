"""API Gateway REQUEST authorizer: bearer token -> SHA-256 -> agents table -> program-scoped policy.

No or unknown token: "Unauthorized" (API Gateway answers 401). A valid token gets an Allow for its
own program's routes only, so the same token on another program's path gets 403, also when API
Gateway serves the answer from its authorizer cache. The token itself is never logged.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
    HttpVerb,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.adapters.agents_table import grant_from_item
from lambdas.core import resources
from lambdas.core.agents import bearer_token, token_hash

logger = Logger(service="authorizer")


class Unauthorized(Exception):
    """API Gateway turns exactly this message into a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb")


def authorize(event: dict[str, Any], dynamodb: Any, table: str) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        logger.info("denied", extra={"reason": "no_token"})
        raise Unauthorized()
    item = dynamodb.get_item(
        TableName=table, Key={"token_hash": {"S": token_hash(token)}}, ConsistentRead=True
    ).get("Item")
    grant = grant_from_item(item)
    if grant is None:
        logger.info("denied", extra={"reason": "unknown_revoked_or_expired"})
        raise Unauthorized()
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=grant.agent_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"program": grant.program, "agent_id": grant.agent_id},
    )
    policy.allow_route(HttpVerb.ALL.value, f"/v1/programs/{grant.program}/*")
    logger.info("allowed", extra={"agent_id": grant.agent_id, "program": grant.program})
    return policy.asdict()


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event, _dynamodb(), os.environ[resources.AGENTS.env])
