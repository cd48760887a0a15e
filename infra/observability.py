"""Dashboard and alarms for the ingest path, notifying an encrypted SNS topic.

Alarms watch what an operator must act on: API faults and throttling, a spike of refused
requests (bad or revoked tokens), per program the share of events not stored and the share of
events carrying redactions (an agent or an app suddenly sending personal data), and the Lambdas'
errors and duration. The metrics are the ingest handler's EMF metrics (namespace InteractionLake,
dimensions program and service) and the AWS service metrics.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .defaults import rotated_key

NAMESPACE = "InteractionLake"
PERIOD = Duration.minutes(5)


def ingest_metric(name: str, program: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"program": program, "service": "ingest"},
        statistic="Sum",
        period=PERIOD,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.RestApi,
        functions: dict[str, lambda_.IFunction],
        scheduled: dict[str, lambda_.IFunction],
        authorizer_logs: logs.ILogGroup,
        programs: list[str],
        alarm_email: str | None,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        key = rotated_key(
            self,
            "AlarmsKey",
            description="Interaction Lake alarm notifications",
            removal=removal,
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey"
        )
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name="Interaction Lake alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        notify = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(alarm_id: str, metric: cloudwatch.IMetric, threshold: float, what: str) -> None:
            created = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=what,
            )
            created.add_alarm_action(notify)
            self.alarms.append(created)

        alarm(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            1,
            "The ingest API answered 5xx: a fault on our side, nothing was stored.",
        )
        alarm(
            "ApiRefusedSpike",
            api.metric_client_error(period=PERIOD, statistic="Sum"),
            500,
            "Many 4xx answers (bad or revoked tokens, refused batches, throttling) in 5 min.",
        )
        denials = logs.MetricFilter(
            self,
            "AuthorizerDenials",
            log_group=authorizer_logs,
            metric_namespace=NAMESPACE,
            metric_name="AuthorizerDenials",
            filter_pattern=logs.FilterPattern.string_value("$.message", "=", "denied"),
            metric_value="1",
        )
        alarm(
            "AuthorizerDenialSpike",
            denials.metric(period=PERIOD, statistic="Sum"),
            100,
            "The authorizer refused 100+ tokens in 5 min: leaked, revoked or guessed tokens.",
        )
        for name, function in functions.items():
            alarm(
                f"{name}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                1,
                f"The {name} Lambda failed.",
            )
            alarm(
                f"{name}Throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                1,
                f"The {name} Lambda was throttled.",
            )
            alarm(
                f"{name}Duration",
                function.metric_duration(period=PERIOD, statistic="p99"),
                10_000,
                f"The {name} Lambda's p99 duration is over 10 s.",
            )
        for name, function in scheduled.items():  # long batch jobs: errors only
            alarm(
                f"{name}Errors",
                function.metric_errors(period=Duration.hours(1), statistic="Sum"),
                1,
                f"The {name} Lambda failed; its next scheduled run retries the work.",
            )
        for program in programs:
            accepted = ingest_metric("EventsAccepted", program)
            rejected = ingest_metric("EventsRejected", program)
            redacted = ingest_metric("EventsRedacted", program)
            suffix = "".join(part.capitalize() for part in program.split("-"))
            alarm(
                f"RejectedRatio{suffix}",
                cloudwatch.MathExpression(
                    expression="100 * r / (a + r + 1)",
                    using_metrics={"a": accepted, "r": rejected},
                    period=PERIOD,
                    label=f"{program}: % of events not stored",
                ),
                50,
                f"Half of {program}'s events are not stored: an agent or policy mismatch.",
            )
            alarm(
                f"RedactionSpike{suffix}",
                cloudwatch.MathExpression(
                    expression="100 * d / (a + 1)",
                    using_metrics={"a": accepted, "d": redacted},
                    period=PERIOD,
                    label=f"{program}: % of stored events with redactions",
                ),
                20,
                f"A fifth of {program}'s stored events needed redaction: personal data is "
                "arriving (new app, changed agent); consider pausing the program.",
            )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name="interaction-lake")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=PERIOD),
                    api.metric_client_error(period=PERIOD),
                    api.metric_server_error(period=PERIOD),
                ],
            ),
            cloudwatch.GraphWidget(
                title="API latency (p50, p99)",
                left=[
                    api.metric_latency(period=PERIOD, statistic="p50"),
                    api.metric_latency(period=PERIOD, statistic="p99"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Events stored per program",
                left=[ingest_metric("EventsAccepted", p) for p in programs],
            ),
            cloudwatch.GraphWidget(
                title="Events not stored per program",
                left=[ingest_metric("EventsRejected", p) for p in programs],
            ),
            cloudwatch.GraphWidget(
                title="Events with redactions per program",
                left=[ingest_metric("EventsRedacted", p) for p in programs],
            ),
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{name} Lambda",
                    left=[f.metric_invocations(period=PERIOD), f.metric_errors(period=PERIOD)],
                    right=[f.metric_duration(period=PERIOD, statistic="p99")],
                )
                for name, f in functions.items()
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms),
        )
