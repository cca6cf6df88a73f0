"""ScheduleFree: the schedulefree optimizers' train/eval modes at every Lightning hook, the checkpoint at the
evaluation weights, an exact resume, the BatchNorm recompute that changes nothing else, and the refusals."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_lr import CosineAnnealing, LRFinder, ScheduleConflictError, ScheduleFree, WarmupLinear
from lightning_lr.optimizers import in_train_mode

schedulefree = pytest.importorskip("schedulefree")


def data(n: int = 64, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True))


class SFModule(pl.LightningModule):
    """Linear -> BatchNorm -> Linear with AdamWScheduleFree; records each hook's mode and the batches it trained."""

    def __init__(
        self, shuffle: bool = False, scheduler: bool = False, optimizer: str = "adamw", workers: int = 0
    ) -> None:
        super().__init__()
        self.workers = workers
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        self.shuffle, self.scheduler, self.optimizer_name = shuffle, scheduler, optimizer
        self.modes: dict[str, list[bool]] = {}
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _mode(self, hook: str) -> None:
        self.modes.setdefault(hook, []).append(in_train_mode(self.trainer.optimizers[0]))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._mode("train")
        self.batches.append(batch[0].clone())
        return nn.functional.mse_loss(self(batch[0]), batch[1])

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("sanity" if self.trainer.sanity_checking else "val")

    def on_validation_epoch_start(self) -> None:
        if not self.trainer.sanity_checking:  # BatchNorm statistics of the whole training set at x
            with torch.no_grad():
                expected = self.net[0](data().tensors[0]).mean(0)
            self.bn_error = float((self.net[1].running_mean - expected).abs().max())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._mode("predict")
        return self(batch[0])

    def configure_optimizers(self) -> Any:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(self.parameters(), lr=1e-2)
        optimizer = schedulefree.AdamWScheduleFree(self.parameters(), lr=1e-2)
        if self.scheduler:
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1)]
        return optimizer

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(1) if self.shuffle else None
        workers = {"num_workers": self.workers, "persistent_workers": True} if self.workers else {}
        return DataLoader(data(), batch_size=8, shuffle=self.shuffle, generator=generator, **workers)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(data(16, seed=1), batch_size=8)

    test_dataloader = predict_dataloader = val_dataloader


def trainer(tmp_path: Path, callbacks: list[Any], **kwargs: Any) -> pl.Trainer:
    settings: dict[str, Any] = dict(
        max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, callbacks=callbacks, num_sanity_val_steps=1,
    )  # fmt: skip
    return pl.Trainer(**(settings | kwargs))


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("accumulate", [1, 2])
def test_training_at_y_every_evaluation_at_x(tmp_path: Path, accumulate: int) -> None:
    model = SFModule()
    t = trainer(tmp_path, [ScheduleFree()], accumulate_grad_batches=accumulate, val_check_interval=3)
    t.fit(model)
    t.test(model, verbose=False)
    t.predict(model)
    assert set(model.modes["train"]) == {True} and len(model.modes["train"]) == 16
    for hook in ("sanity", "val", "test", "predict"):
        assert set(model.modes[hook]) == {False}, hook
    assert not in_train_mode(t.optimizers[0])  # the fit ends at x: the module holds the weights to use


def test_checkpoint_holds_x_and_training_goes_on_at_y(tmp_path: Path) -> None:
    class Keep(SFModule):
        def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
            if self.trainer.global_step == 3:  # after the save at step 3: back at y
                self.y = weights(self)

    model = Keep()
    every = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=3, save_top_k=-1)
    trainer(tmp_path, [ScheduleFree(bn_batches=0), every], enable_checkpointing=True, max_epochs=1).fit(model)
    checkpoint = torch.load(tmp_path / "epoch=0-step=3.ckpt", weights_only=False)
    assert [g["train_mode"] for g in checkpoint["optimizer_states"][0]["param_groups"]] == [False]
    fresh = SFModule()
    fresh.load_state_dict(checkpoint["state_dict"])
    optimizer = schedulefree.AdamWScheduleFree(fresh.parameters(), lr=1e-2)
    optimizer.load_state_dict(checkpoint["optimizer_states"][0])
    saved = weights(fresh)
    assert not torch.equal(saved["net.0.weight"], model.y["net.0.weight"])  # x, not the training point y
    optimizer.train()
    assert all(torch.equal(v, model.y[k]) for k, v in weights(fresh).items())


