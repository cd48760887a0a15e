"""What API Gateway does around our Lambdas, for local mode and tests (moto does not route).

Builds the REQUEST-authorizer event and the REST proxy event for a request, and evaluates the
authorizer's policy against the method ARN the way API Gateway does, so the real handlers run
unchanged.
"""

from __future__ import annotations

import fnmatch
import uuid
from typing import Any

API_ID = "localapi01"
ACCOUNT = "123456789012"
STAGE = "v1"


def method_arn(method: str, path: str, *, region: str) -> str:
    return f"arn:aws:execute-api:{region}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"


def _route(path: str) -> tuple[str, dict[str, str]]:
    """The resource template and path parameters of one of our routes."""
    parts = path.strip("/").split("/")
    if len(parts) == 4 and parts[:2] == ["v1", "programs"]:
        return f"/v1/programs/{{program}}/{parts[3]}", {"program": parts[2]}
    return path, {}


def authorizer_event(
    method: str, path: str, headers: dict[str, str], *, region: str
) -> dict[str, Any]:
    resource, params = _route(path)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(method, path, region=region),
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "pathParameters": params,
        "requestContext": {"accountId": ACCOUNT, "apiId": API_ID, "stage": STAGE},
    }


def proxy_event(
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None,
    *,
    base64_encoded: bool,
    authorizer: dict[str, Any],
) -> dict[str, Any]:
    """A REST API Lambda proxy event, with the authorizer's principal and context attached."""
    resource, params = _route(path)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def policy_allows(response: dict[str, Any], arn: str) -> bool:
    """API Gateway's verdict on an authorizer response for one method ARN (explicit Deny wins)."""
    allowed = False
    for statement in response.get("policyDocument", {}).get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = statement.get("Effect") == "Allow" or allowed
    return allowed


def authorizer_context(response: dict[str, Any]) -> dict[str, Any]:
    """What API Gateway passes on to the integration as requestContext.authorizer."""
    return {"principalId": response.get("principalId"), **(response.get("context") or {})}
