"""The Lambdas' dependency layer (pyarrow, msgspec, Powertools), built without Docker.

Local bundling runs pip for the Lambda platform (manylinux_2_28 wheels for the function's
architecture and Python version) and strips what Lambda never imports. The built layer is cached
per requirements hash so repeated synths (tests) pay for pip once. The Docker image and command
stay as the fallback for machines where local bundling is not possible.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REQUIREMENTS = Path(__file__).parent / "layer" / "requirements.txt"
CACHE = Path.home() / ".cache" / "interaction-lake" / "layers"
# What Lambda never imports: C headers, Cython sources, tests, console scripts, the SDK that the
# runtime already has.
STRIP_DIRS = ("include", "tests", "test", "__pycache__", "bin")
STRIP_TOP = ("boto3", "botocore", "s3transfer")
STRIP_SUFFIXES = (".pyx", ".pxd", ".pxi", ".h", ".hpp", ".cc")
# phonenumbers' place names, carriers and time zones (40 MB): the redactor only validates numbers
STRIP_DATA = ("phonenumbers/geodata", "phonenumbers/carrierdata", "phonenumbers/tzdata")


def pip_platform(architecture: lambda_.Architecture) -> str:
    return (
        "manylinux_2_28_aarch64"
        if architecture == lambda_.Architecture.ARM_64
        else ("manylinux_2_28_x86_64")
    )


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    def __init__(self, *, platform: str, python_version: str) -> None:
        self.platform = platform
        self.python_version = python_version

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        requirements = REQUIREMENTS.read_bytes()
        digest = hashlib.sha256(
            requirements + f"{self.platform}/{self.python_version}".encode()
        ).hexdigest()[:16]
        cached = CACHE / digest
        if not (cached / "python").is_dir():
            staging = CACHE / f"{digest}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
            target = ["--target", str(staging / "python"), "-r", str(REQUIREMENTS)]
            platform = [
                "--only-binary=:all:",
                "--platform",
                self.platform,
                "--implementation",
                "cp",
                "--python-version",
                self.python_version,
            ]
            subprocess.run([*pip, *target, *platform], check=True)  # noqa: S603 - fixed argv
            strip(staging / "python")
            shutil.rmtree(cached, ignore_errors=True)
            staging.rename(cached)
        shutil.copytree(cached / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True


def strip(site: Path) -> None:
    for name in (*STRIP_TOP, *STRIP_DATA):
        shutil.rmtree(site / name, ignore_errors=True)
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in STRIP_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in STRIP_SUFFIXES:
            path.unlink()


def unzipped_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


class RuntimeLayer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
    ) -> None:
        super().__init__(scope, construct_id)
        python_version = runtime.name.removeprefix("python")
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description="pyarrow, msgspec, phonenumbers, powertools for Interaction Lake",
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            code=lambda_.Code.from_asset(
                str(REQUIREMENTS.parent),
                bundling=BundlingOptions(
                    image=runtime.bundling_image,
                    command=[
                        "bash",
                        "-c",
                        "pip install --no-compile -r requirements.txt -t /asset-output/python && "
                        "rm -rf /asset-output/python/boto3 /asset-output/python/botocore "
                        + " ".join(f"/asset-output/python/{data}" for data in STRIP_DATA),
                    ],
                    local=PipLocalBundling(
                        platform=pip_platform(architecture), python_version=python_version
                    ),
                ),
            ),
        )