@pytest.mark.parametrize(
    ("every", "val"),
    [({"every_n_epochs": 1}, 1.0), ({"every_n_train_steps": 8}, 0)],  # saved after validation (at x); in training (y)
    ids=["after-validation", "in-training"],
)
def test_resume_trains_as_the_uninterrupted_run(tmp_path: Path, every: dict[str, int], val: float) -> None:
    """A plain DataLoader restarts its epoch on a mid-epoch resume (Lightning's rule), so the saves are at epoch
    ends (8 batches an epoch). Each save rounds y -> x -> y in the last bit, so the resumed run saves as well."""
    pl.seed_everything(0)
    whole = SFModule()
    start = weights(whole)
    saves = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1, **every)
    options = dict(max_epochs=3, limit_val_batches=val)
    trainer(tmp_path, [ScheduleFree(), saves], enable_checkpointing=True, **options).fit(whole)
    path = sorted((tmp_path / "ckpt").glob("*.ckpt"))[0]
    resumed = SFModule()
    resumed.load_state_dict(start)
    again = ModelCheckpoint(dirpath=tmp_path / "again", save_top_k=-1, **every)
    trainer(tmp_path, [ScheduleFree(), again], enable_checkpointing=True, **options).fit(resumed, ckpt_path=path)
    assert all(torch.equal(v, weights(whole)[k]) for k, v in weights(resumed).items())


@pytest.mark.parametrize("workers", [0, 1], ids=["main-process", "persistent-worker"])
def test_batchnorm_recompute_changes_nothing_but_the_statistics(tmp_path: Path, workers: int) -> None:
    """Same batches, same order, same weights as without the recompute: the loader's generator and the RNG are
    restored, and a persistent worker's iterator (the training loop's own) is not touched."""
    runs = {}
    for n in (0, 50):
        pl.seed_everything(0)
        model = SFModule(shuffle=True, workers=workers)
        trainer(tmp_path, [ScheduleFree(bn_batches=n)], max_epochs=2, val_check_interval=5).fit(model)
        runs[n] = model
    off, on = runs[0], runs[50]
    assert len(off.batches) == len(on.batches) and all(map(torch.equal, off.batches, on.batches))
    buffers = {k for k, _ in off.named_buffers()}
    assert all(torch.equal(v, weights(on)[k]) for k, v in weights(off).items() if k not in buffers)
    assert not torch.equal(off.net[1].running_mean, on.net[1].running_mean)
    assert on.bn_error < 1e-5 < off.bn_error  # the statistics of the training set at x, before each validation


def test_the_module_after_fit_has_x_and_its_statistics(tmp_path: Path) -> None:
    """No validation in the run: the end of fit still switches to x and recomputes BatchNorm there."""
    model = SFModule()
    trainer(tmp_path, [ScheduleFree()], limit_val_batches=0).fit(model)
    model.on_validation_epoch_start()  # measures the statistics against the training set at the current weights
    assert model.bn_error < 1e-5 and not in_train_mode(model.trainer.optimizers[0])


class TwoOptimizers(SFModule):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        self.modes.setdefault("train", []).extend(in_train_mode(o) for o in self.trainer.optimizers)
        for optimizer in self.optimizers():
            loss = nn.functional.mse_loss(self(batch[0]), batch[1])
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.modes.setdefault("val", []).extend(in_train_mode(o) for o in self.trainer.optimizers)

    def configure_optimizers(self) -> Any:
        head = list(self.net[3].parameters())
        body = [p for p in self.parameters() if all(p is not h for h in head)]
        return schedulefree.AdamWScheduleFree(body, lr=1e-2), schedulefree.SGDScheduleFree(head, lr=1e-2)


def test_manual_optimization_with_two_optimizers(tmp_path: Path) -> None:
    model = TwoOptimizers()
    trainer(tmp_path, [ScheduleFree()]).fit(model)
    assert set(model.modes["train"]) == {True} and set(model.modes["val"]) == {False}


