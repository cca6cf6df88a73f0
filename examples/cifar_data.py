"""CIFAR-10 for examples/train_cifar.py: the standard ``cifar-10-batches-py`` copy, or built-in data.

Images are kept as one uint8 tensor on the training device; batches are shuffled, cropped and
flipped there, in torch, so the GPU never waits on Python data loading.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]


@dataclass
class Cifar:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 for train and test, and where they came from."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str


def read_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Read pickled CIFAR batches (``b"data"``: N x 3072 uint8, ``b"labels"``)."""
    images, labels = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images.append(torch.as_tensor(batch[b"data"], dtype=torch.uint8).view(-1, 3, 32, 32))
        labels.append(torch.as_tensor(batch[b"labels"], dtype=torch.int64))
    return torch.cat(images), torch.cat(labels)


def find_copy(data_dir: Path) -> Path | None:
    for candidate in (data_dir / "cifar-10-batches-py", data_dir):
        if all((candidate / name).is_file() for name in [*TRAIN_FILES, "test_batch"]):
            return candidate
    return None


def try_download(data_dir: Path) -> tuple[Path | None, str]:
    """Download with torchvision when it is installed and the network allows it; else ``None`` and why not."""
    try:
        from torchvision.datasets import CIFAR10  # type: ignore[import-not-found]
    except ImportError:
        return None, "torchvision is not installed, so nothing could download it"
    try:
        CIFAR10(str(data_dir), train=True, download=True)
    except Exception as error:  # offline, blocked, ...: fall back to the built-in data
        return None, f"torchvision could not download it ({type(error).__name__}: {error}; no network?)"
    return find_copy(data_dir), ""


BUILTIN_SOURCE = "built-in CIFAR-shaped data (not CIFAR-10)"
BUILTIN_DESCRIPTION = (
    "10 classes, each a smooth random colour pattern; every image is its class's pattern, shifted (anywhere, "
    "wrapping around), maybe mirrored, rescaled in contrast, overlaid with another class's pattern at up to its full "
    "strength and with strong pixel noise, so chance is 10% and no two images are alike. Accuracy on it says how "
    "well the class pattern is picked out from the distractor, nothing about CIFAR-10."
)


