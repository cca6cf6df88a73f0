"""examples/train_cifar.py runs end to end: on a real-format cifar-10-batches-py copy and offline."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from cifar_data import augment, builtin, find_copy, load  # noqa: E402


def write_cifar_copy(root: Path, per_batch: int = 40, test: int = 40) -> Path:
    """A tiny copy in the standard format: pickled dicts with b'data' (N x 3072 uint8) and b'labels'."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = test if name == "test_batch" else per_batch
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": rng.integers(0, 10, n).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder


def run_example(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_cifar.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def test_reads_the_standard_format(tmp_path: Path) -> None:
    folder = write_cifar_copy(tmp_path)
    assert find_copy(tmp_path) == folder
    data = load(tmp_path, download=False)
    assert data.train_images.shape == (200, 3, 32, 32) and data.test_images.shape == (40, 3, 32, 32)
    with open(folder / "data_batch_2", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # image 0 of batch 2 is image 40 overall; rows are R, G, B planes of 32 x 32
    assert torch.equal(data.train_images[40], torch.as_tensor(raw[b"data"][0]).view(3, 32, 32))
    assert data.train_labels[40].item() == raw[b"labels"][0]


def test_augment_keeps_shape_and_pixels_come_from_the_image() -> None:
    images = builtin(train=8, test=8).train_images.float()
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    # a crop of a reflect-padded image: every output pixel value exists in the source image's channel
    for i in range(4):
        assert set(out[i, 0].unique().tolist()) <= set(images[i, 0].unique().tolist())


def test_train_cifar_on_a_real_format_copy_with_finder_and_tensorboard(tmp_path: Path) -> None:
    write_cifar_copy(tmp_path / "data")
    done = run_example(
        "--data-dir",
        str(tmp_path / "data"),
        "--logdir",
        str(tmp_path / "runs"),
        "--max-steps",
        "8",
        "--batch-size",
        "16",
        "--finder-steps",
        "5",
        "--epochs",
        "1",
        "--no-download",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "CIFAR-10 from" in out and "200 train / 40 test images" in out
    # 5 points are too few for a suggestion; the summary then says why, in the one finder line
    assert "LR finder:   suggested lr=" in out or "LR finder:   no suggestion (" in out
    assert "Validation:  accuracy " in out and "after 8 steps" in out
    assert f"TensorBoard: tensorboard --logdir {tmp_path / 'runs' / 'cifar-onecycle' / 'version_0'}" in out
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged: set[str] = set()
    for events_file in (tmp_path / "runs").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events_file))
        accumulator.Reload()
        logged |= set(accumulator.Tags()["scalars"]) | set(accumulator.Tags()["images"])
    assert {"lr-SGD/pg1", "lr-SGD/pg1-momentum", "loss/train", "lr_finder/loss"} <= logged
    assert {"lightning_lr/planned_schedule/OneCycle", "lightning_lr/lr_finder"} <= logged
    # the LR at every optimizer step (8 here), so the TensorBoard curve is the schedule, not a few samples
    assert logged_steps(tmp_path / "runs", "lr-SGD/pg1") == list(range(8))


def test_train_cifar_offline_falls_back_to_builtin_data_and_says_so(tmp_path: Path) -> None:
    done = run_example(
        "--data-dir",
        str(tmp_path / "none"),
        "--logdir",
        str(tmp_path / "runs"),
        "--max-steps",
        "8",
        "--batch-size",
        "16",
        "--no-find-lr",
        "--no-download",
        "--schedule",
        "cosine",
        "--builtin-size",
        "500",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--no-download was given: FALLING BACK to built-in CIFAR-shaped data" in done.stdout
    assert 'pip install -e ".[cifar]"' in done.stdout  # how to get the real data
    assert "built-in CIFAR-shaped data (not CIFAR-10): 500 train / 125 test images" in done.stdout
    assert "LR finder:   off (--no-find-lr)" in done.stdout and "Validation:  accuracy " in done.stdout


def test_train_cifar_refuses_a_max_steps_too_short_for_the_schedule(tmp_path: Path) -> None:
    done = run_example("--max-steps", "3", "--no-download", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "--max-steps must be at least 8" in done.stderr


def read_events(run_dir: Path) -> tuple[set[str], set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: set[str] = set()
    images: set[str] = set()
    for events_file in run_dir.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events_file), size_guidance={"scalars": 0, "images": 0})
        accumulator.Reload()
        scalars |= set(accumulator.Tags()["scalars"])
        images |= set(accumulator.Tags()["images"])
    return scalars, images


def logged_steps(run_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps: list[int] = []
    for events_file in run_dir.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events_file), size_guidance={"scalars": 0})
        accumulator.Reload()
        if tag in accumulator.Tags()["scalars"]:
            steps += [event.step for event in accumulator.Scalars(tag)]
    return sorted(steps)


def test_cpu_default_runs_end_to_end_and_closes_with_its_summary(tmp_path: Path) -> None:
    """The README's main command on a machine without a GPU: nothing but where to put data and logs."""
    args = ("--data-dir", str(tmp_path / "data"), "--logdir", str(tmp_path / "runs"), "--no-download")
    done = run_example(*args, timeout=1800)  # 2-3 min on 2 idle cores; a generous bound for shared machines
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("Configuration: a CPU-sized run (the full recipe: --full) on a CPU: ResNet-9 at 0.25")
    run_dir = tmp_path / "runs" / "cifar-onecycle" / "version_0"
    summary = out[out.index("\nSummary\n") + 1 :].splitlines()
    assert summary[1] == "  Data:        built-in CIFAR-shaped data (not CIFAR-10): 4,000 train / 1,000 test images"
    assert summary[2].startswith("  LR finder:   suggested lr=") and "(valley rule, 30 points," in summary[2]
    assert summary[2].endswith("OneCycle used it as its peak")
    assert out.count("suggested lr=") == 1  # once, rounded to 3 digits
    lr = summary[2].split("suggested lr=")[1].split(" ")[0]
    assert len(lr.replace(".", "").replace("e-0", "").lstrip("0")) <= 3, lr
    assert summary[3].startswith("  Validation:  accuracy ") and "after 124 steps (4 epochs)" in summary[3]
    accuracy = float(summary[3].split("accuracy ")[1].split(",")[0])
    assert 0.2 < accuracy < 0.99  # learns (chance is 0.1) and the built-in data is not trivial
    assert summary[4].startswith("  Time:        ") and "s per epoch of 31 steps, validation excluded" in summary[4]
    assert summary[5] == f"  Run dir:     {run_dir}"
    assert summary[6] == f"  TensorBoard: tensorboard --logdir {run_dir}"
    assert [line.split(":")[0].strip() for line in summary[7:10]] == ["SCALARS", "IMAGES", "CUSTOM SCALARS"]
    assert "💡" not in out + done.stderr and "GPU available" not in out + done.stderr  # Lightning's chatter is off
    assert "LRFinder: range test of up to 30 steps" in done.stderr  # the start line, then the bar
    scalars, images = read_events(run_dir)
    assert {"lr-SGD/pg1", "lr-SGD/pg1-momentum", "loss/train", "val_acc", "val_loss", "lr_finder/loss"} <= scalars
    assert images == {"lightning_lr/planned_schedule/OneCycle", "lightning_lr/lr_finder"}
    assert logged_steps(run_dir, "lr-SGD/pg1") == list(range(124))  # every optimizer step


def test_builtin_data_is_learnable_but_not_separable_by_its_class_means() -> None:
    """The fallback data teaches something: a nearest-class-mean classifier is far from perfect on it."""
    data = builtin(train=2000, test=500)
    train, test = data.train_images.float().flatten(1), data.test_images.float().flatten(1)
    means = torch.stack([train[data.train_labels == c].mean(0) for c in range(10)])
    accuracy = (torch.cdist(test, means).argmin(1) == data.test_labels).float().mean().item()
    assert 0.1 < accuracy < 0.6, accuracy
