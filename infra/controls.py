"""Control Tower rules answered by the app's configuration rather than by one unit's design.

Log retention is a flag (`ilake:logRetentionDays`): at a year or more every log group meets
CT.CLOUDWATCH.PR.2; below it, each log group records why the shorter retention is the default.
"""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from constructs import Construct

from .nag import acknowledge_guard

ONE_YEAR_DAYS = 365
SHORT_LOG_RETENTION = (
    "Logs are kept {days} days by default (ilake:logRetentionDays): they hold pseudonyms, request "
    "metadata and workflow steps, and keeping them shorter is data minimisation. Accounts whose "
    "policy needs a year set ilake:logRetentionDays=365, which meets the rule."
)


def acknowledge_log_retention(scope: Construct, days: int) -> None:
    """On every log group under `scope`, when retention is shorter than a year."""
    if days >= ONE_YEAR_DAYS:
        return
    for construct in scope.node.find_all():
        if isinstance(construct, logs.CfnLogGroup):
            acknowledge_guard(
                construct,
                SHORT_LOG_RETENTION.format(days=days),
                "cloudwatch_log_group_retention_period_check",
            )
