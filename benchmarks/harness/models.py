"""The networks of the benchmarks. Each is built after the seed is set, so the seed fixes its initialization."""

from __future__ import annotations

import torch
from torch import nn


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    """One hidden ReLU layer."""
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def digits_cnn() -> nn.Sequential:
    """Two 3x3 convolutions (16, 32 channels) on the 8x8 digits, a 2x2 max-pool and a linear layer."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 16, 10),
    )


def cnn1d(channels: int = 25) -> nn.Sequential:
    """The MNIST-1D paper's CNN shape: three 1-D convolutions (stride 2), then a linear layer."""
    return nn.Sequential(
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


def cnn1d_bn(channels: int = 24) -> nn.Sequential:
    """MNIST-1D: conv(5) then three stride-2 conv(3), each with batch norm and ReLU; a linear head on 5 positions."""
    layers: list[nn.Module] = [nn.Unflatten(1, (1, 40))]
    c_in = 1
    for kernel, stride in ((5, 1), (3, 2), (3, 2), (3, 2)):
        layers += [
            nn.Conv1d(c_in, channels, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
        ]
        c_in = channels
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * 5, 10))


class GRUClassifier(nn.Module):
    """A GRU reading the 40 values of an MNIST-1D sequence one per time step; the last hidden state classifies."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x.unsqueeze(-1))
        return self.head(out[:, -1])


class CharTransformer(nn.Module):
    """A causal transformer over characters: embedding + learned positions, pre-norm layers, a linear head.

    Returns the logits of every position, flattened to ``(batch * context, vocab)``: a task's classification
    targets are flattened alike (:meth:`~benchmarks.harness.tasks.Task.criterion`).
    """

    def __init__(self, vocab: int = 128, context: int = 64, width: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(0.02 * torch.randn(context, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        h = self.embed(x) + self.position[:n]
        h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
        return self.head(self.norm(h)).reshape(-1, self.head.out_features)


def count(net: nn.Module) -> int:
    """The number of parameters."""
    return sum(p.numel() for p in net.parameters())
