#!/usr/bin/env python3
"""Prove that `sam build` produced arm64 artifacts: run after `make sam-build`.

Checks, on .aws-sam/build (the built template and every built function and layer folder):

1. every function's effective Architectures (its own, else Globals) is exactly [arm64] and its
   Runtime is python3.13; every layer is CompatibleArchitectures [arm64] and built with
   Metadata BuildArchitecture arm64 (what makes `sam build` ask pip for aarch64 wheels);
2. no native binary for another machine: every ELF file (.so or executable) must be EM_AARCH64;
   Mach-O and PE files are rejected outright;
3. every installed distribution's WHEEL tags are pure (``-none-any``) or aarch64 Linux;
4. nothing the Lambda runtime or the managed Powertools layer already provides is bundled in
   the shared layer (boto3, botocore, aws_xray_sdk, aws_lambda_powertools, s3transfer);
5. the shared layer's unzipped size stays within a budget (default 10 MiB; Lambda's limit is
   250 MiB for a function plus all its layers, the managed Powertools layer included).

Exit status 1 with one line per problem; prints a summary otherwise.
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / ".aws-sam" / "build"

EM_X86_64 = 62
EM_AARCH64 = 183
ELF_MACHINES = {3: "i386", 40: "arm", EM_X86_64: "x86_64", EM_AARCH64: "aarch64"}
MACHO_MAGICS = {
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
}
FORBIDDEN_IN_LAYER = ("boto3", "botocore", "s3transfer", "aws_xray_sdk", "aws_lambda_powertools")
ARM64_PLATFORM_MARKERS = ("aarch64", "arm64")
DEFAULT_LAYER_BUDGET_MIB = 10.0


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elf_files: int = 0
    wheels: int = 0

    def fail(self, message: str) -> None:
        self.problems.append(message)


# ---------------------------------------------------------------- binaries
def elf_machine(header: bytes) -> int | None:
    """The e_machine of an ELF header, or None if these bytes are not ELF."""
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byte_order = "<" if header[5] == 1 else ">"  # EI_DATA: 1 little-endian, 2 big-endian
    (machine,) = struct.unpack(byte_order + "H", header[18:20])
    return int(machine)


def classify_binary(path: Path) -> tuple[str, str | None]:
    """('elf', machine name) / ('macho', None) / ('pe', None) / ('other', None)."""
    with path.open("rb") as stream:
        header = stream.read(64)
    machine = elf_machine(header)
    if machine is not None:
        return "elf", ELF_MACHINES.get(machine, f"e_machine={machine}")
    if header[:4] in MACHO_MAGICS:
        return "macho", None
    if header[:2] == b"MZ":
        return "pe", None
    return "other", None


def scan_binaries(folder: Path, report: Report) -> None:
    for path in _files(folder):
        kind, machine = classify_binary(path)
        if kind == "elf":
            report.elf_files += 1
            if machine != "aarch64":
                report.fail(f"{path.relative_to(folder.parent)}: ELF for {machine}, not aarch64")
        elif kind in ("macho", "pe"):
            report.fail(f"{path.relative_to(folder.parent)}: {kind} binary cannot run on Lambda")


# ---------------------------------------------------------------- wheels
def wheel_tags(wheel_file: Path) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in wheel_file.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("Tag:")
    ]


def tag_is_arm64_compatible(tag: str) -> bool:
    """py3-none-any, cp313-cp313-manylinux_2_17_aarch64, ... (platform is the last part)."""
    platform = tag.rsplit("-", 1)[-1]
    if platform == "any":
        return True
    return platform.startswith(("manylinux", "musllinux", "linux")) and any(
        marker in platform for marker in ARM64_PLATFORM_MARKERS
    )


def scan_wheels(folder: Path, report: Report) -> None:
    for wheel_file in folder.rglob("*.dist-info/WHEEL"):
        report.wheels += 1
        for tag in wheel_tags(wheel_file):
            if not tag_is_arm64_compatible(tag):
                report.fail(f"{wheel_file.parent.name}: wheel tag {tag} is not pure or aarch64")


# ---------------------------------------------------------------- template
def load_built_template(build_dir: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((build_dir / "template.yaml").read_text(encoding="utf-8"))
    try:
        from billing_local.cfn.language_extensions import expand
    except ImportError:  # pragma: no cover - the venv installs billing_local
        return dict(template)
    return expand(template)


def check_template(
    template: dict[str, Any], build_dir: Path, report: Report
) -> tuple[list[Path], list[Path]]:
    """Architecture/runtime of every function and layer; returns (function dirs, layer dirs)."""
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    function_dirs: list[Path] = []
    layer_dirs: list[Path] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        properties = resource.get("Properties") or {}
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            architectures = properties.get("Architectures", globals_fn.get("Architectures"))
            runtime = properties.get("Runtime", globals_fn.get("Runtime"))
            if architectures != ["arm64"]:
                report.fail(f"{logical_id}: Architectures {architectures!r}, expected ['arm64']")
            if runtime != "python3.13":
                report.fail(f"{logical_id}: Runtime {runtime!r}, expected python3.13")
            code = properties.get("CodeUri")
            if isinstance(code, str):
                function_dirs.append(build_dir / code)
        elif kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            if properties.get("CompatibleArchitectures") != ["arm64"]:
                report.fail(
                    f"{logical_id}: CompatibleArchitectures {properties.get('CompatibleArchitectures')!r}"
                )
            if (resource.get("Metadata") or {}).get("BuildArchitecture") != "arm64":
                report.fail(f"{logical_id}: Metadata.BuildArchitecture must be arm64 (pip: aarch64 wheels)")
            content = properties.get("ContentUri")
            if isinstance(content, str):
                layer_dirs.append(build_dir / content)
    for folder in [*function_dirs, *layer_dirs]:
        if not folder.is_dir():
            report.fail(f"{folder}: built artifact folder missing (run `make sam-build`)")
    return function_dirs, layer_dirs


def check_layer_contents(layer_dir: Path, budget_mib: float, report: Report) -> int:
    python_dir = layer_dir / "python"
    if not python_dir.is_dir():
        report.fail(f"{layer_dir.name}: no python/ folder: Lambda would not put the layer on sys.path")
    for name in FORBIDDEN_IN_LAYER:
        if (python_dir / name).exists():
            report.fail(
                f"{layer_dir.name}: bundles {name}, which the runtime or the Powertools layer provides"
            )
    size = sum(path.stat().st_size for path in _files(layer_dir))
    if size > budget_mib * 1024 * 1024:
        report.fail(f"{layer_dir.name}: {size / 1024 / 1024:.1f} MiB unzipped, budget {budget_mib} MiB")
    return size


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def check(build_dir: Path = BUILD_DIR, layer_budget_mib: float = DEFAULT_LAYER_BUDGET_MIB) -> Report:
    report = Report()
    if not (build_dir / "template.yaml").is_file():
        report.fail(f"{build_dir}/template.yaml missing: run `make sam-build` first")
        return report
    template = load_built_template(build_dir)
    function_dirs, layer_dirs = check_template(template, build_dir, report)
    if not layer_dirs:
        report.fail("no layer in the built template")
    for folder in _existing([*function_dirs, *layer_dirs]):
        scan_binaries(folder, report)
        scan_wheels(folder, report)
    for layer_dir in _existing(layer_dirs):
        size = check_layer_contents(layer_dir, layer_budget_mib, report)
        report.notes.append(
            f"{layer_dir.name}: {size / 1024 / 1024:.2f} MiB unzipped (budget {layer_budget_mib} MiB)"
        )
    report.notes.insert(
        0, f"{len(function_dirs)} functions and {len(layer_dirs)} layer(s): arm64, python3.13"
    )
    return report


def _existing(folders: Iterable[Path]) -> list[Path]:
    return [folder for folder in folders if folder.is_dir()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prove the sam build output targets arm64.")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument("--layer-budget-mib", type=float, default=DEFAULT_LAYER_BUDGET_MIB)
    args = parser.parse_args(argv)
    report = check(args.build_dir, args.layer_budget_mib)
    if report.problems:
        for problem in report.problems:
            print(f"check_build: {problem}", file=sys.stderr)
        return 1
    for note in report.notes:
        print(f"check_build: {note}")
    print(
        f"check_build: {report.elf_files} native (ELF) files, all aarch64; "
        f"{report.wheels} installed distributions, all pure or aarch64 wheels"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
