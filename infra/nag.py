"""Acknowledging validation findings (cdk-nag, Control Tower's Guard rules) and checkov checks,
always with the reason, always next to the resource."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

# The validation plugin of Control Tower's proactive controls (infra/guard_rules.py); a finding
# is acknowledged as `<plugin name>::<rule name>`, as the report's "Acknowledge with" says.
GUARD_PLUGIN = "cdk-validator-cfnguard"


def acknowledge(scope: IConstruct, reason: str, *rules: str) -> None:
    """Acknowledge cdk-nag `rules` (e.g. 'AwsSolutions-SMG4', 'HIPAA.Security-...') on `scope`."""
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{rule.split('-', 1)[0]}::{rule}", reason=reason) for rule in rules)
    )


def acknowledge_guard(scope: IConstruct, reason: str, *rules: str) -> None:
    """Acknowledge Control Tower Guard `rules` by rule name (e.g. 'lambda_inside_vpc_check') on
    `scope` and everything under it."""
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{GUARD_PLUGIN}::{rule}", reason=reason) for rule in rules)
    )


def skip_checkov(construct: IConstruct, check_id: str, comment: str) -> None:
    """A checkov skip in the resource's metadata, with the reason beside it."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), "checkov skips attach to an L1 resource"
    skips = resource.get_metadata("checkov") or {"skip": []}
    skips["skip"].append({"id": check_id, "comment": comment})
    resource.add_metadata("checkov", skips)
