"""One synthesized app per test session (each synth costs ~6 s and ~570 MB)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass(frozen=True)
class Synth:
    outdir: Path
    template: dict[str, Any]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == kind}


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synth:
    from app import build_app

    build_app(outdir=str(outdir), context=context).synth()
    template = json.loads((outdir / "InteractionLake.template.json").read_text())
    return Synth(outdir, template)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app exactly as `cdk synth` builds it from cdk.json (RETAIN, no WAF)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def opted_in(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The second synth: every opt-in flag on (destroy data, WAF, custom domain)."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.opted-in"),
        {
            "ilake:destroyData": True,
            "ilake:waf": True,
            "ilake:domainName": "ingest.example.com",
            "ilake:certificateArn": (
                "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-4000-8000-000000000000"
            ),
        },
    )
