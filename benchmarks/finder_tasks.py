"""The five tasks of ``benchmarks/finder.py``: data, model, optimizer, loss and score of each.

Every task trains for a fixed budget of epochs at the LR (or LR schedule) it is given and returns a
score where higher is better: accuracy for classification, R^2 for regression. Data comes with
scikit-learn (digits, diabetes) or is generated offline by the ``mnist1d`` package (MNIST-1D:
4,000 train / 1,000 test sequences of length 40, 10 classes). :data:`CHAR_LM` (not in :data:`TASKS`)
is a small character-level transformer trained on Python's own standard library source; its score
is the next-character accuracy on a file it never trained on.
"""

from __future__ import annotations

import functools
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

Data = tuple[TensorDataset, torch.Tensor, torch.Tensor]


def _tensors(x_train: Any, x_test: Any, y_train: Any, y_test: Any, regression: bool = False) -> Data:
    def f(a: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(a), dtype=torch.float32)

    def target(a: Any) -> torch.Tensor:
        return f(a).reshape(-1, 1) if regression else torch.tensor(np.asarray(a)).long()

    return TensorDataset(f(x_train), target(y_train)), f(x_test), target(y_test)


@functools.cache
def digits() -> Data:
    data = load_digits()
    split = train_test_split(data.data / 16.0, data.target, test_size=0.2, random_state=0, stratify=data.target)
    return _tensors(*split)


@functools.cache
def mnist1d() -> Data:
    from mnist1d.data import get_dataset_args, make_dataset  # the `dev` extra

    data = make_dataset(get_dataset_args())
    return _tensors(data["x"], data["x_test"], data["y"], data["y_test"])


@functools.cache
def diabetes() -> Data:
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.2, random_state=0)
    scale = StandardScaler().fit(x_train)
    mean, std = float(np.mean(y_train)), float(np.std(y_train))
    return _tensors(
        scale.transform(x_train), scale.transform(x_test), (y_train - mean) / std, (y_test - mean) / std, True
    )


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 16, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN1D(nn.Module):
    """The MNIST-1D paper's CNN shape: three 1-D convolutions (stride 2), then a linear layer."""

    def __init__(self, channels: int = 25) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (1, 40)),
            nn.Conv1d(1, channels, 5, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(channels * 5, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GRUClassifier(nn.Module):
    """A GRU reading the 40 values one per time step; the last hidden state classifies."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x.unsqueeze(-1))
        return self.head(out[:, -1])


LM_TRAIN_FILES = ("argparse.py", "dataclasses.py", "functools.py", "inspect.py", "pathlib.py", "typing.py")
LM_TEST_FILE = "textwrap.py"
LM_CONTEXT = 64
LM_VOCAB = 128  # ASCII; any other character is read as 0 (NUL never occurs in these files)


def _ascii_codes(text: str) -> torch.Tensor:
    codes = torch.tensor(list(text.encode("ascii", errors="replace")), dtype=torch.long)
    return torch.where(codes < LM_VOCAB, codes, torch.zeros_like(codes))


def _windows(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping windows of ``LM_CONTEXT`` characters and the next character of each position."""
    n = (len(codes) - 1) // LM_CONTEXT
    x = codes[: n * LM_CONTEXT].reshape(n, LM_CONTEXT)
    y = codes[1 : n * LM_CONTEXT + 1].reshape(n, LM_CONTEXT)
    return x, y


@functools.cache
def stdlib_text() -> Data:
    """Python's own standard library source (``sysconfig.get_paths()["stdlib"]``): six modules to train on,
    ``textwrap.py`` to test on, as windows of 64 ASCII codes and the next code of each position."""
    root = Path(sysconfig.get_paths()["stdlib"])
    train = _windows(_ascii_codes("\n".join((root / name).read_text() for name in LM_TRAIN_FILES)))
    x_test, y_test = _windows(_ascii_codes((root / LM_TEST_FILE).read_text()))
    return TensorDataset(*train), x_test, y_test


class CharTransformer(nn.Module):
    """A causal transformer over characters: embedding + learned positions, pre-norm layers, a linear head.

    Returns the logits of every position flattened to ``(batch * context, vocab)``.
    """

    def __init__(self, width: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(LM_VOCAB, width)
        self.position = nn.Parameter(0.02 * torch.randn(LM_CONTEXT, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, LM_VOCAB)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(LM_CONTEXT), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.position[: x.shape[1]]
        h = self.blocks(h, mask=self.mask[: x.shape[1], : x.shape[1]], is_causal=True)
        return self.head(self.norm(h)).reshape(-1, LM_VOCAB)


@dataclass(frozen=True)
class Task:
    """One benchmark task; ``name`` also names its rows in the tables."""

    name: str
    model: str
    optimizer: str
    loss: str
    data: Callable[[], Data]
    net: Callable[[], nn.Module]
    batch: int
    epochs: int

    @property
    def description(self) -> str:
        return f"{self.model}, {self.optimizer}, {self.loss}, batch {self.batch}, {self.epochs} epochs"

    def build(self, lr: float, seed: int) -> Module:
        torch.manual_seed(seed)
        return Module(self, self.net(), lr, seed)

    def score(self, module: Module) -> float:
        _, x, y = self.data()
        module.eval()
        with torch.no_grad():
            out = module.net(x)
        if self.loss.startswith("MSE"):
            return float(1.0 - ((out - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())  # R^2
        return float((out.argmax(1) == y.reshape(-1)).float().mean())


class Module(pl.LightningModule):
    def __init__(self, task: Task, net: nn.Module, lr: float, seed: int) -> None:
        super().__init__()
        self.task, self.net, self.lr, self.seed = task, net, lr, seed

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self.net(x)
        if self.task.loss.startswith("MSE"):
            return nn.functional.mse_loss(out, y)
        return nn.functional.cross_entropy(out, y.reshape(-1))  # a language model's targets: one per position

    def configure_optimizers(self) -> torch.optim.Optimizer:
        name, params = self.task.optimizer, self.parameters()
        if name == "SGD momentum 0.9":
            return torch.optim.SGD(params, lr=self.lr, momentum=0.9)
        if name == "Adam":
            return torch.optim.Adam(params, lr=self.lr)
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=0.01)

    def train_dataloader(self) -> DataLoader[Any]:
        order = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.task.data()[0], batch_size=self.task.batch, shuffle=True, generator=order)


def _mlp(inputs: int, hidden: int, outputs: int) -> Callable[[], nn.Module]:
    return lambda: nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


TASKS = [  # cheapest first: a partial run still writes the tasks it finished
    Task("digits-mlp", "MLP 64-128-10", "SGD momentum 0.9", "cross-entropy", digits, _mlp(64, 128, 10), 32, 2),
    Task("diabetes-mlp", "MLP 10-64-1", "Adam", "MSE (score R^2)", diabetes, _mlp(10, 64, 1), 16, 10),
    Task("digits-cnn", "CNN 2 conv", "AdamW", "cross-entropy", digits, DigitsCNN, 32, 2),
    Task("mnist1d-cnn", "1-D CNN 3 conv", "SGD momentum 0.9", "cross-entropy", mnist1d, CNN1D, 64, 4),
    Task("mnist1d-gru", "GRU 32", "Adam", "cross-entropy", mnist1d, GRUClassifier, 128, 3),
]
CHAR_LM = Task(
    "charlm",
    "char transformer 2x64",
    "AdamW",
    "cross-entropy (score: next-char accuracy)",
    stdlib_text,
    CharTransformer,
    32,
    1,
)
"""The held-out task of ``benchmarks/tuning_free.py``: Python's stdlib source, one epoch."""
