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


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_cifar.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
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
    assert "LR finder: suggestion" in out
    assert "Done: val_acc=" in out and "after 8 steps" in out
    assert f"tensorboard --logdir {tmp_path / 'runs'}" in out
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged: set[str] = set()
    for events_file in (tmp_path / "runs").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events_file))
        accumulator.Reload()
        logged |= set(accumulator.Tags()["scalars"]) | set(accumulator.Tags()["images"])
    assert {"lr-SGD/pg1", "lr-SGD/pg1-momentum", "loss/train", "lr_finder/loss"} <= logged
    assert {"lightning_lr/planned_schedule/OneCycle", "lightning_lr/lr_finder"} <= logged


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
    assert "FALLING BACK to built-in CIFAR-shaped data" in done.stdout
    assert "built-in CIFAR-shaped data (not CIFAR-10): 500 train / 125 test images" in done.stdout
    assert "Done: val_acc=" in done.stdout


def test_train_cifar_refuses_a_max_steps_too_short_for_the_schedule(tmp_path: Path) -> None:
    done = run_example("--max-steps", "3", "--no-download", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "--max-steps must be at least 8" in done.stderr
