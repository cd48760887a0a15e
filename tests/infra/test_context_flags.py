"""Context flags reach the app however they are set: cdk.json, or `-c` on the CDK command line.

The CDK CLI hands the app its context (cdk.json plus every `-c name=value`) in CDK_CONTEXT_JSON;
the app must read its flags back from its node, where the CLI's values win over the ones it
loaded from cdk.json itself, or `cdk deploy -c ilake:destroyData=true` would deploy the default.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from typing import Any

import aws_cdk as cdk
import pytest

import app as cdk_app
from infra.config import CONTEXT_KEYS, ROOT, AppConfig, app_context


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[AppConfig]:
    """build_app without the stack: the configurations it would build the stack from."""
    configs: list[AppConfig] = []

    def stack(scope: Any, stack_id: str, *, config: AppConfig) -> None:
        configs.append(config)

    monkeypatch.setattr(cdk_app, "InteractionLakeStack", stack)
    return configs


# Run in a process of its own: the CLI sets CDK_CONTEXT_JSON before the app starts, and CDK
# (in its jsii process, started with this one's environment) reads it only then.
_BUILD = """
import json, app
configs = []
app.InteractionLakeStack = lambda scope, stack_id, *, config: configs.append(config)
app.build_app()
(config,) = configs
print(json.dumps([config.destroy_data, config.waf, config.log_retention_days]))
"""


def test_a_flag_on_the_cdk_command_line_wins_over_cdk_json() -> None:
    cli = {"ilake:destroyData": "true", "ilake:waf": True, "ilake:logRetentionDays": "365"}
    environment = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(cli)}

    done = subprocess.run(
        [sys.executable, "-c", _BUILD],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert json.loads(done.stdout.splitlines()[-1]) == [True, True, 365]


def test_without_the_command_line_cdk_json_decides(
    monkeypatch: pytest.MonkeyPatch, built: list[AppConfig]
) -> None:
    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)

    cdk_app.build_app()

    (config,) = built
    assert config.destroy_data is False  # cdk.json: data is retained
    assert config.programs  # programs/ as cdk.json names it


def test_app_context_reads_every_declared_flag_and_nothing_else() -> None:
    context = {key: f"value of {key}" for key in CONTEXT_KEYS} | {"other:flag": "x"}

    assert app_context(cdk.App(context=context).node) == {k: f"value of {k}" for k in CONTEXT_KEYS}


def test_every_flag_read_is_declared_and_documented() -> None:
    read = set(re.findall(r'"(ilake:\w+)"', inspect.getsource(AppConfig.from_context)))
    flags_doc = (ROOT / "docs" / "deploying.md").read_text()

    assert read == set(CONTEXT_KEYS)
    assert [key for key in CONTEXT_KEYS if f"`{key}`" not in flags_doc] == []
