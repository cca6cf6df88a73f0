"""GPU check: the example's throughput, the per-step overhead ratio and FSDP, in one short run.

Run through ``benchmarks/gpu.sh`` (which caps it at 8 minutes). Three parts, each in its own
subprocess so one failure (or a CUDA error) does not take the others down:

* ``throughput``: ``examples/train_cifar.py`` on its built-in CIFAR-shaped data (``--no-download``
  and an empty data directory), the example's GPU defaults (bf16-mixed, channels_last, batch 512,
  LR finder + 1cycle); the images/s and s/epoch it prints (first epoch excluded).
* ``overhead``: ``benchmarks/overhead.py --accelerator cuda``: ``OneCycle`` against PyTorch's
  ``OneCycleLR`` + ``LearningRateMonitor``, median per-step ratio over interleaved rounds.
* ``fsdp``: a tiny model trained with ``OneCycle`` under ``Trainer(accelerator="cuda", devices=1,
  strategy="fsdp")`` and under the default single-device strategy: the LR and momentum of every step
  must be identical. Then ``LRFinder`` under FSDP: it must either work (a suggestion or a reason, and
  ``LRFinder(apply=False)`` must leave training bit-identical to a run without it) or refuse with a
  clear error, which is recorded.

``--dry-run`` (alias ``--cpu``) runs every part on the CPU at tiny sizes to check the script itself
(FSDP is then refused by Lightning, "requires a GPU accelerator", and that refusal is what gets
recorded); it writes ``gpu.md`` and ``gpu.json`` to ``--out`` (a temporary folder unless given),
never to docs/. A real run writes docs/benchmarks/gpu.{md,json}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `python benchmarks/gpu_check.py`: the repository first on sys.path, this folder off it
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import DOCS, REPO, machine, write_results
from benchmarks.pages.gpu import page


# --------------------------------------------------------------------------- parts run in subprocesses
def run_part(name: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run one part; its exit status, wall time and the tail of its output."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as error:
        parts = [
            b.decode(errors="replace") if isinstance(b, bytes) else (b or "") for b in (error.stdout, error.stderr)
        ]
        out, rc = f"{parts[0]}{parts[1]}\nTIMEOUT after {timeout:.0f} s", 124
    wall = time.perf_counter() - start
    print(f"[{name}] rc={rc} in {wall:.1f} s", flush=True)
    return {"rc": rc, "wall_s": round(wall, 1), "command": " ".join(cmd), "output": out}


def parse_throughput(text: str) -> dict[str, Any]:
    """The device, precision, batch size, data and images/s, s/epoch that ``examples/train_cifar.py`` prints."""
    m = re.search(r"([\d,]+) training images/s, ([\d.]+) s per epoch", text)
    d = re.search(r"Device: (.*?), precision (\S+), batch size (\d+)", text)
    data = re.search(r"Data: (.*)", text)
    return {
        "images_per_s": float(m.group(1).replace(",", "")) if m else None,
        "s_per_epoch": float(m.group(2)) if m else None,
        "device": d.group(1) if d else None,
        "precision": d.group(2) if d else None,
        "batch_size": int(d.group(3)) if d else None,
        "data": data.group(1).strip() if data else None,
    }


def throughput(dry: bool, tmp: Path, timeout: float) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "examples/train_cifar.py",
        "--no-download",
        "--data-dir",
        str(tmp / "no-cifar"),
        "--logdir",
        str(tmp / "runs"),
    ]
    tiny = ["--epochs", "1", "--max-steps", "8", "--batch-size", "16", "--builtin-size", "128"]
    cmd += tiny if dry else ["--epochs", "6"]  # the GPU defaults: bf16-mixed, batch 512, finder + 1cycle
    part = run_part("throughput", cmd, timeout)
    part.update(parse_throughput(part["output"]))
    return part


def overhead(dry: bool, tmp: Path, timeout: float) -> dict[str, Any]:
    out = tmp / "overhead"
    cmd = [sys.executable, "benchmarks/overhead.py", "--write", "--out-dir", str(out)]
    cmd += ["--quick", "--accelerator", "cpu"] if dry else ["--accelerator", "cuda", "--pairs", "5", "--steps", "100"]
    part = run_part("overhead", cmd, timeout)
    path = out / "overhead.json"
    if path.is_file():  # one row per param group count
        rows = json.loads(path.read_text())["by_groups"]
        part["ratios"] = {str(r["groups"]): r["ratio"] for r in rows}
        part["ratio_ci95"] = {str(r["groups"]): r["ratio_ci95"] for r in rows}
        part["median_ms_per_step"] = {str(r["groups"]): r["median_ms_per_step"] for r in rows}
    return part


def fsdp(dry: bool, tmp: Path, timeout: float) -> dict[str, Any]:
    result = tmp / "fsdp.json"
    cmd = [sys.executable, str(Path(__file__).relative_to(REPO)), "--part", "fsdp", "--json", str(result)]
    part = run_part("fsdp", [*cmd, "--dry-run"] if dry else cmd, timeout)
    if result.is_file():
        part.update(json.loads(result.read_text()))
    return part


# --------------------------------------------------------------------------- the FSDP part (in its own process)
def regression() -> dict[str, tuple[Any, Any]]:
    """256 random inputs of 16 features; the target a linear function of two of them, plus noise."""
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 16, generator=g)
    y = x[:, :1] - 0.5 * x[:, 1:2] + 0.1 * torch.randn(256, 1, generator=g)
    return {"train": (x, y), "test": (x, y)}


def attempt(what: str, fn: Any) -> tuple[Any, str | None]:
    """``fn()`` and no error, or ``None`` and the error's type and first line (recorded, not hidden)."""
    try:
        return fn(), None
    except Exception as error:
        print(f"{what}: {type(error).__name__}: {error}", flush=True)
        traceback.print_exc()
        return None, f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"


