"""The Lambda layer, the package and the agent extra pin the same versions of what they share."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if match:
            found[match.group(1).split("[")[0].lower()] = match.group(2)
    return found


def test_layer_pins_what_the_package_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = pins(project["dependencies"])
    layer = pins((ROOT / "infra" / "layer" / "requirements.txt").read_text().splitlines())
    assert layer == {name: v for name, v in runtime.items() if name in layer}
    # boto3 and botocore are pinned for local mode and the tests (moto reads their requests);
    # the layer leaves them out: the Lambda runtime provides its own
    assert set(layer) == set(runtime) - {"boto3", "botocore"}


def test_the_agent_gets_the_redactors_phone_plans():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = pins(project["dependencies"])
    agent = pins(project["optional-dependencies"]["agent"])
    assert agent["phonenumbers"] == runtime["phonenumbers"]
