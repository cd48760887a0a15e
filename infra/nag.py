"""Acknowledging cdk-nag findings, always with the reason, always next to the resource."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, reason: str, *rules: str) -> None:
    """Acknowledge `rules` (e.g. 'AwsSolutions-SMG4', 'HIPAA.Security-...') on `scope`."""
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{rule.split('-', 1)[0]}::{rule}", reason=reason) for rule in rules)
    )


def skip_checkov(construct: IConstruct, check_id: str, comment: str) -> None:
    """A checkov skip in the resource's metadata, with the reason beside it."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource), "checkov skips attach to an L1 resource"
    skips = resource.get_metadata("checkov") or {"skip": []}
    skips["skip"].append({"id": check_id, "comment": comment})
    resource.add_metadata("checkov", skips)
