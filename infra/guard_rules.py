"""Control Tower's proactive controls (the Guard rules of cdklabs-cdk-validator-cfnguard) as a
validation plugin that fails closed.

The plugin reports its violations without a severity. Once any of its findings is acknowledged,
CDK recomputes the plugin's verdict from the severities of what is left, so a new finding would
pass silently. Every violation is reported here as an error, so an unacknowledged one fails the
synth (and `cdk deploy`), as cdk-nag's do.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator


@jsii.implements(cdk.IPolicyValidationPlugin)
class ControlTowerRules:
    def __init__(self) -> None:
        self._guard = CfnGuardValidator()

    @property
    def name(self) -> str:
        return self._guard.name  # acknowledgements name it: cdk-validator-cfnguard::<rule>

    @property
    def version(self) -> str | None:
        return self._guard.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._guard.rule_ids

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        report = self._guard.validate(context)
        return cdk.PolicyValidationPluginReport(
            success=report.success,
            violations=[
                cdk.PolicyViolation(
                    rule_name=v.rule_name,
                    description=v.description,
                    violating_resources=[
                        cdk.PolicyViolatingResource(
                            resource_logical_id=r.resource_logical_id,
                            template_path=r.template_path,
                            locations=r.locations,
                        )
                        for r in v.violating_resources
                    ],
                    fix=v.fix,
                    rule_metadata=v.rule_metadata,
                    severity=v.severity or "error",
                )
                for v in report.violations
            ],
            metadata=report.metadata,
            plugin_version=report.plugin_version,
        )
