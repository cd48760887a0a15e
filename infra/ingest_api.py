"""The ingest API: API Gateway REST, the REQUEST authorizer and the ingest Lambda (docs/api.md).

TLS 1.2, throttling per stage and method, request parameter validation, JSON access logs to an
encrypted log group, X-Ray, and request bodies delivered as binary (base64) so gzip batches
reach the handler intact. Execution logging never includes request or response data.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from lambdas.core import resources
from lambdas.core.lake import program_prefix
from lambdas.core.settings import limits_environment

from .config import AppConfig
from .function_runtime import NO_VPC, FunctionRuntime
from .nag import acknowledge, acknowledge_guard, skip_checkov
from .program_keys import ProgramKey
from .runtime_tables import RuntimeTables

NO_DLQ = (
    "Invoked synchronously by API Gateway only: failures return to the agent, which retries "
    "from its spool; there are no asynchronous events to dead-letter."
)
NO_RESERVATION = (
    "Concurrency is bounded by API Gateway throttling; a reservation is set with context "
    "ilake:ingestConcurrency where the account needs it."
)
INVOKED_BY_THIS_API = (
    "CT.LAMBDA.PR.2 wants SourceArn as a string or a plain reference. Each permission's SourceArn "
    "is this API's own execute-api ARN (API id, account, region, stage and method), which "
    "CloudFormation can only join (Fn::Join) and the rule cannot read: only this API may invoke."
)
NO_CACHE = (
    "Ingest must never be served from a cache: every batch is a write and every policy read "
    "must see the current program. Caching is off on purpose, so there is nothing to encrypt."
)


class IngestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        lake: s3.IBucket,
        keys: dict[str, ProgramKey],
        tables: RuntimeTables,
        runtime: FunctionRuntime,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self._runtime = runtime
        self.log_groups: dict[str, logs.LogGroup] = {}
        environment = {
            "LAKE_BUCKET": lake.bucket_name,
            **tables.environment(
                resources.PROGRAM_STATE,
                resources.IDEMPOTENCY,
                resources.AGENTS,
                resources.COMMON_TEXTS,
            ),
            "PROGRAMS_DIR": "/var/task/programs",
            **limits_environment(),  # the defaults of lambdas.core.pipeline.Limits
            "POWERTOOLS_METRICS_NAMESPACE": "InteractionLake",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        self.ingest = self._function(
            "Ingest",
            handler="lambdas.ingest.handler.handler",
            environment=environment,
            memory=1769,  # one full vCPU: the core is CPU-bound
            timeout=Duration.seconds(29),
            concurrency=config.ingest_concurrency,
        )
        self.authorizer_fn = self._function(
            "Authorizer",
            handler="lambdas.authorizer.handler.handler",
            environment=tables.environment(resources.AGENTS),
            memory=256,
            timeout=Duration.seconds(5),
            concurrency=None,
        )
        self._grant(lake, keys, tables, region)

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=runtime.logs_key,
            retention=runtime.retention,
            removal_policy=removal,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name="interaction-lake",
            description="Interaction Lake: agents post interaction batches",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=["application/json", "application/gzip", "application/octet-stream"],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=removal,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                throttling_rate_limit=config.throttle_rate,
                throttling_burst_limit=config.throttle_burst,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log request or response bodies
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                method_options={
                    # An override replaces the stage's settings for its method, and CDK's defaults
                    # there are logging OFF and metrics off: say them again for the one method
                    # that matters.
                    "/v1/programs/{program}/batches/POST": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=config.throttle_rate,
                        throttling_burst_limit=config.throttle_burst,
                        metrics_enabled=True,
                        logging_level=apigw.MethodLoggingLevel.ERROR,
                        data_trace_enabled=False,
                    )
                },
            ),
            disable_execute_api_endpoint=False,
        )
        # A throttled agent is told when to retry (API Gateway sends no Retry-After)
        self.api.add_gateway_response(
            "Throttled",
            type=apigw.ResponseType.THROTTLED,
            response_headers={"Retry-After": "'1'"},
        )
        authorizer = apigw.RequestAuthorizer(
            self,
            "TokenAuthorizer",
            handler=self.authorizer_fn,
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=Duration.seconds(config.authorizer_cache_s),
        )
        # Parameters (path, Authorization, Content-Type) are checked by API Gateway; bodies are
        # gzip or JSON and validated by the handler, so no body model is attached.
        validator = self.api.add_request_validator(
            "Parameters", validate_request_parameters=True, validate_request_body=True
        )
        program = (
            self.api.root.add_resource("v1").add_resource("programs").add_resource("{program}")
        )
        integration = apigw.LambdaIntegration(self.ingest, proxy=True)
        required = {
            "method.request.path.program": True,
            "method.request.header.Authorization": True,
        }
        program.add_resource("batches").add_method(
            "POST",
            integration,
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.CUSTOM,
            request_validator=validator,
            request_parameters={**required, "method.request.header.Content-Type": True},
        )
        program.add_resource("policy").add_method(
            "GET",
            integration,
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.CUSTOM,
            request_validator=validator,
            request_parameters=required,
        )
        if config.waf:
            self._waf()
        if config.domain_name and config.certificate_arn:
            self.domain = self.api.add_domain_name(
                "Domain",
                domain_name=config.domain_name,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", config.certificate_arn
                ),
                security_policy=apigw.SecurityPolicy.TLS_1_2,
                endpoint_type=apigw.EndpointType.REGIONAL,
            )
        cloudwatch_role = self.api.node.try_find_child("CloudWatchRole")
        if cloudwatch_role is not None:
            acknowledge(
                cloudwatch_role,
                "API Gateway's account-level logging role uses the AWS managed "
                "AmazonAPIGatewayPushToCloudWatchLogs policy, the documented way to let the "
                "service write execution and access logs.",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "HIPAA.Security-IAMNoInlinePolicy",
            )
        acknowledge(
            self.api,
            "Agents authenticate with per-agent bearer tokens checked by a Lambda REQUEST "
            "authorizer (hashed, program-scoped, revocable); there are no end-user identities "
            "for a Cognito pool.",
            "AwsSolutions-COG4",
        )
        # the Lambda permissions CDK adds for the methods (under the API) and the authorizer
        for invoked in (self.api, self.authorizer_fn):
            acknowledge_guard(
                invoked, INVOKED_BY_THIS_API, "lambda_function_public_access_prohibited_check"
            )
        acknowledge(self.api, NO_CACHE, "HIPAA.Security-APIGWCacheEnabledAndEncrypted")
        skip_checkov(self.api.deployment_stage, "CKV_AWS_120", NO_CACHE)
        acknowledge(
            self.api,
            "Agents are public endpoints without client certificates; the backend is Lambda "
            "(proxy), which API Gateway reaches over AWS's network, not an HTTP backend.",
            "HIPAA.Security-APIGWSSLEnabled",
        )
        if not config.waf:
            acknowledge(
                self.api,
                "WAF is opt-in (context ilake:waf=true): stage and method throttling plus the "
                "authorizer bound abuse by default; the rate-based WebACL costs per month.",
                "AwsSolutions-APIG3",
            )

    def _function(
        self,
        construct_id: str,
        *,
        handler: str,
        environment: dict[str, str],
        memory: int,
        timeout: Duration,
        concurrency: int | None,
    ) -> lambda_.Function:
        function, self.log_groups[construct_id] = self._runtime.function(
            self,
            construct_id,
            handler=handler,
            environment=environment,
            memory=memory,
            timeout=timeout,
            concurrency=concurrency,
            no_dlq=NO_DLQ,
            no_reservation=NO_RESERVATION,
        )
        acknowledge_guard(function, NO_VPC, "lambda_inside_vpc_check")
        return function

    def _grant(
        self, lake: s3.IBucket, keys: dict[str, ProgramKey], tables: RuntimeTables, region: str
    ) -> None:
        ingest = self.ingest.role
        assert ingest is not None
        ingest.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[lake.arn_for_objects(f"{program_prefix(name)}*") for name in keys],
            )
        )
        for key in keys.values():
            key.grant_lake_write(ingest, lake.bucket_arn, region)
            key.secret.grant_read(ingest)
            key.key.grant(ingest, "kms:DescribeKey")
        tables.program_state.grant(ingest, "dynamodb:GetItem")
        tables.idempotency.grant(
            ingest,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        ingest.add_to_principal_policy(
            iam.PolicyStatement(
                # look up a batch's texts, and release a common one (a conditional update);
                # only items of the declared programs
                actions=["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[tables.common_texts.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": sorted(keys)}},
            )
        )
        tables.key.grant(
            ingest, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"
        )
        authorizer = self.authorizer_fn.role
        assert authorizer is not None
        tables.agents.grant(authorizer, "dynamodb:GetItem")
        tables.key.grant_decrypt(authorizer)
        stack = Stack.of(self)
        lake_id = stack.resolve(stack.get_logical_id(lake.node.default_child))  # type: ignore[arg-type]
        acknowledge(
            ingest,
            "PutObject on each program's own prefix (interactions/program=<p>/*) only: object "
            "names are batch ids known at request time, and the bucket policy pins each prefix "
            "to its program's KMS key.",
            *(
                f"AwsSolutions-IAM5[Resource::<{lake_id}.Arn>/{program_prefix(name)}*]"
                for name in keys
            ),
        )
        for role in (ingest, authorizer):
            acknowledge(
                role,
                "CDK attaches each role's least-privilege grants as one policy of its own "
                "(AWS::IAM::Policy), generated from the grants above and reviewed with the "
                "template; nothing else shares it.",
                "HIPAA.Security-IAMNoInlinePolicy",
            )

    def _waf(self) -> None:
        """A rate-based rule per client IP. WAF logging stays off: its records carry the full
        request headers, bearer tokens included."""
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name="interaction-lake",
                sampled_requests_enabled=False,  # sampled requests would hold submitted content
            ),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=2000
                        )
                    ),
                    visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                        cloud_watch_metrics_enabled=True,
                        metric_name="rate-per-ip",
                        sampled_requests_enabled=False,
                    ),
                )
            ],
        )
        acknowledge(
            acl,
            "WAF log records carry full request headers, the agents' bearer tokens included; "
            "the API's own access logs record each request without them.",
            "HIPAA.Security-WAFv2LoggingEnabled",
        )
        skip_checkov(
            acl,
            "CKV_AWS_192",
            "No Java runs behind the API (Python Lambdas), so Log4j lookups reach nothing; the "
            "WebACL is a per-IP rate limit, and batches arrive gzip-compressed, which body rules "
            "cannot read.",
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
