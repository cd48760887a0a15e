"""cfn-lint and checkov on the synthesized template: zero errors, zero failed checks.

The scanners live in .venv-scan (checkov's pins clash with pytest's); `make test` creates it.
ILAKE_SCAN_BIN points elsewhere if needed. A missing scanner fails the test: it is never skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.synth import Synth

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]
SCAN_BIN = Path(os.environ.get("ILAKE_SCAN_BIN", ROOT / ".venv-scan" / "bin"))


def template(synth: Synth) -> Path:
    return synth.outdir / "InteractionLake.template.json"


def scanner(name: str) -> str:
    path = SCAN_BIN / name
    assert path.exists(), f"{path} is missing: run `make test` (it installs the scanners)"
    return str(path)


# both synths: the opted-in one adds the WAF, the custom domain and CDK's bucket-emptying handler
BOTH = pytest.mark.parametrize("which", ["synth", "opted_in"])


@BOTH
def test_cfn_lint_finds_no_errors(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    result = subprocess.run(
        [scanner("cfn-lint"), "--format", "parseable", str(template(synth))],
        capture_output=True,
        text=True,
        check=False,
    )
    # exit code bits: 2 errors, 4 warnings, 8 informational; only errors fail the build
    assert result.returncode & 2 == 0, result.stdout
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr


@BOTH
def test_checkov_has_no_failed_checks(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    result = subprocess.run(
        [
            scanner("checkov"),
            "-f",
            str(template(synth)),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(result.stdout)
    failed = [
        (c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert report["summary"]["passed"] > 0


@BOTH
def test_every_checkov_skip_carries_a_comment(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    skips = [
        skip
        for resource in synth.template["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for skip in skips:
        assert len(skip["comment"]) >= 30, skip
