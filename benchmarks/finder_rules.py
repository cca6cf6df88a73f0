"""Which suggestion rule? Each rule of the LR finder on eight small setups, against a 13-point grid.

The same protocol as ``benchmarks/finder.py`` on eight small setups (scikit-learn's digits, breast
cancer and wine; SGD with and without momentum, Adam, AdamW; batch 8 to 128): each rule's
suggestion (and Lightning's) from the single-curve ``LRFinder(confirm=False, num_training_steps=100)``
test is trained per seed at a constant LR and compared with the best of a 13-point grid from 1e-5
to 10. This is the evidence for the default rule.

Run from the repository root::

    python benchmarks/finder_rules.py            # 3 seeds; writes docs/benchmarks/finder_rules.{md,json}
    python benchmarks/finder_rules.py --quick    # 1 seed, writes nothing unless --write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.tuner import Tuner
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as `python benchmarks/finder.py` without installing
    sys.path.insert(0, str(REPO))

from benchmarks.report import (  # noqa: E402
    DOCS,
    machine,
    machine_line,
    markdown_table,
    quiet_lightning,
    quiet_trainer,
    write_results,
)
from lightning_lr.finder import METHODS, FinderResult, LRFinder  # noqa: E402

mean = statistics.fmean


@dataclass(frozen=True)
class Setup:
    data: str
    optimizer: str
    batch: int
    epochs: int
    hidden: int

    @property
    def name(self) -> str:
        return f"{self.data}, {self.optimizer}, batch {self.batch}, {self.epochs} epochs, hidden {self.hidden}"


MAIN = Setup("digits", "sgd+momentum", 32, 2, 128)
RULE_SETUPS = [
    MAIN,
    Setup("digits", "adam", 32, 2, 128),
    Setup("digits", "sgd", 16, 2, 64),
    Setup("digits", "sgd+momentum", 64, 4, 256),
    Setup("digits", "adamw", 128, 6, 128),
    Setup("breast_cancer", "sgd+momentum", 16, 3, 32),
    Setup("breast_cancer", "adam", 32, 2, 16),
    Setup("wine", "adamw", 8, 3, 32),
]
RULE_GRID = [float(v) for v in np.logspace(-5, 1, 13)]


def dataset(name: str) -> tuple[TensorDataset, torch.Tensor, torch.Tensor]:
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}[name]
    data = loader()
    x = data.data / 16.0 if name == "digits" else data.data
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=0.2, random_state=0, stratify=data.target
    )
    if name != "digits":
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

    def tensor(a: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(a), dtype=torch.float32)

    train = TensorDataset(tensor(x_train), torch.tensor(y_train).long())
    return train, tensor(x_test), torch.tensor(y_test).long()


class MLP(pl.LightningModule):
    def __init__(self, setup: Setup, train: TensorDataset, lr: float, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        features, classes = train.tensors[0].shape[1], int(train.tensors[1].max()) + 1
        self.net = nn.Sequential(nn.Linear(features, setup.hidden), nn.ReLU(), nn.Linear(setup.hidden, classes))
        self.setup_, self.train_set, self.lr, self.seed = setup, train, lr, seed

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        name, params = self.setup_.optimizer, self.parameters()
        if name == "sgd+momentum":
            return torch.optim.SGD(params, lr=self.lr, momentum=0.9)
        if name == "sgd":
            return torch.optim.SGD(params, lr=self.lr)
        if name == "adam":
            return torch.optim.Adam(params, lr=self.lr)
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=0.01)

    def train_dataloader(self) -> DataLoader[Any]:
        order = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train_set, batch_size=self.setup_.batch, shuffle=True, generator=order)


class Task:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.train_set, self.x, self.y = dataset(setup.data)

    def accuracy(self, model: MLP) -> float:
        model.eval()
        with torch.no_grad():
            return float((model.net(self.x).argmax(1) == self.y).float().mean())

    def train(self, lr: float | None, seed: int) -> tuple[float, float]:
        """Accuracy after the budget at constant ``lr`` (0 without an LR), and the wall time of the run."""
        if lr is None:
            return 0.0, 0.0
        model = MLP(self.setup, self.train_set, lr, seed)
        start = time.perf_counter()
        quiet_trainer(self.setup.epochs).fit(model)
        return self.accuracy(model), time.perf_counter() - start

    def finder(self, seed: int) -> tuple[FinderResult, float, float]:
        """The default LRFinder inside a training run: its result, the accuracy reached, the fit's wall time."""
        model = MLP(self.setup, self.train_set, 0.01, seed)
        finder = LRFinder(confirm=False, num_training_steps=100)  # the single curve whose rules this compares
        start = time.perf_counter()
        quiet_trainer(self.setup.epochs, [finder]).fit(model)
        assert finder.result is not None
        return finder.result, self.accuracy(model), time.perf_counter() - start

    def lightning(self, seed: int) -> tuple[float | None, float]:
        """Lightning's own finder with its defaults: its suggestion and the test's wall time."""
        model = MLP(self.setup, self.train_set, 0.01, seed)
        start = time.perf_counter()
        found = Tuner(quiet_trainer(self.setup.epochs)).lr_find(model)
        seconds = time.perf_counter() - start
        return (found.suggestion() if found is not None else None), seconds


