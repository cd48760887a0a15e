"""The three packages, the Lambda layer and requirements.lock pin the same versions of what they
share, and the packages depend on each other at the versions this repository builds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {
    "interaction-lake": ROOT,
    "ilake-contract": ROOT / "contract",
    "ilake-agent": ROOT / "agent",
}


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if match:
            found[match.group(1).split("[")[0].lower()] = match.group(2)
    return found


def project(name: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((LOCAL[name] / "pyproject.toml").read_text())["project"]
    return data


def layer() -> dict[str, str]:
    return pins((ROOT / "infra" / "layer" / "requirements.txt").read_text().splitlines())


def lock() -> dict[str, set[str]]:
    """Every version the lock names per package (markers may split one package in two)."""
    found: dict[str, set[str]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if match:
            found.setdefault(match.group(1).lower(), set()).add(match.group(2))
    return found


def test_the_layer_pins_what_the_server_and_the_contract_run_on():
    server = pins(project("interaction-lake")["dependencies"])
    contract = pins(project("ilake-contract")["dependencies"])
    runtime = {**contract, **server}
    assert layer() == {name: v for name, v in runtime.items() if name in layer()}
    # boto3 and botocore are pinned for local mode and the tests (moto reads their requests);
    # the layer leaves them out: the Lambda runtime provides its own. The contract ships in the
    # function code (infra/function_code.py), not in the layer.
    assert set(layer()) == set(runtime) - {"boto3", "botocore", "ilake-contract"}


def test_shared_libraries_have_one_version_across_the_three_packages():
    versions: dict[str, set[str]] = {}
    for name in LOCAL:
        data = project(name)
        groups = [data["dependencies"], *data.get("optional-dependencies", {}).values()]
        for group in groups:
            for package, version in pins(group).items():
                versions.setdefault(package, set()).add(version)
    assert {p: v for p, v in versions.items() if len(v) > 1} == {}


def test_the_packages_depend_on_the_versions_this_repository_builds():
    server = project("interaction-lake")
    agent = project("ilake-agent")
    contract_version = project("ilake-contract")["version"]
    assert pins(server["dependencies"])["ilake-contract"] == contract_version
    assert pins(agent["dependencies"])["ilake-contract"] == contract_version
    assert pins(server["optional-dependencies"]["local"])["ilake-agent"] == agent["version"]


def test_the_agent_installs_nothing_of_the_server():
    agent = pins(project("ilake-agent")["dependencies"])
    assert set(agent) == {"ilake-contract", "msgspec", "cryptography"}
    assert set(pins(project("ilake-contract")["dependencies"])) == {"msgspec", "phonenumbers"}


def test_the_lock_holds_every_pin_of_the_dev_install_at_its_version():
    locked = lock()
    server = project("interaction-lake")
    wanted: dict[str, str] = {}
    for group in (
        server["dependencies"],
        *server["optional-dependencies"].values(),
        project("ilake-contract")["dependencies"],
        project("ilake-agent")["dependencies"],
    ):
        wanted.update(pins(group))
    for name in LOCAL:
        wanted.pop(name, None)  # installed from this repository, never from an index
        assert name not in locked
    assert {name: {v} for name, v in wanted.items()} == {name: locked.get(name) for name in wanted}
    assert locked["boto3"] == locked["botocore"] == {"1.44.13"}  # moto 5.2.5's Athena


def test_every_locked_package_carries_hashes():
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
    assert unhashed == []
