"""Control Tower rules answered by the app's configuration rather than by one unit's design.

Log retention is a flag (`ilake:logRetentionDays`): at a year or more every log group meets
CT.CLOUDWATCH.PR.2; below it, each log group records why a shorter retention is the default.
"""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from constructs import Construct

from .nag import acknowledge_guard

ONE_YEAR_DAYS = 365
SHORT_LOG_RETENTION = (
    "Logs are kept {days} days (ilake:logRetentionDays, 90 by default): they hold pseudonyms, "
    "request metadata and workflow steps, and keeping them shorter is data minimisation. "
    "Accounts whose policy needs a year set ilake:logRetentionDays=365, which meets the rule."
)


def acknowledge_log_retention(scope: Construct) -> None:
    """On every log group under `scope` that keeps its logs less than a year."""
    for construct in scope.node.find_all():
        if not isinstance(construct, logs.CfnLogGroup):
            continue
        days = construct.retention_in_days
        if days is not None and days < ONE_YEAR_DAYS:
            acknowledge_guard(
                construct,
                SHORT_LOG_RETENTION.format(days=days),
                "cloudwatch_log_group_retention_period_check",
            )