def builtin(train: int = 10_000, test: int = 2_000, seed: int = 0) -> Cifar:
    """CIFAR-shaped built-in data that is learnable but not trivial (see ``BUILTIN_DESCRIPTION``).

    Each image: ``c * (pattern[label] + b * pattern[other]) + brightness + noise``, rolled anywhere
    (wrapping around) and mirrored at random, with ``b ~ U(0, 1)``, ``c ~ U(0.6, 1.4)`` and Gaussian noise of
    standard deviation 0.5 (pixel values in [0, 1] before clamping). Deterministic for a ``seed``,
    made in a second or two, offline.
    """
    g = torch.Generator().manual_seed(seed)
    patterns = torch.nn.functional.interpolate(torch.rand(10, 3, 4, 4, generator=g), size=32, mode="bicubic")
    patterns = patterns - patterns.mean(dim=(1, 2, 3), keepdim=True)  # classes differ in shape, not in brightness

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 10, (n,), generator=g)
        other = (labels + torch.randint(1, 10, (n,), generator=g)) % 10  # a different class
        strength = torch.rand(n, 1, 1, 1, generator=g)
        contrast = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=g)
        brightness = 0.5 + 0.1 * torch.randn(n, 1, 1, 1, generator=g)
        images = contrast * (patterns[labels] + strength * patterns[other]) + brightness
        shifts = torch.randint(0, 32, (n, 2), generator=g)
        flips = torch.rand(n, generator=g) < 0.5
        for i in range(n):  # per-image shift and mirror (a few ms per thousand images)
            image = torch.roll(images[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(1, 2))
            images[i] = image.flip(2) if flips[i] else image
        images = images + 0.5 * torch.randn(n, 3, 32, 32, generator=g)
        return (images.clamp(0, 1) * 255).to(torch.uint8), labels

    train_x, train_y = draw(train)
    test_x, test_y = draw(test)
    return Cifar(train_x, train_y, test_x, test_y, BUILTIN_SOURCE)


FIX = (
    'For real CIFAR-10: `pip install -e ".[cifar]"` (torchvision 0.28, the release paired with torch 2.13) on '
    "a machine with network access, or copy cifar-10-batches-py (the python version from the CIFAR-10 site) "
    "into {data_dir}."
)


def load(data_dir: str | Path, download: bool = True, builtin_size: int = 10_000) -> Cifar:
    """The local ``cifar-10-batches-py`` copy, else a torchvision download, else built-in data (saying why)."""
    data_dir = Path(data_dir)
    folder = find_copy(data_dir)
    why = "--no-download was given"
    if folder is None and download:
        folder, why = try_download(data_dir)
    if folder is None:
        print(
            f"No CIFAR-10 copy in {data_dir} (expected {data_dir / 'cifar-10-batches-py'} with data_batch_1..5 and "
            f"test_batch) and {why}: FALLING BACK to built-in CIFAR-shaped data. Accuracy on it is not CIFAR-10 "
            f"accuracy.\n{FIX.format(data_dir=data_dir)}"
        )
        return builtin(train=builtin_size, test=max(builtin_size // 4, 1))
    train_x, train_y = read_batches(folder, TRAIN_FILES)
    test_x, test_y = read_batches(folder, ["test_batch"])
    return Cifar(train_x, train_y, test_x, test_y, f"CIFAR-10 from {folder}")


def subset(data: Cifar, train: int | None, test: int | None, seed: int = 0) -> Cifar:
    """A fixed random subset (``None``: all) of the train and test images, for runs sized to a CPU."""
    g = torch.Generator().manual_seed(seed)

    def pick(images: torch.Tensor, labels: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        if n is None or n >= len(labels):
            return images, labels
        index = torch.randperm(len(labels), generator=g)[:n]
        return images[index], labels[index]

    train_x, train_y = pick(data.train_images, data.train_labels, train)
    test_x, test_y = pick(data.test_images, data.test_labels, test)
    return Cifar(train_x, train_y, test_x, test_y, data.source)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 -> float, per-channel standardized."""
    x = images.float().div_(255)
    return (x - MEAN.to(x.device)) / STD.to(x.device)


def augment(images: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4) -> torch.Tensor:
    """Random crop (reflect padding ``pad``) and horizontal flip, per image, on the tensor's device."""
    n = images.shape[0]
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad), mode="reflect")
    dx = torch.randint(0, 2 * pad + 1, (n,), device=images.device, generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), device=images.device, generator=generator)
    rows = (dy.view(n, 1) + torch.arange(32, device=images.device)).view(n, 1, 32, 1)
    cols = (dx.view(n, 1) + torch.arange(32, device=images.device)).view(n, 1, 1, 32)
    batch = torch.arange(n, device=images.device).view(n, 1, 1, 1)
    channel = torch.arange(3, device=images.device).view(1, 3, 1, 1)
    cropped = padded[batch, channel, rows, cols]
    flip = torch.rand(n, device=images.device, generator=generator) < 0.5
    return torch.where(flip.view(n, 1, 1, 1), cropped.flip(3), cropped)


class DeviceBatches:
    """Shuffled batches of normalized (and optionally augmented) images from device tensors.

    Under DDP each rank takes its own shard (``rank``/``world_size``) of every epoch's permutation.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        train: bool,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
    ) -> None:
        self.images, self.labels = normalize(images), labels
        self.batch_size, self.train = batch_size, train
        self.rank, self.world_size, self.seed, self.epoch = rank, world_size, seed, 0

    def __len__(self) -> int:
        per_rank = math.ceil(len(self.labels) / self.world_size)
        return per_rank // self.batch_size if self.train else math.ceil(per_rank / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.train:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).to(self.labels.device)
            self.epoch += 1
        else:
            order = torch.arange(n, device=self.labels.device)
        order = order[self.rank :: self.world_size]
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            x = self.images[index]
            if self.train:
                x = augment(x)
            yield x.contiguous(memory_format=torch.channels_last), self.labels[index]
