"""`npx aws-cdk@2 synth` and `python app.py` give the same template (both read cdk.json)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.synth import Synth

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def test_cdk_cli_synth_equals_python_app(synth: Synth, tmp_path: Path) -> None:
    npx = shutil.which("npx")
    assert npx, "Node.js (npx) is required: the CDK CLI is how the stack is deployed"
    subprocess.run(
        [npx, "--yes", "aws-cdk@2", "synth", "--quiet", "--output", str(tmp_path / "cli.out")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        timeout=600,
    )
    cli = json.loads((tmp_path / "cli.out" / "InteractionLake.template.json").read_text())
    assert cli == synth.template
