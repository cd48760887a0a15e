"""CDK entry point: builds the Interaction Lake stack from the context flags and programs/.

`python app.py` reads cdk.json's context itself, so it synthesizes the same template as the CDK
CLI; flags the CLI passes with `-c name=value` take precedence over cdk.json's.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks

from infra.config import AppConfig, app_context, load_context
from infra.guard_rules import ControlTowerRules
from infra.stack import InteractionLakeStack

# What the CDK CLI adds to the context of every `cdk synth`; set here too so that a plain
# `python app.py` produces the very same template (metadata and API deployment ids included).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}


def build_app(outdir: str | None = None, context: dict[str, object] | None = None) -> cdk.App:
    context = {**CLI_CONTEXT, **load_context(), **(context or {})}
    app = cdk.App(outdir=outdir, context=context)
    config = AppConfig.from_context(app_context(app.node))  # `-c` from the CLI wins
    InteractionLakeStack(app, "InteractionLake", config=config)
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), HIPAASecurityChecks(app), ControlTowerRules()
    )
    return app


if __name__ == "__main__":
    build_app().synth()
