"""The dependency layer is built for the functions' runtime: every distribution in the
synthesized layer carries a wheel tag that the functions' Python and machine accept (the tests
run on another Python, so nothing here imports the layer), and the checker refuses wrong builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.function_runtime import ARCHITECTURE, RUNTIME
from infra.runtime_layer import (
    LayerMismatch,
    check_layer,
    pip_platform,
    supports,
    unsupported_distributions,
)
from tests.support.synth import Synth

PYTHON = RUNTIME.name.removeprefix("python")  # "3.14"
PLATFORM = pip_platform(ARCHITECTURE)
CPYTHON = "cp" + PYTHON.replace(".", "")  # "cp314"
COMPILED = ("pyarrow", "msgspec")  # the layer's distributions with C extensions


def layer_site(synth: Synth) -> Path:
    """The synthesized layer's `python/` directory, as the asset CDK uploads."""
    [layer] = synth.resources("AWS::Lambda::LayerVersion").values()
    return synth.outdir / layer["Metadata"]["aws:asset:path"] / "python"


def plant(site: Path, name: str, *tags: str) -> None:
    dist_info = site / f"{name}.dist-info"
    dist_info.mkdir(parents=True)
    lines = ["Wheel-Version: 1.0", "Root-Is-Purelib: false", *(f"Tag: {tag}" for tag in tags)]
    (dist_info / "WHEEL").write_text("\n".join(lines) + "\n")


def test_the_layer_is_built_for_the_functions_machine() -> None:
    assert ARCHITECTURE.name == "arm64"
    assert PLATFORM == "manylinux_2_28_aarch64"


def test_every_distribution_in_the_layer_runs_on_the_functions_runtime(synth: Synth) -> None:
    site = layer_site(synth)
    assert unsupported_distributions(site, python_version=PYTHON, platform=PLATFORM) == {}
    check_layer(site, python_version=PYTHON, platform=PLATFORM)
    machine = PLATFORM.rsplit("_", 1)[1]
    for name in COMPILED:
        [dist_info] = site.glob(f"{name}-*.dist-info")
        tags = (dist_info / "WHEEL").read_text()
        assert f"Tag: {CPYTHON}-{CPYTHON}-" in tags, name
        assert machine in tags, name
        assert list((site / name).rglob(f"*.cpython-{CPYTHON[2:]}-{machine}-linux-gnu.so")), name


def test_the_layer_and_the_functions_name_one_runtime(synth: Synth) -> None:
    [layer] = synth.resources("AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == [RUNTIME.name]
    assert layer["Properties"]["CompatibleArchitectures"] == [ARCHITECTURE.name]
    functions = synth.resources("AWS::Lambda::Function").values()
    ours = [f for f in functions if "Layers" in f["Properties"]]
    assert ours
    for function in ours:
        assert function["Properties"]["Runtime"] == RUNTIME.name
        assert function["Properties"]["Architectures"] == [ARCHITECTURE.name]


def test_a_build_for_another_python_and_machine_is_named(tmp_path: Path) -> None:
    plant(tmp_path, "msgspec-0.22.0", f"{CPYTHON}-{CPYTHON}-manylinux_2_17_aarch64")
    plant(tmp_path, "pyarrow-26.0.1", "cp311-cp311-manylinux_2_17_x86_64")
    plant(tmp_path, "phonenumbers-9.0.43", "py2-none-any", "py3-none-any")
    wrong = unsupported_distributions(tmp_path, python_version=PYTHON, platform=PLATFORM)
    assert wrong == {"pyarrow-26.0.1.dist-info": ["cp311-cp311-manylinux_2_17_x86_64"]}
    with pytest.raises(LayerMismatch, match=r"pyarrow-26\.0\.1\.dist-info \(cp311-cp311-"):
        check_layer(tmp_path, python_version=PYTHON, platform=PLATFORM)


def test_a_distribution_not_installed_from_a_wheel_is_named(tmp_path: Path) -> None:
    (tmp_path / "legacy-1.0.dist-info").mkdir()
    with pytest.raises(LayerMismatch, match=r"legacy-1\.0\.dist-info \(no WHEEL file\)"):
        check_layer(tmp_path, python_version=PYTHON, platform=PLATFORM)


def test_an_empty_layer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LayerMismatch, match="no distribution"):
        check_layer(tmp_path, python_version="3.14", platform="manylinux_2_28_aarch64")


@pytest.mark.parametrize(
    ("tag", "runs"),
    [
        ("py3-none-any", True),
        ("py314-none-any", True),
        ("py2-none-any", False),
        ("cp314-cp314-manylinux_2_28_aarch64", True),
        ("cp314-cp314-manylinux_2_17_aarch64", True),
        ("cp314-cp314-manylinux2014_aarch64", True),
        ("cp312-abi3-manylinux_2_17_aarch64", True),  # the stable ABI of an older Python
        ("cp315-abi3-manylinux_2_17_aarch64", False),
        ("cp313-cp313-manylinux_2_28_aarch64", False),
        ("cp314-cp314t-manylinux_2_28_aarch64", False),  # the free-threaded build
        ("cp314-cp314-manylinux_2_34_aarch64", False),  # needs a newer glibc than 2.28
        ("cp314-cp314-manylinux_2_28_x86_64", False),
        ("cp314-cp314-musllinux_1_2_aarch64", False),
        ("cp314-cp314-linux_aarch64", False),
        ("cp314-cp314-macosx_11_0_arm64", False),
    ],
)
def test_which_tags_the_runtime_accepts(tag: str, runs: bool) -> None:
    assert supports(tag, python_version="3.14", platform="manylinux_2_28_aarch64") is runs


def test_an_x86_64_runtime_accepts_x86_64_builds_only() -> None:
    tag = "cp314-cp314-manylinux_2_28_x86_64"
    assert supports(tag, python_version="3.14", platform="manylinux_2_28_x86_64")
    assert not supports(tag, python_version="3.14", platform="manylinux_2_28_aarch64")


def test_bundling_refuses_a_cached_layer_built_for_another_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check runs on every bundle, a cached one included: synth stops, naming the build."""
    from infra import runtime_layer

    monkeypatch.setattr(runtime_layer, "CACHE", tmp_path / "cache")
    bundling = runtime_layer.PipLocalBundling(platform=PLATFORM, python_version=PYTHON)
    wrong = f"{CPYTHON}-{CPYTHON}-manylinux_2_28_x86_64"
    plant(bundling.cached() / "python", "msgspec-0.22.0", wrong)
    with pytest.raises(LayerMismatch, match=r"msgspec-0\.22\.0\.dist-info"):
        bundling.try_bundle(str(tmp_path / "out"))
    assert not (tmp_path / "out" / "python").exists()
