"""benchmarks/harness: the batch order it promises, the one quiet trainer, a task's score, the run readers, the seed
loop, and every benchmark script importing and parsing its flags on it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from benchmarks.harness import StepValues, Task, over_seeds, quiet_trainer
from benchmarks.harness.data import loader
from benchmarks.harness.stats import against_baseline, bootstrap_median

SCRIPTS = ["finder", "finder_rules", "gpu_check", "mnist1d", "overhead", "overhead_probes", "schedules"]


def batches(data: DataLoader, epochs: int = 3) -> list[list[int]]:
    return [batch[1].tolist() for _ in range(epochs) for batch in data]


def test_loader_draws_the_order_of_a_seeded_shuffling_dataloader() -> None:
    x, y = torch.randn(23, 2), torch.arange(23)
    reference = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(7))
    assert batches(loader((x, y), 5, 7)) == batches(reference)
    assert batches(loader((x, y), 5, 8)) != batches(reference)
    whole = next(iter(loader((x, y), 5, None)))
    assert torch.equal(whole[0], x) and torch.equal(whole[1], y)  # no seed: one batch, in order


def test_sampler_only_order_is_the_seeded_samplers() -> None:
    x, y = torch.randn(23, 2), torch.arange(23)
    torch.manual_seed(0)  # the loader's per-epoch base seed comes from the global generator here
    sampler = RandomSampler(TensorDataset(x, y), generator=torch.Generator().manual_seed(7))
    reference = batches(DataLoader(TensorDataset(x, y), batch_sampler=BatchSampler(sampler, 5, drop_last=False)))
    torch.manual_seed(0)
    assert batches(loader((x, y), 5, 7, sampler_only=True)) == reference
    assert reference != batches(loader((x, y), 5, 7))  # the two orders differ: a task says which it uses


def toy(regression: bool = False) -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=g)
    y = x[:, :1].clone() if regression else (x[:, 0] > 0).long()
    splits = {"train": (x, y), "test": (x, y)}
    loss = "MSE (score R^2)" if regression else "cross-entropy"
    return Task("toy", "linear", lambda: splits, lambda: nn.Linear(3, 1 if regression else 2), "SGD", loss, batch=8)


def test_score_is_r2_for_regression_and_accuracy_for_classification() -> None:
    task = toy(regression=True)
    module = task.build(0.1, seed=0)
    with torch.no_grad():  # the prediction is the target itself: R^2 = 1
        module.net.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
        module.net.bias.zero_()
    assert task.score(module) == pytest.approx(1.0)
    task = toy()
    module = task.build(0.1, seed=0)
    with torch.no_grad():  # class 1 exactly when x0 > 0
        module.net.weight.copy_(torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
        module.net.bias.zero_()
    assert task.score(module) == 1.0
    module.train()
    task.score(module)
    assert module.training  # the score leaves the mode it found


def test_quiet_trainer_writes_nothing_here_and_takes_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    task, values = toy(), StepValues(("lr", "momentum"), all_groups=True)
    run = task.fit(0.1, seed=0, callbacks=[values], epochs=2, max_steps=7)
    assert run.trainer.global_step == 7 and run.trainer.logger is None
    assert list(tmp_path.iterdir()) == []
    assert values.steps == [[(0.1, 0.0)]] * 7  # SGD without momentum, one group, every step
    assert values.series("lr") == [0.1] * 7
    assert quiet_trainer(3).max_epochs == 3


def test_an_unknown_optimizer_is_refused_before_training() -> None:
    with pytest.raises(ValueError, match="optimizer='Lion': not in OPTIMIZERS"):
        toy().build(0.1, seed=0, optimizer="Lion")


def test_the_same_seed_trains_the_same_weights() -> None:
    task = toy()
    a, b, c = (task.fit(0.5, seed=s).module.net.weight for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_over_seeds_stops_at_a_run_of_another_length(capsys: pytest.CaptureFixture[str]) -> None:
    runs = over_seeds([0, 1], lambda s: {"seed": s, "steps": 10}, lambda r: f"seed {r['seed']}", steps=10)
    assert [r["seed"] for r in runs] == [0, 1] and capsys.readouterr().out == "seed 0\nseed 1\n"
    with pytest.raises(AssertionError, match="arm: 9 steps, expected 10"):
        over_seeds([0], lambda s: {"seed": s, "steps": 9}, str, steps=10, label="arm")


def test_against_baseline_tests_every_other_arm_and_holm_adjusts() -> None:
    p, adjusted = against_baseline(
        {"base": [0.5, 0.51, 0.52], "same": [0.52, 0.51, 0.5], "up": [0.9, 0.91, 0.92], "one": [0.6]}, "base"
    )
    assert set(p) == {"same", "up", "one"} and p["one"] is None  # one value: no test
    assert p["same"] == pytest.approx(1.0) and p["up"] < 0.001
    assert adjusted == pytest.approx({"up": 2 * p["up"], "same": 1.0})
    assert bootstrap_median([1.0, 2.0, 3.0]) == bootstrap_median([1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_imports_and_parses_its_flags(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    script = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as stop:
        script.main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


def test_scripts_and_functions_stay_short() -> None:
    """Issue 19: a benchmark is a short question on the harness; a longer page moves to benchmarks/pages/."""
    too_long = []
    for path in sorted((Path(__file__).resolve().parents[1] / "benchmarks").rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 300:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, too_long
