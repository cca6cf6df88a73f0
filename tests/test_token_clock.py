"""A clock in samples and tokens: each optimizer step's LR is the schedule at the samples (tokens) that the steps
before it trained on, summed over accumulation windows and DDP ranks, against references computed by hand."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import GradientAccumulationScheduler
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from lightning_lr import CosineAnnealing, LRScheduler, ScheduleLR, WarmupStableDecay
from lightning_lr.schedules import Cosine, Linear, Span, Timeline
from tests.helpers import CrashAtStep, CrashError, make_trainer

FEATURES = 4


class Rows(Dataset[torch.Tensor]):
    """``n`` rows of features (a sample is one row)."""

    def __init__(self, n: int) -> None:
        self.x = torch.randn(n, FEATURES, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


class Sizes(Sampler[list[int]]):
    """Batches of the given sizes, one list per epoch (the epoch set by Lightning through ``sampler.set_epoch``)."""

    def __init__(self, sizes_per_epoch: list[list[int]]) -> None:
        self.sizes_per_epoch = sizes_per_epoch
        self.sampler = self  # Lightning calls set_epoch on batch_sampler.sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        start = 0
        for size in self.sizes_per_epoch[min(self.epoch, len(self.sizes_per_epoch) - 1)]:
            yield list(range(start, start + size))
            start += size

    def __len__(self) -> int:
        return len(self.sizes_per_epoch[0])


class Counted(pl.LightningModule):
    """Records each batch's samples (or tokens) and the LR of each real optimizer step."""

    def __init__(self, loader: DataLoader[Any], tokens: bool = False, manual_key: bool = False) -> None:
        super().__init__()
        self.layer = nn.Linear(FEATURES, 1)
        self.loader, self.tokens = loader, tokens
        self.batches: list[float] = []
        self.lrs: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x = batch["x"] if isinstance(batch, dict) else batch
        loss = self.layer(x).pow(2).mean()
        if self.tokens:
            count = float(batch["mask"].sum())
            self.batches.append(count)
            return {"loss": loss, "num_tokens": batch["mask"].sum()}
        self.batches.append(float(x.shape[0]))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
        optimizer.register_step_pre_hook(lambda opt, *_: self.lrs.append(float(opt.param_groups[0]["lr"])))
        return optimizer

    def train_dataloader(self) -> DataLoader[Any]:
        return self.loader


def sized_loader(sizes_per_epoch: list[list[int]]) -> DataLoader[Any]:
    rows = max(sum(s) for s in sizes_per_epoch)
    return DataLoader(Rows(rows), batch_sampler=Sizes(sizes_per_epoch))


def expected_lrs(counts: list[float], windows: list[int], schedule: Any) -> list[float]:
    """The LR of each optimizer step: ``schedule(sum of the counts of every earlier window)``."""
    lrs, seen, i = [], 0.0, 0
    for size in windows:
        lrs.append(schedule(seen))
        seen += sum(counts[i : i + size])
        i += size
    return lrs


def test_variable_batch_sizes_by_hand(tmp_path: Path) -> None:
    """Batches of 3, 5, 2 and 6 samples: the LR of step k is 1 - (samples before k) / 32."""
    model = Counted(sized_loader([[3, 5, 2, 6]]))
    callback = LRScheduler(Linear(1.0, 0.0, "32 samples"), interval="sample")
    make_trainer(tmp_path, [callback], max_epochs=2).fit(model)
    assert model.lrs == [1.0, 1 - 3 / 32, 1 - 8 / 32, 1 - 10 / 32, 1 - 16 / 32, 1 - 19 / 32, 1 - 24 / 32, 1 - 26 / 32]
    assert callback.state_dict()["consumed"] == 32.0


def test_a_batch_size_ramp_and_an_accumulation_that_changes_mid_run(tmp_path: Path) -> None:
    """Epoch e has batches of 2**e samples; accumulation 1 in epoch 0, 3 from epoch 1 (windows cut at epoch ends)."""
    sizes = [[1] * 6, [2] * 6, [4] * 6]
    model = Counted(sized_loader(sizes))
    schedule = Cosine(1.0, 0.0, "42 samples")
    accumulation = GradientAccumulationScheduler({0: 1, 1: 3})
    make_trainer(tmp_path, [LRScheduler(schedule, interval="sample"), accumulation], max_epochs=3).fit(model)
    windows = [1] * 6 + [3, 3] + [3, 3]
    resolved = schedule.resolve(Timeline(math.inf, unit="samples"))
    assert model.batches == [1.0] * 6 + [2.0] * 6 + [4.0] * 6
    assert model.lrs == expected_lrs(model.batches, windows, resolved)
    assert model.lrs[6] == resolved(6.0) and model.lrs[7] == resolved(12.0) and model.lrs[8] == resolved(18.0)


