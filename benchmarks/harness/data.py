"""The data sets of the benchmarks, as tensors split once: ``{"train": (x, y), "test": (x, y)}`` (and ``"val"``).

Every loader is cached (one load per process) and deterministic: a split is fixed by
``random_state=SPLIT_SEED`` or by the generator's own seed, the same for every seed of a run. scikit-learn
brings digits, diabetes, breast cancer and wine; the ``mnist1d`` package (the ``dev`` extra)
generates MNIST-1D offline (Greydanus & Kobak, ICML 2024: 4,000 train / 1,000 test sequences of
length 40, 10 classes). :func:`loader` draws shuffled batches with a generator of its own seed.
"""

from __future__ import annotations

import functools
import sysconfig
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

SPLIT_SEED = 0  # random_state of every split
Split = tuple[torch.Tensor, torch.Tensor]
Splits = dict[str, Split]


def split(x: Any, y: Any, regression: bool = False) -> Split:
    """float32 inputs; long class labels, or a float32 column of regression targets."""
    inputs = torch.tensor(np.asarray(x), dtype=torch.float32)
    if regression:
        return inputs, torch.tensor(np.asarray(y), dtype=torch.float32).reshape(-1, 1)
    return inputs, torch.tensor(np.asarray(y)).long()


def _standardized(x_train: Any, x_test: Any) -> tuple[Any, Any]:
    scale = StandardScaler().fit(x_train)
    return scale.transform(x_train), scale.transform(x_test)


@functools.cache
def digits() -> Splits:
    """scikit-learn's 8x8 digits scaled to [0, 1]; stratified 80/20 split."""
    data = datasets.load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data / 16.0, data.target, test_size=0.2, random_state=SPLIT_SEED, stratify=data.target
    )
    return {"train": split(x_train, y_train), "test": split(x_test, y_test)}


@functools.cache
def digits_standardized() -> Splits:
    """The digits in a stratified 60/20/20 train/val/test split, standardized with the training split's statistics."""
    x, y = datasets.load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SPLIT_SEED
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0  # some border pixels are always 0
    return {
        name: split((a - mean) / std, b)
        for name, a, b in (("train", x_train, y_train), ("val", x_val, y_val), ("test", x_test, y_test))
    }


@functools.cache
def _classes(name: str) -> Splits:
    data = getattr(datasets, f"load_{name}")()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=SPLIT_SEED, stratify=data.target
    )
    x_train, x_test = _standardized(x_train, x_test)
    return {"train": split(x_train, y_train), "test": split(x_test, y_test)}


def breast_cancer() -> Splits:
    """scikit-learn's breast cancer (30 features, 2 classes), standardized; stratified 80/20 split."""
    return _classes("breast_cancer")


def wine() -> Splits:
    """scikit-learn's wine (13 features, 3 classes), standardized; stratified 80/20 split."""
    return _classes("wine")


@functools.cache
def diabetes() -> Splits:
    """scikit-learn's diabetes regression, inputs and target standardized with the training split's statistics."""
    data = datasets.load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.2, random_state=SPLIT_SEED)
    x_train, x_test = _standardized(x_train, x_test)
    mean, std = float(np.mean(y_train)), float(np.std(y_train))
    return {"train": split(x_train, (y_train - mean) / std, True), "test": split(x_test, (y_test - mean) / std, True)}


@functools.cache
def _mnist1d_raw() -> dict[str, Any]:
    from mnist1d.data import get_dataset_args, make_dataset  # the `dev` extra

    return make_dataset(get_dataset_args())  # seeds numpy and random itself: the same data every call


@functools.cache
def mnist1d(val: int = 0) -> Splits:
    """The paper's default MNIST-1D; the last ``val`` training sequences (already shuffled) held out as ``"val"``."""
    d = _mnist1d_raw()
    x, y = split(d["x"], d["y"])
    n = len(y) - val
    out = {"train": (x[:n], y[:n]), "test": split(d["x_test"], d["y_test"])}
    return out | ({"val": (x[n:], y[n:])} if val else {})


LM_TRAIN_FILES = ("argparse.py", "dataclasses.py", "functools.py", "inspect.py", "pathlib.py", "typing.py")
LM_TEST_FILE = "textwrap.py"
LM_CONTEXT = 64
LM_VOCAB = 128  # ASCII; any other character reads as 0 (NUL never occurs in these files)


def _windows(text: str) -> Split:
    """Non-overlapping windows of ``LM_CONTEXT`` ASCII codes, and the next code of each position."""
    codes = torch.tensor(list(text.encode("ascii", errors="replace")), dtype=torch.long)
    codes = torch.where(codes < LM_VOCAB, codes, torch.zeros_like(codes))
    n = (len(codes) - 1) // LM_CONTEXT
    return codes[: n * LM_CONTEXT].reshape(n, LM_CONTEXT), codes[1 : n * LM_CONTEXT + 1].reshape(n, LM_CONTEXT)


@functools.cache
def stdlib_text() -> Splits:
    """Python's own standard library source (``sysconfig.get_paths()["stdlib"]``): six modules to train on
    (``LM_TRAIN_FILES``, 7,644 windows on Python 3.11), ``textwrap.py`` to test on (308 windows)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    train = "\n".join((root / name).read_text() for name in LM_TRAIN_FILES)
    return {"train": _windows(train), "test": _windows((root / LM_TEST_FILE).read_text())}


class Batches(Dataset[Split]):
    """In-memory tensors; a whole batch is one indexing operation (``__getitems__``), no per-sample work."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> Split:
        return self.x[i], self.y[i]

    def __getitems__(self, indices: list[int]) -> Split:
        idx = torch.as_tensor(indices)
        return self.x[idx], self.y[idx]


def _whole(batch: Split) -> Split:
    return batch


def loader(data: Split, batch: int, seed: int | None, sampler_only: bool = False) -> DataLoader[Split]:
    """Batches of ``batch`` in the order a generator seeded with ``seed`` draws (``None``: one batch, in order).

    The order is ``DataLoader(..., shuffle=True, generator=torch.Generator().manual_seed(seed))``'s: the
    loader draws each epoch's base seed from the same generator as the shuffle. ``sampler_only``: only the
    sampler holds the generator (the base seed comes from torch's global generator), a different order
    (``benchmarks/mnist1d.py``'s).
    """
    ds = Batches(*data)
    if seed is None:
        return DataLoader(ds, batch_size=len(ds), collate_fn=_whole)
    order = torch.Generator().manual_seed(seed)
    if not sampler_only:
        return DataLoader(ds, batch_size=batch, shuffle=True, generator=order, collate_fn=_whole)
    sampler = RandomSampler(ds, generator=order)
    return DataLoader(ds, batch_sampler=BatchSampler(sampler, batch, drop_last=False), collate_fn=_whole)