# --------------------------------------------------------------------------- rules across setups
def run_rules(seeds: list[int]) -> dict[str, Any]:
    rows = []
    for setup in RULE_SETUPS:
        task = Task(setup)
        grids = [[task.train(lr, seed)[0] for lr in RULE_GRID] for seed in seeds]
        grid = [mean(g[i] for g in grids) for i in range(len(RULE_GRID))]
        arms: dict[str, list[tuple[float | None, float]]] = {m: [] for m in (*METHODS, "lightning")}
        for seed in seeds:
            result = task.finder(seed)[0]
            for method, answer in result.suggestions().items():
                arms[method].append((answer.lr, task.train(answer.lr, seed)[0]))
            pl_lr = task.lightning(seed)[0]
            arms["lightning"].append((pl_lr, task.train(pl_lr, seed)[0]))
        best = max(grid)
        scores = {k: {"lrs": [lr for lr, _ in v], "ratio": mean(a for _, a in v) / best} for k, v in arms.items()}
        rows.append({"setup": setup.name, "grid_best": {"lr": RULE_GRID[int(np.argmax(grid))], "accuracy": best}})
        rows[-1]["arms"] = scores
        print(f"{setup.name}: " + ", ".join(f"{k} {v['ratio']:.3f}" for k, v in rows[-1]["arms"].items()), flush=True)
    return {"rows": rows}


def rules_table(data: dict[str, Any], seeds: list[int]) -> str:
    arms = [*METHODS, "lightning"]
    names = {"valley": "valley (default)", "steepest": "steepest", "minimum": "minimum / 10", "lightning": "Lightning"}
    lines = [
        "# LR finder rules across setups",
        "",
        "Generated by `python benchmarks/finder_rules.py`. Each rule's suggestion from the default "
        "`LRFinder(confirm=False)` test (1e-8 to 1, 100 steps), trained at a constant LR; accuracy divided by the best "
        f"mean accuracy of a 13-point grid from 1e-5 to 10; mean over seeds {seeds}. Lightning: `Tuner.lr_find` "
        "with its defaults.",
        "",
    ]
    table = [("setup", "grid-best LR (accuracy)", *(names[a] for a in arms))]
    for row in data["rows"]:
        best = row["grid_best"]
        table.append(
            (
                row["setup"],
                f"{best['lr']:.3g} ({best['accuracy']:.3f})",
                *(f"{row['arms'][a]['ratio']:.3f}" for a in arms),
            )
        )
    means = [mean(r["arms"][a]["ratio"] for r in data["rows"]) for a in arms]
    worst = [min(r["arms"][a]["ratio"] for r in data["rows"]) for a in arms]
    table.append(("**mean**", "", *(f"**{m:.3f}**" for m in means)))
    table.append(("worst", "", *(f"{w:.3f}" for w in worst)))
    m = data.get("machine") or machine()
    lines += [*markdown_table(table, align="ll" + "r" * len(arms)), "", f"{machine_line(m)[:-1]}, {m['date']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--write", action="store_true", help="write the docs files also with --quick")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    quiet_lightning()
    torch.set_num_threads(1)
    seeds = list(range(1 if args.quick else args.seeds))
    write = args.write or not args.quick
    data = run_rules(seeds) | {"machine": machine()}
    text = rules_table(data, seeds)
    print(text)
    if write:
        write_results("finder_rules", data, text, DOCS, allow_nan=True)


if __name__ == "__main__":
    main()