class Packed(Dataset[dict[str, torch.Tensor]]):
    """Packed sequences of 8 positions with a varying number of real tokens (the rest is padding)."""

    def __init__(self, n: int) -> None:
        self.lengths = [1 + (3 * i + 2) % 8 for i in range(n)]

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        mask = torch.zeros(8)
        mask[: self.lengths[i]] = 1.0
        return {"x": torch.ones(8, FEATURES) * (i + 1) / 10, "mask": mask}


def test_packed_sequences_with_a_varying_token_count(tmp_path: Path) -> None:
    model = Counted(DataLoader(Packed(12), batch_size=3), tokens=True)
    callback = WarmupStableDecay(num_warmup_steps="20 tokens", num_decay_steps="30 tokens", interval="token",
                                 count="num_tokens", total="100 tokens")  # fmt: skip
    make_trainer(tmp_path, [callback], max_epochs=2, accumulate_grad_batches=2).fit(model)
    lengths = Packed(12).lengths
    per_batch = [float(sum(lengths[i : i + 3])) for i in range(0, 12, 3)] * 2
    assert model.batches == per_batch and sum(per_batch) == 100.0

    def wsd(t: float) -> float:  # warmup 20, stable until 70, cosine decay over 30 (by hand)
        if t < 20:
            return t / 20
        if t < 70:
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * min(t - 70, 30) / 30))

    assert model.lrs == pytest.approx(expected_lrs(per_batch, [2, 2, 2, 2], wsd), rel=1e-12, abs=1e-15)


def test_a_function_of_the_batch_counts_tokens_too(tmp_path: Path) -> None:
    model = Counted(DataLoader(Packed(6), batch_size=2), tokens=True)
    count = lambda batch: float(batch["mask"].sum())  # noqa: E731
    make_trainer(tmp_path, [LRScheduler(Linear(1.0, 0.0, "40 tokens"), interval="token", count=count)]).fit(model)
    assert model.lrs == expected_lrs(model.batches, [1, 1, 1], lambda t: max(0.0, 1 - t / 40))


def test_the_run_length_in_samples_comes_from_the_trainer(tmp_path: Path) -> None:
    """20 samples, batches of 4 and a last one of 2 (not dropped), 3 epochs: 60 samples; cosine over them."""
    model = Counted(DataLoader(Rows(18), batch_size=4))
    callback = CosineAnnealing(interval="sample")
    make_trainer(tmp_path, [callback], max_epochs=3).fit(model)
    assert callback.state_dict()["planned"][0] == 54.0 and callback.state_dict()["consumed"] == 54.0
    schedule = lambda t: 0.5 * (1 + math.cos(math.pi * t / 54))  # noqa: E731
    assert model.lrs == pytest.approx(expected_lrs(model.batches, [1] * 15, schedule), rel=1e-12)


def test_a_length_the_run_cannot_tell_is_asked_for_before_any_step(tmp_path: Path) -> None:
    model = Counted(DataLoader(Packed(6), batch_size=2), tokens=True)
    trainer = make_trainer(tmp_path, [CosineAnnealing(interval="token", count="num_tokens")])
    with pytest.raises(ValueError, match="needs the length of training"):
        trainer.fit(model)
    assert model.lrs == []
    with pytest.raises(ValueError, match="needs `count`"):
        make_trainer(tmp_path, [CosineAnnealing(interval="token", total="1M tokens")]).fit(model)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"interval": "step", "total": "1M tokens"}, "`count` and `total` are for a clock of samples or tokens"),
        ({"interval": "step", "count": "num_tokens"}, "`count` and `total` are for a clock of samples or tokens"),
        ({"interval": "token", "count": 3}, "`count` must be None, the key"),
        ({"interval": "token", "count": "n", "total": "2M samples"}, "the run's length in tokens"),
        ({"interval": "sample", "total": -5}, "must be >= 0"),
        ({"interval": "token", "count": "n", "warmup": "2X tokens"}, "must look like"),
    ],
)
def test_clock_options_are_checked_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        CosineAnnealing(**kwargs)


def test_a_duration_in_the_wrong_unit_is_refused_with_the_way_out(tmp_path: Path) -> None:
    model = Counted(DataLoader(Rows(8), batch_size=4))
    with pytest.raises(ValueError, match="cannot be measured on a clock that counts samples: set interval='step'"):
        make_trainer(tmp_path, [CosineAnnealing(warmup="2 steps", interval="sample")]).fit(model)
    with pytest.raises(ValueError, match="clock that counts steps: set interval='token'"):
        make_trainer(tmp_path, [CosineAnnealing(warmup="2M tokens")]).fit(model)
    assert Span.parse("0.5B tokens") == Span(5e8, "tokens") and Span.parse("50k samples") == Span(5e4, "samples")


