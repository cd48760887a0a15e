"""The Lambdas' code asset: the server package, the program files and the contract, built without
Docker.

The contract (`ilake_contract`) lives in its own distribution under contract/, so the asset is
bundled rather than cut out of the repository: local bundling copies each tree to the top of the
asset, where the handlers import it from /var/task. The asset hash is the hash of that output,
so it changes when any of the copied code does, and only then. The Docker image and command stay
as the fallback for machines where local bundling is not possible.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[1]
# Where each top-level entry of the asset comes from, relative to the repository root.
TREES: dict[str, str] = {
    "lambdas": "lambdas",
    "programs": "programs",
    "ilake_contract": "contract/ilake_contract",
}
SKIPPED = ("__pycache__", "*.pyc")


def source_filter(trees: dict[str, str]) -> list[str]:
    """Everything excluded but the trees (gitignore semantics). CDK fingerprints both the source
    and the bundled output with these, so they keep each tree where it comes from in the
    repository and where it lands in the asset."""
    kept: list[str] = []
    for source in (*trees.values(), *trees):
        parts = source.split("/")
        kept += [f"!{'/'.join(parts[: i + 1])}" for i in range(len(parts))]
        kept.append(f"!{source}/**")
    return ["*", ".*", *dict.fromkeys(kept), *(f"**/{pattern}" for pattern in SKIPPED)]


@jsii.implements(ILocalBundling)
class CopyTrees:
    """Copies each source tree to its place at the top of the asset, without bytecode."""

    def __init__(self, root: Path, trees: dict[str, str]) -> None:
        self.root = root
        self.trees = trees

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        for target, source in self.trees.items():
            shutil.copytree(
                self.root / source,
                Path(output_dir) / target,
                ignore=shutil.ignore_patterns(*SKIPPED),
                dirs_exist_ok=True,
            )
        return True


def function_code(
    runtime: lambda_.Runtime, *, root: Path = ROOT, trees: dict[str, str] = TREES
) -> lambda_.Code:
    """One asset for every function of the stack."""
    copies = " && ".join(
        f"cp -r /asset-input/{source} /asset-output/{target}" for target, source in trees.items()
    )
    return lambda_.Code.from_asset(
        str(root),
        exclude=source_filter(trees),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            command=[
                "bash",
                "-c",
                f"{copies} && find /asset-output -name __pycache__ -prune -exec rm -rf {{}} +",
            ],
            local=CopyTrees(root, trees),
        ),
    )
