"""The function asset is built from the code it ships, and its hash follows that code only."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.function_code import TREES, function_code
from infra.function_runtime import RUNTIME

pytestmark = pytest.mark.infra


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A small stand-in for the repository: each shipped tree, and what must stay out."""
    root = tmp_path / "repo"
    for name, text in {
        "lambdas/__init__.py": "",
        "lambdas/ingest/handler.py": "def handler(event, context): ...\n",
        "programs/menu-navigation.toml": 'name = "menu-navigation"\n',
        "contract/ilake_contract/__init__.py": "",
        "contract/ilake_contract/schema.py": "SCHEMA_MAJOR = 'interaction/1'\n",
        "contract/pyproject.toml": "[project]\n",
        "agent/ilake_agent/policy.py": "",
        "tests/test_x.py": "",
        "README.md": "# read me\n",
        ".venv/lib/site.py": "",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def staged(root: Path, outdir: Path) -> tuple[str, Path]:
    """(the asset's hash, its staged directory), as a synth of a stack using it sees them."""
    from aws_cdk import App, AssetStaging, Stack

    AssetStaging.clear_asset_hash_cache()  # a synth stages each asset once per process
    app = App(outdir=str(outdir))
    config = function_code(RUNTIME, root=root).bind(Stack(app, "Stack"))
    assert config.s3_location is not None
    digest = config.s3_location.object_key.removesuffix(".zip")
    return digest, outdir / f"asset.{digest}"


def test_the_asset_holds_the_three_trees_at_the_top_and_nothing_else(
    repository: Path, tmp_path: Path
) -> None:
    (repository / "lambdas" / "__pycache__").mkdir()
    (repository / "lambdas" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    _, asset = staged(repository, tmp_path / "out")
    assert sorted(p.name for p in asset.iterdir()) == sorted(TREES)
    assert (asset / "ilake_contract" / "schema.py").read_text().startswith("SCHEMA_MAJOR")
    assert (asset / "lambdas" / "ingest" / "handler.py").is_file()
    assert not list(asset.rglob("__pycache__"))


@pytest.mark.parametrize(
    "shipped",
    [
        "contract/ilake_contract/schema.py",
        "lambdas/ingest/handler.py",
        "programs/menu-navigation.toml",
    ],
)
def test_the_hash_changes_with_the_shipped_code(
    repository: Path, tmp_path: Path, shipped: str
) -> None:
    before, _ = staged(repository, tmp_path / "before")
    assert staged(repository, tmp_path / "again")[0] == before  # deterministic
    (repository / shipped).write_text((repository / shipped).read_text() + "# changed\n")
    assert staged(repository, tmp_path / "after")[0] != before


@pytest.mark.parametrize(
    "other",
    ["contract/pyproject.toml", "agent/ilake_agent/policy.py", "tests/test_x.py", "README.md"],
)
def test_the_hash_ignores_the_rest_of_the_repository(
    repository: Path, tmp_path: Path, other: str
) -> None:
    before, _ = staged(repository, tmp_path / "before")
    (repository / other).write_text("changed\n")
    (repository / "lambdas" / "__pycache__").mkdir(exist_ok=True)
    (repository / "lambdas" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\1")
    assert staged(repository, tmp_path / "after")[0] == before