def test_a_mid_epoch_resume_continues_the_clock_exactly(tmp_path: Path) -> None:
    """Batches of 4 samples: stopped after step 3 and resumed, the LRs are those of the uninterrupted run."""

    def run(root: Path, callbacks: list[Any], ckpt: str | None = None) -> Counted:
        model = Counted(DataLoader(Rows(24), batch_size=4))
        make_trainer(root, callbacks, max_epochs=2).fit(model, ckpt_path=ckpt)
        return model

    full = run(tmp_path / "full", [CosineAnnealing(interval="sample")])
    path = str(tmp_path / "stop.ckpt")
    stopped = Counted(DataLoader(Rows(24), batch_size=4))
    with pytest.raises(CrashError):
        make_trainer(tmp_path / "a", [CosineAnnealing(interval="sample"), CrashAtStep(3, path)], max_epochs=2).fit(
            stopped
        )
    state = next(v for k, v in torch.load(path, weights_only=False)["callbacks"].items() if "CosineAnnealing" in k)
    assert state["consumed"] == 12.0
    resumed = run(tmp_path / "b", [CosineAnnealing(interval="sample")], path)
    assert stopped.lrs + resumed.lrs == full.lrs


def test_schedule_lr_counts_what_each_step_trained_on() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = ScheduleLR(optimizer, CosineAnnealing(interval="token", warmup="100 tokens"), total_steps=1000)
    lrs = []
    for tokens in (30, 50, 70, 400, 450):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step(tokens=tokens)
    cosine = lambda t: 0.5 * (1 + math.cos(math.pi * (t - 100) / 900))  # noqa: E731
    assert lrs == pytest.approx([0.0, 0.3, 0.8, cosine(150), cosine(550)], rel=1e-12)
    restored = ScheduleLR(optimizer, CosineAnnealing(interval="token", warmup="100 tokens"), total_steps=1000)
    restored.load_state_dict(scheduler.state_dict())
    assert restored.consumed == 1000.0 and restored.get_last_lr() == scheduler.get_last_lr()
    with pytest.raises(TypeError, match=r"call step\(tokens="):
        scheduler.step()
    with pytest.raises(TypeError, match="is for a clock of samples"):
        scheduler.step(samples=3)


# ------------------------------------------------------------------ DDP: every rank adds the same sum


class RankTokens(Counted):
    """Each rank's batches hold a different number of tokens; every rank writes what it saw to ``out``."""

    def __init__(self, out: str) -> None:
        super().__init__(DataLoader(Packed(8), batch_size=2), tokens=True)
        self.out = out

    def on_train_end(self) -> None:
        record = {"batches": self.batches, "lrs": self.lrs}
        Path(self.out, f"rank{self.global_rank}.json").write_text(json.dumps(record))


@pytest.mark.slow
def test_ddp_ranks_sum_their_tokens_and_set_the_same_lr(tmp_path: Path) -> None:
    callback = LRScheduler(Linear(1.0, 0.0, "100 tokens"), interval="token", count="num_tokens")
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=2, logger=False, callbacks=[callback],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(RankTokens(str(tmp_path)))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["batches"] != ranks[1]["batches"]  # the ranks saw different tokens
    assert ranks[0]["lrs"] == ranks[1]["lrs"]
    summed = [a + b for a, b in zip(ranks[0]["batches"], ranks[1]["batches"])]
    assert ranks[0]["lrs"] == expected_lrs(summed, [1] * len(summed), lambda t: max(0.0, 1 - t / 100))


def test_the_clock_is_a_tensorboard_series_to_read_the_lr_against(tmp_path: Path) -> None:
    model = Counted(sized_loader([[3, 5, 2, 6]]))
    logger = TensorBoardLogger(tmp_path, name="run", default_hp_metric=False)
    callback = LRScheduler(Linear(1.0, 0.0, "32 samples"), interval="sample")
    make_trainer(tmp_path, [callback], max_epochs=2, logger=logger, log_every_n_steps=1).fit(model)
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0})
    events.Reload()
    clock = [e.value for e in events.Scalars("clock/samples")]
    lrs = [e.value for e in events.Scalars("lr-SGD")]
    assert clock == [0.0, 3.0, 8.0, 10.0, 16.0, 19.0, 24.0, 26.0]
    assert lrs == pytest.approx([1 - c / 32 for c in clock], rel=1e-6)  # float32 in the event file
