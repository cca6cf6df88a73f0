"""benchmarks/gpu.sh and gpu_check.py: the script parses, its parsers read what the example prints, and the
FSDP part runs on the CPU (``--dry-run``: there FSDP is refused and the refusal is recorded)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL = ROOT / "benchmarks" / "gpu.sh"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shell_script_syntax() -> None:
    subprocess.run(["bash", "-n", str(SHELL)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(SHELL)], check=True)


def test_parse_throughput_reads_the_example_output() -> None:
    text = (
        "Device: GPU NVIDIA H200, precision bf16-mixed, batch size 512, schedule onecycle\n"
        "Data: built-in CIFAR-shaped data: 10,000 train / 2,000 test images\n"
        "Done: val_acc=0.5000 after 80 steps; 41,234 training images/s, 0.24 s per epoch\n"
    )
    parsed = load().parse_throughput(text)
    assert parsed == {
        "images_per_s": 41234.0,
        "s_per_epoch": 0.24,
        "device": "GPU NVIDIA H200",
        "precision": "bf16-mixed",
        "batch_size": 512,
        "data": "built-in CIFAR-shaped data: 10,000 train / 2,000 test images",
    }
    assert load().parse_throughput("crashed")["images_per_s"] is None


@pytest.mark.slow
def test_dry_run_of_the_fsdp_part_records_the_refusal(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        ["bash", str(SHELL), "--dry-run", "--parts", "fsdp", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu.json").read_text())
    fsdp = result["fsdp"]
    assert result["dry_run"] and fsdp["accelerator"] == "cpu"
    assert fsdp["single_error"] is None  # the single-device run with OneCycle trained
    assert "requires a GPU accelerator" in fsdp["fsdp_error"]
    page = (tmp_path / "gpu.md").read_text()
    assert "CPU dry run" in page and "requires a GPU accelerator" in page