def test_fast_dev_run(tmp_path: Path) -> None:
    model = SFModule()
    trainer(tmp_path, [ScheduleFree()], fast_dev_run=True).fit(model)
    assert model.modes["train"] == [True] and model.modes["val"] == [False]


def test_refuses_a_plain_optimizer_and_a_scheduler(tmp_path: Path) -> None:
    with pytest.raises(ScheduleConflictError, match="optimizer 0 is Adam"):
        trainer(tmp_path, [ScheduleFree()]).fit(SFModule(optimizer="adam"))
    with pytest.raises(ScheduleConflictError, match="StepLR returned by `configure_optimizers`"):
        trainer(tmp_path, [ScheduleFree()]).fit(SFModule(scheduler=True))


def test_weights_only_checkpoints_warn(tmp_path: Path) -> None:
    """Lightning skips the callbacks' on_save_checkpoint for a weights-only save: the file holds y."""
    every = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=3, save_top_k=-1, save_weights_only=True)
    model = SFModule()
    with pytest.warns(UserWarning, match="save_weights_only=True"):
        trainer(tmp_path, [ScheduleFree(), every], enable_checkpointing=True, max_steps=3, max_epochs=1).fit(model)
    saved = torch.load(tmp_path / "epoch=0-step=3.ckpt", weights_only=False)["state_dict"]
    assert not torch.equal(saved["net.0.weight"], model.net[0].weight)  # y in the file; x in the model after fit


def test_arguments() -> None:
    with pytest.raises(TypeError, match="bn_batches"):
        ScheduleFree(bn_batches=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bn_batches"):
        ScheduleFree(bn_batches=-1)
    with pytest.raises(TypeError, match="bn_forward"):
        ScheduleFree(bn_forward=3)  # type: ignore[arg-type]


def test_warmup_callback_on_a_schedule_free_optimizer(tmp_path: Path) -> None:
    """Our warmup writes the LR each step; the optimizer scales it by its own ramp (0 here): lr_max follows."""
    model = SFModule()
    trainer(tmp_path, [ScheduleFree(), WarmupLinear(num_warmup_steps=8)], max_epochs=2).fit(model)
    group = model.trainer.optimizers[0].param_groups[0]
    assert group["lr_max"] == pytest.approx(1e-2) and group["k"] == 16


class DDPModule(SFModule):
    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def on_train_end(self) -> None:
        flat = torch.cat([p.detach().flatten() for p in self.parameters()]).tolist()
        record = {"modes": self.modes, "weights": flat}
        Path(self.out, f"rank{self.global_rank}.json").write_text(json.dumps(record))


@pytest.mark.slow
def test_ddp_ranks_switch_together(tmp_path: Path) -> None:
    model = DDPModule(str(tmp_path))
    trainer(tmp_path, [ScheduleFree()], accelerator="cpu", devices=2, strategy="ddp_spawn").fit(model)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for r in ranks:
        assert set(r["modes"]["train"]) == {True} and set(r["modes"]["val"]) == {False}
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_finder_steps_a_schedule_free_optimizer_in_train_mode(tmp_path: Path) -> None:
    model = SFModule()
    finder = LRFinder(num_training_steps=10, confirm=False, apply=False)
    trainer(tmp_path, [finder, ScheduleFree()], max_epochs=1).fit(model)
    assert finder.result is not None and len(finder.result.lrs) == 10
    assert set(model.modes["train"]) == {True} and set(model.modes["val"]) == {False}


class SwitchesItself(SFModule):
    """Calls ``optimizer.train()`` itself, as code written before ``ScheduleFree()`` does."""

    def on_train_epoch_start(self) -> None:
        self.trainer.optimizers[0].train()


def test_a_schedule_callback_without_schedule_free_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"no ScheduleFree\(\) callback"):
        trainer(tmp_path, [CosineAnnealing()], max_epochs=1, limit_val_batches=0).fit(SwitchesItself())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no ScheduleFree")
        trainer(tmp_path, [ScheduleFree(), CosineAnnealing()], max_epochs=1, limit_val_batches=0).fit(SFModule())
