"""The Lambdas' dependency layer (pyarrow, msgspec, Powertools), built without Docker.

Local bundling runs pip for the Lambda platform (manylinux_2_28 wheels for the function's
architecture and Python version) and strips what Lambda never imports. The built layer is cached
per requirements hash so repeated synths (tests) pay for pip once. The Docker image and command
stay as the fallback for machines where local bundling is not possible.

Nothing here can import the layer (this machine's Python is not the functions'), so every
bundle is checked by its wheels' own tags instead: each distribution must carry a tag that the
functions' Python and machine accept, or synth stops naming it (docs/deploying.md#runtime).
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


# Lambda's architecture name -> the machine in a wheel's platform tag
WHEEL_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# The glibc the layer's wheels may need: manylinux_2_28 (Lambda's Amazon Linux 2023 has 2.34);
# pyarrow 26 ships only manylinux_2_28 wheels
MANYLINUX = (2, 28)
# The legacy manylinux names and the glibc they stand for (PEP 600)
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def pip_platform(architecture: lambda_.Architecture) -> str:
    """pip's --platform for `architecture`, by name: jsii hands out a new object for every
    `Architecture.ARM_64`, so comparing the objects themselves never matches."""
    major, minor = MANYLINUX
    return f"manylinux_{major}_{minor}_{WHEEL_MACHINES[architecture.name]}"


def supports(tag: str, *, python_version: str, platform: str) -> bool:
    """Whether a wheel tag (`interpreter-abi-platform`) runs on CPython `python_version` on
    `platform` (a manylinux_X_Y_<machine> tag): pure Python 3, CPython of exactly that version,
    or the stable ABI (abi3) of that version or an older one; any platform, or a manylinux one
    for the same machine needing no newer glibc."""
    interpreter, abi, wheel_platform = tag.split("-")
    major, minor = (int(part) for part in python_version.split("."))
    if not _runs_on_platform(wheel_platform, platform):
        return False
    if abi == "none" and interpreter in ("py3", f"py{major}{minor}"):
        return True
    cpython = f"cp{major}{minor}"
    if abi == "abi3" and interpreter.startswith(f"cp{major}"):
        return interpreter[3:].isdigit() and int(interpreter[3:]) <= minor
    return interpreter == cpython and abi in (cpython, "none")


def _runs_on_platform(wheel_platform: str, platform: str) -> bool:
    if wheel_platform == "any":
        return True
    _, glibc_major, glibc_minor, machine = platform.split("_", 3)
    glibc = (int(glibc_major), int(glibc_minor))
    for legacy, needs in LEGACY_MANYLINUX.items():
        if wheel_platform == f"{legacy}_{machine}":
            return needs <= glibc
    name, _, rest = wheel_platform.partition("_")
    needs_major, _, rest = rest.partition("_")
    needs_minor, _, wheel_machine = rest.partition("_")
    if name != "manylinux" or wheel_machine != machine:
        return False
    if not (needs_major.isdigit() and needs_minor.isdigit()):
        return False
    return (int(needs_major), int(needs_minor)) <= glibc


def wheel_tags(dist_info: Path) -> list[str]:
    """The `Tag:` lines of an installed distribution's WHEEL file (none if it has no file)."""
    wheel = dist_info / "WHEEL"
    if not wheel.is_file():
        return []
    return [
        line.partition(":")[2].strip()
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag:")
    ]


def unsupported_distributions(
    site: Path, *, python_version: str, platform: str
) -> dict[str, list[str]]:
    """Every distribution installed in `site` that no tag of its wheel lets run on the
    functions' Python and platform: its dist-info directory's name -> its tags (an empty list
    when it has no WHEEL file, i.e. it was not installed from a wheel)."""
    tags = {dist_info.name: wheel_tags(dist_info) for dist_info in sorted(site.glob("*.dist-info"))}
    return {
        name: its_tags
        for name, its_tags in tags.items()
        if not any(
            supports(tag, python_version=python_version, platform=platform) for tag in its_tags
        )
    }


class LayerMismatch(Exception):
    """The layer holds a build the functions cannot load (the message names it)."""


def check_layer(site: Path, *, python_version: str, platform: str) -> None:
    """Raise LayerMismatch naming every distribution in `site` built for another Python or
    machine than the functions'."""
    if not list(site.glob("*.dist-info")):
        raise LayerMismatch(f"the layer at {site} holds no distribution")
    wrong = unsupported_distributions(site, python_version=python_version, platform=platform)
    if wrong:
        named = "; ".join(
            f"{name} ({', '.join(tags) or 'no WHEEL file'})" for name, tags in wrong.items()
        )
        raise LayerMismatch(
            f"the layer holds builds that python{python_version} on {platform} cannot load: {named}"
        )


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    def __init__(self, *, platform: str, python_version: str) -> None:
        self.platform = platform
        self.python_version = python_version

    def cached(self) -> Path:
        """Where the layer built from these requirements for this platform and Python is kept."""
        key = REQUIREMENTS.read_bytes() + f"{self.platform}/{self.python_version}".encode()
        return CACHE / hashlib.sha256(key).hexdigest()[:16]

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        cached = self.cached()
        if not (cached / "python").is_dir():
            staging = cached.with_name(f"{cached.name}.partial")
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
        check_layer(cached / "python", python_version=self.python_version, platform=self.platform)
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
