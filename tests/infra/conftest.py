"""One synthesized app per test session (each synth, cdk-nag and Control Tower's Guard rules
included, costs ~10-30 s and ~600 MB-1 GB)."""

from __future__ import annotations

import pytest

from tests.support.synth import Synth, synthesize


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app exactly as `cdk synth` builds it from cdk.json (RETAIN, no WAF)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def opted_in(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The second synth: every opt-in flag on (destroy data, WAF, custom domain, logs kept a
    year)."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.opted-in"),
        {
            "ilake:destroyData": True,
            "ilake:waf": True,
            "ilake:logRetentionDays": 365,
            "ilake:domainName": "ingest.example.com",
            "ilake:certificateArn": (
                "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-4000-8000-000000000000"
            ),
        },
    )
