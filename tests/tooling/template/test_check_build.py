"""scripts/check_build.py: the arm64 proof fails on x86_64 binaries, foreign wheels, bloat, wrong arch."""

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_build", ROOT / "scripts" / "check_build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_build"] = module
    spec.loader.exec_module(module)
    return module


check_build = _load()

BUILT_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Architectures: [{arch}]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: Fn
      Handler: app.handler
  Layer:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: python3.13
      BuildArchitecture: {layer_arch}
    Properties:
      ContentUri: Layer
      CompatibleArchitectures: [{layer_arch}]
"""


def elf(machine: int, little_endian: bool = True) -> bytes:
    order = "<" if little_endian else ">"
    ident = b"\x7fELF" + bytes([2, 1 if little_endian else 2, 1]) + b"\x00" * 9
    return ident + struct.pack(order + "HH", 3, machine) + b"\x00" * 44


def build_dir(tmp_path: Path, arch: str = "arm64", layer_arch: str = "arm64") -> Path:
    (tmp_path / "template.yaml").write_text(BUILT_TEMPLATE.format(arch=arch, layer_arch=layer_arch))
    (tmp_path / "Fn").mkdir()
    (tmp_path / "Fn" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    package = tmp_path / "Layer" / "python" / "tzdata"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    wheel = tmp_path / "Layer" / "python" / "tzdata-2026.6.dist-info"
    wheel.mkdir()
    (wheel / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\n")
    return tmp_path


def test_the_real_build_passes_if_present() -> None:
    if not (check_build.BUILD_DIR / "template.yaml").is_file():
        pytest.skip("no .aws-sam/build yet (make sam-build)")
    report = check_build.check()
    assert report.problems == []


def test_a_clean_arm64_build_passes(tmp_path: Path) -> None:
    report = check_build.check(build_dir(tmp_path))
    assert report.problems == []
    assert report.wheels == 1


def test_aarch64_shared_objects_pass(tmp_path: Path) -> None:
    root = build_dir(tmp_path)
    (root / "Layer" / "python" / "tzdata" / "_speedups.cpython-313-aarch64-linux-gnu.so").write_bytes(
        elf(183)
    )
    report = check_build.check(root)
    assert report.problems == [] and report.elf_files == 1


@pytest.mark.parametrize(("machine", "name"), [(62, "x86_64"), (3, "i386")])
def test_foreign_elf_fails(tmp_path: Path, machine: int, name: str) -> None:
    root = build_dir(tmp_path)
    (root / "Fn" / "native.so").write_bytes(elf(machine))
    problems = check_build.check(root).problems
    assert any(name in problem and "native.so" in problem for problem in problems), problems


def test_big_endian_header_is_read_correctly() -> None:
    assert check_build.elf_machine(elf(62, little_endian=False)) == 62
    assert check_build.elf_machine(b"not an elf at all, no") is None


def test_macho_binaries_fail(tmp_path: Path) -> None:
    root = build_dir(tmp_path)
    (root / "Layer" / "python" / "tzdata" / "lib.so").write_bytes(b"\xcf\xfa\xed\xfe" + b"\x00" * 60)
    assert any("macho" in problem for problem in check_build.check(root).problems)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("py3-none-any", True),
        ("cp313-cp313-manylinux_2_17_aarch64", True),
        ("cp313-cp313-manylinux2014_aarch64", True),
        ("cp313-cp313-musllinux_1_2_aarch64", True),
        ("cp313-cp313-manylinux_2_17_x86_64", False),
        ("cp313-cp313-macosx_11_0_arm64", False),
        ("cp313-cp313-win_amd64", False),
    ],
)
def test_wheel_tags(tag: str, ok: bool) -> None:
    assert check_build.tag_is_arm64_compatible(tag) is ok


def test_an_x86_64_wheel_fails(tmp_path: Path) -> None:
    root = build_dir(tmp_path)
    (root / "Layer" / "python" / "tzdata-2026.6.dist-info" / "WHEEL").write_text(
        "Tag: cp313-cp313-manylinux_2_17_x86_64\n"
    )
    assert any("x86_64" in problem for problem in check_build.check(root).problems)


@pytest.mark.parametrize(
    ("arch", "layer_arch", "who"), [("x86_64", "arm64", "Fn"), ("arm64", "x86_64", "Layer")]
)
def test_wrong_architecture_in_template_fails(tmp_path: Path, arch: str, layer_arch: str, who: str) -> None:
    problems = check_build.check(build_dir(tmp_path, arch, layer_arch)).problems
    assert any(problem.startswith(who) for problem in problems), problems


def test_bundling_boto3_in_the_layer_fails(tmp_path: Path) -> None:
    root = build_dir(tmp_path)
    (root / "Layer" / "python" / "boto3").mkdir()
    assert any("boto3" in problem for problem in check_build.check(root).problems)


def test_layer_budget(tmp_path: Path) -> None:
    root = build_dir(tmp_path)
    (root / "Layer" / "python" / "tzdata" / "blob.bin").write_bytes(b"\x00" * 2 * 1024 * 1024)
    assert check_build.check(root, layer_budget_mib=1).problems
    assert not check_build.check(root, layer_budget_mib=3).problems


def test_missing_build_fails(tmp_path: Path) -> None:
    assert check_build.check(tmp_path).problems
    assert check_build.main(["--build-dir", str(tmp_path)]) == 1