def fsdp_part(accelerator: str) -> dict[str, Any]:
    """``OneCycle`` under FSDP against a single device, then ``LRFinder(apply=False)`` under FSDP."""
    import torch

    from benchmarks.harness import StepValues, Task, models
    from lightning_lr import LRFinder, OneCycle

    task = Task(
        "fsdp",
        "MLP 16-32-1",
        functools.cache(regression),
        lambda: models.mlp(16, 32, 1),
        "SGD momentum 0.9",
        "MSE (score R^2)",
        batch=16,
        epochs=2,
    )

    def train(strategy: str, finder: LRFinder | None = None) -> dict[str, Any]:
        values = StepValues(("lr", "momentum"))
        callbacks = [OneCycle(), values] + ([finder] if finder is not None else [])
        run = task.fit(0.05, 0, callbacks, accelerator=accelerator, strategy=strategy)
        weights = torch.cat([p.detach().float().cpu().reshape(-1) for p in run.module.parameters()])
        return {"values": [step[0] for step in values.steps], "weights": weights}

    out: dict[str, Any] = {"accelerator": accelerator}
    single, out["single_error"] = attempt("single device", lambda: train("auto"))
    sharded, out["fsdp_error"] = attempt("fsdp", lambda: train("fsdp"))
    if single is not None and sharded is not None:
        a, b = single["values"], sharded["values"]
        out["steps"] = len(a)
        out["lrs_identical"] = a == b
        out["max_abs_lr_diff"] = (
            max((abs(p[0] - q[0]) for p, q in zip(a, b)), default=None) if len(a) == len(b) else None
        )
    # LRFinder under FSDP: apply=False must leave training bit-identical to the run without it
    finder = LRFinder(num_training_steps=20, apply=False)
    finder_run, out["finder_error"] = attempt("fsdp + LRFinder", lambda: train("fsdp", finder))
    if finder_run is not None:
        out["finder_suggestion"] = None if finder.result is None else finder.result.suggestion
        out["finder_reason"] = None if finder.result is None else finder.result.reason
        if sharded is not None:
            same = finder_run["values"] == sharded["values"] and torch.equal(finder_run["weights"], sharded["weights"])
            out["finder_restores"] = bool(same)
    return out


# --------------------------------------------------------------------------- report
def machine_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {**machine(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda_version"] = torch.version.cuda
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--dry-run", "--cpu", action="store_true", help="tiny CPU run of every part (checks the script)")
    p.add_argument("--out", type=Path, default=None, help="where gpu.md/gpu.json go (default: docs/benchmarks)")
    p.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="which parts (default all)")
    p.add_argument("--part", choices=["fsdp"], help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.part == "fsdp":
        args.json.write_text(json.dumps(fsdp_part("cpu" if args.dry_run else "cuda"), indent=1))
        return 0
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        p.error("no CUDA device: run with --dry-run to check the script on the CPU")
    out = args.out or (Path(tempfile.mkdtemp(prefix="gpu-check-")) if args.dry_run else DOCS)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {
            "dry_run": args.dry_run,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine_info(),
        }
        for name in args.parts:
            function, timeout = PARTS[name]
            part = function(args.dry_run, Path(tmp), timeout * (4 if args.dry_run else 1))  # the CPU is slower
            part["output_tail"] = part.pop("output")[-3000:]
            result[name] = part
    result["wall_s"] = time.perf_counter() - start
    write_results("gpu", result, page(result), out, allow_nan=True)
    print((out / "gpu.md").read_text())
    print(f"wrote {out / 'gpu.md'} and {out / 'gpu.json'}")
    return 1 if any(result[k]["rc"] != 0 for k in args.parts) else 0


# name -> (function, seconds it may take): the GPU run must stay under 8 minutes in all
PARTS: dict[str, tuple[Any, float]] = {"throughput": (throughput, 180), "overhead": (overhead, 180), "fsdp": (fsdp, 90)}


if __name__ == "__main__":
    raise SystemExit(main())
