"""The agent is its own small distribution: `pip install ./contract ./agent` into a fresh venv
brings nothing of the server, and the agent applies a program's policy there exactly as it does
here. A real install from the package index: a failed install fails the test, it never skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ilake_agent.policy import ClientPolicy
from lambdas.core.programs import load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"pyarrow", "boto3", "botocore", "s3transfer", "aws-lambda-powertools", "moto"}
# Run inside the agent's venv with -I: neither the working directory nor PYTHONPATH is on the
# path, so only what the venv installed can be imported.
PROBE = """
import importlib.util, json, sys
from ilake_agent.policy import ClientPolicy
policy = ClientPolicy.from_policy(json.loads(sys.argv[1]))
print(json.dumps({
    "applied": [policy.apply(event) for event in json.loads(sys.argv[2])],
    "importable": sorted(
        name for name in ("lambdas", "ilake", "infra", "pyarrow", "boto3", "botocore")
        if importlib.util.find_spec(name) is not None
    ),
}))
"""


@pytest.fixture(scope="module")
def agent_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the contract and the agent installed from copies of their directories
    (a build writes into its source tree; the repository's stays as it is)."""
    work = tmp_path_factory.mktemp("agent-footprint")
    skipped = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    for package in ("contract", "agent"):
        shutil.copytree(ROOT / package, work / package, ignore=skipped)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, env=env)
    python = work / "venv" / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(work / "contract"), str(work / "agent")],
        check=True,
        cwd=work,
        env=env,
        timeout=600,
    )
    return python


def installed(python: Path) -> set[str]:
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {p["name"].lower().replace("_", "-") for p in json.loads(listing.stdout)}


def events() -> list[dict[str, Any]]:
    """A menu selection whose title names a person, and one from an app every program denies."""
    base = {
        "ts": int(time.time() * 1000) - 60_000,
        "seq": 1,
        "session_id": "session-1",
        "subject": "jdoe",
        "device_id": "LAPTOP-42",
        "display": {"w": 2000, "h": 1000, "scale": 1.0},
    }
    return [
        {
            **base,
            "event_id": str(uuid.uuid4()),
            "type": "menu.select",
            "menu_path": ["File", "Save As"],
            "app": {"name": "Excel", "bundle_id": "com.microsoft.Excel"},
            "window": {"title": "Save As - mail jane.doe@example.com"},
        },
        {
            **base,
            "event_id": str(uuid.uuid4()),
            "type": "window.focus",
            "app": {"name": "Slack", "bundle_id": "com.tinyspeck.slackmacgap"},
            "window": {"title": "general"},
        },
    ]


def test_the_agents_venv_holds_nothing_of_the_server(agent_python: Path) -> None:
    packages = installed(agent_python)
    assert {"ilake-agent", "ilake-contract", "msgspec", "cryptography", "phonenumbers"} <= packages
    assert packages & SERVER_ONLY == set()
    assert "interaction-lake" not in packages


def test_the_installed_agent_applies_a_policy_as_the_source_does(agent_python: Path) -> None:
    policy = load_programs(BUNDLED_PROGRAMS)["menu-navigation"].public_policy()
    sample = events()
    probe = subprocess.run(
        [agent_python, "-I", "-c", PROBE, json.dumps(policy), json.dumps(sample)],
        check=True,
        capture_output=True,
        text=True,
        cwd=agent_python.parents[2],
    )
    answer = json.loads(probe.stdout)
    assert answer["importable"] == []  # no lambdas, ilake, infra, pyarrow or SDK to import
    selected, denied = answer["applied"]
    assert selected is not None
    assert selected["type"] == "menu.select"
    assert "jane.doe@example.com" not in json.dumps(selected)
    assert denied is None  # Slack: denied in every program
    here = ClientPolicy.from_policy(policy)
    assert answer["applied"] == [here.apply(event) for event in sample]


def test_the_agent_distribution_has_its_own_command(agent_python: Path, tmp_path: Path) -> None:
    """`ilake-agent` is installed with the agent alone; without the desktop extra it refuses
    to capture in one line, before any API is asked (the URL names nothing that listens)."""
    command = agent_python.parent / "ilake-agent"
    shown = subprocess.run([command, "--help"], capture_output=True, text=True, check=True)
    assert "{run,pause,resume}" in shown.stdout
    token = tmp_path / "token"
    token.write_text("ilk_" + "t" * 43)
    token.chmod(0o600)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "DISPLAY": ":99"}
    refused = subprocess.run(
        [command, "run", "-p", "menu-navigation", "--token-file", str(token),
         "--api-url", "http://127.0.0.1:9", "--spool-dir", str(tmp_path / "spool")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: cannot capture this desktop: the desktop libraries are not installed: "
        "pip install 'ilake-agent[desktop]'"
    )
    assert not (tmp_path / "spool").exists()
