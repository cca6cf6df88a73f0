"""The finder's boundary with Lightning (issue 13, point 6): gradient clipping the Lightning way, one
way to the train dataloader, a public way for ``find_lr`` to configure its finder, one moving average,
distinct names, a versioned state.

Every Lightning test is a real (tiny) fit; nothing is mocked.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from torch.optim import Optimizer

from lightning_lr.finder import FinderResult, LRFinder, find_lr
from lightning_lr.finder.callback import STATE_VERSION
from lightning_lr.finder.search import StopRule
from lightning_lr.finder.smoothing import MovingAverage, smooth
from lightning_lr.finder.steps import loss_or_skip
from tests.helpers import TinyModel, make_trainer

REPO = Path(__file__).resolve().parents[1]
FINDER = REPO / "lightning_lr" / "finder"


# --------------------------------------------------------------------------- 1. gradient clipping
class StepProbe:
    """Keeps, after every real optimizer step, the gradients the step used and the weights it produced.

    A plain object attached through ``register_step_post_hook``: the finder restores the module's
    attributes, not what this holds.
    """

    def __init__(self) -> None:
        self.grads: list[list[torch.Tensor]] = []
        self.weights: list[list[torch.Tensor]] = []

    def attach(self, optimizer: Optimizer) -> None:
        def hook(opt: Optimizer, args: Any, kwargs: Any) -> None:
            params = [p for g in opt.param_groups for p in g["params"]]
            self.grads.append([p.grad.detach().clone() for p in params])  # type: ignore[union-attr]
            self.weights.append([p.detach().clone() for p in params])

        optimizer.register_step_post_hook(hook)


class ClipModel(TinyModel):
    """Large gradients (targets x 100) so that clipping bites; ``own_clip`` overrides Lightning's clipping hook."""

    def __init__(self, probe: StepProbe, own_clip: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe, self.own_clip = probe, own_clip

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), 100.0 * y)

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        self.probe.attach(optimizer)
        return optimizer

    def configure_gradient_clipping(
        self, optimizer: Optimizer, gradient_clip_val: Any = None, gradient_clip_algorithm: Any = None
    ) -> None:
        if self.own_clip:  # the documented override: the module's own rule, whatever the Trainer says
            self.clip_gradients(optimizer, gradient_clip_val=0.01, gradient_clip_algorithm="value")
        else:
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)


class MaxNormPrecision(Precision):
    """A precision plugin that clips by the largest absolute gradient entry (inf-norm) instead of the 2-norm."""

    def clip_grad_by_norm(self, optimizer: Optimizer, clip_val: int | float) -> None:
        torch.nn.utils.clip_grad_norm_(self.main_params(optimizer), clip_val, norm_type=float("inf"))


def _amp() -> MixedPrecision:
    """fp16 autocast with a gradient scaler on the CPU: the finder unscales before it clips, as Lightning does."""
    return MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=4.0))


CLIPPING = [  # the Trainer's arguments (made afresh for each run), and whether the module overrides the hook
    pytest.param(lambda: {"gradient_clip_val": 0.5}, False, id="norm-by-default"),
    pytest.param(lambda: {"gradient_clip_val": 0.5, "gradient_clip_algorithm": "norm"}, False, id="norm"),
    pytest.param(lambda: {"gradient_clip_val": 0.02, "gradient_clip_algorithm": "value"}, False, id="value"),
    pytest.param(lambda: {}, True, id="module-configure_gradient_clipping"),
    pytest.param(lambda: {"gradient_clip_val": 0.5, "plugins": [MaxNormPrecision()]}, False, id="precision-plugin"),
    pytest.param(lambda: {"gradient_clip_val": 0.5, "plugins": [_amp()]}, False, id="amp-scaler-norm"),
]


def _first_step(tmp_path: Path, trainer_kwargs: dict[str, Any], own_clip: bool, finder: bool) -> StepProbe:
    """The probe of the first optimizer step at lr=0.05: of the range test, or of Lightning's own training."""
    torch.manual_seed(0)
    probe = StepProbe()
    model = ClipModel(probe, own_clip=own_clip, lr=0.05)
    if finder:
        trainer = make_trainer(tmp_path / "finder", [], **trainer_kwargs)
        find_lr(trainer, model, min_lr=0.05, max_lr=0.1, num_training_steps=2)
    else:
        trainer = make_trainer(tmp_path / "fit", [], max_steps=1, **trainer_kwargs)
        trainer.fit(model)
    return probe


@pytest.mark.parametrize(("trainer_kwargs", "own_clip"), CLIPPING)
def test_the_range_test_clips_gradients_exactly_as_lightnings_own_step(
    tmp_path: Path, trainer_kwargs: Callable[[], dict[str, Any]], own_clip: bool
) -> None:
    unclipped = _first_step(tmp_path / "none", {}, own_clip=False, finder=False)
    reference = _first_step(tmp_path / "lightning", trainer_kwargs(), own_clip, finder=False)
    tested = _first_step(tmp_path / "test", trainer_kwargs(), own_clip, finder=True)
    assert len(tested.grads) == 2 and len(reference.grads) == 1
    # clipping took effect: Lightning's step used other gradients than an unclipped one
    assert any(not torch.equal(a, b) for a, b in zip(reference.grads[0], unclipped.grads[0]))
    for got, want in zip(tested.grads[0], reference.grads[0]):
        assert torch.equal(got, want)  # bit for bit
    for got, want in zip(tested.weights[0], reference.weights[0]):
        assert torch.equal(got, want)


# --------------------------------------------------------------------------- 2. one way to the train data
def _finder_trees() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text()) for path in sorted(FINDER.glob("*.py"))}


def test_the_finder_reaches_the_train_dataloader_only_through_load_train_dataloader_once() -> None:
    """``lightning_lr.train_data.load_train_dataloader`` is the one helper; the finder calls it in one place and
    hands what it returns to the snapshot and the batches, so no finder module reads ``trainer.train_dataloader``,
    ``estimated_stepping_batches`` or ``fit_loop.setup_data`` its own way."""
    own_way = {"train_dataloader", "estimated_stepping_batches", "setup_data", "train_dataloaders"}
    reached: list[str] = []
    calls: list[str] = []
    for name, tree in _finder_trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in own_way:
                reached.append(f"{name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called == "load_train_dataloader":
                    calls.append(f"{name}:{node.lineno}")
    assert reached == []
    assert len(calls) == 1, calls


# --------------------------------------------------------------------------- 3. find_lr through a public path
def test_find_lr_configures_its_finder_through_public_names_only() -> None:
    """``find_lr`` builds its finder with :meth:`LRFinder.standalone`; it reads or writes no private attribute."""
    tree = _finder_trees()["function.py"]
    private = [
        f"{node.lineno} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
    ]
    assert private == []
    called = {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and hasattr(node.func, "attr")}
    assert "standalone" in called


def test_a_standalone_finder_runs_the_test_applies_nothing_stops_the_fit_and_writes_its_result(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TinyModel(groups=2, n=256, batch_size=32)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    path = tmp_path / "result.json"
    finder = LRFinder.standalone(result_file=str(path), num_training_steps=20, min_lr=1e-5, max_lr=10.0)
    assert finder.apply is False
    trainer = make_trainer(tmp_path, [finder], max_epochs=2)
    trainer.fit(model)
    assert finder.result is not None and len(finder.result.lrs) > 5
    assert trainer.global_step == 0 and len(model.recorder.lrs) == len(finder.result.lrs)  # test steps only
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert [g["lr"] for g in trainer.optimizers[0].param_groups] == [0.1, pytest.approx(0.01)]  # nothing applied
    assert FinderResult.load(path) == finder.result


def test_standalone_refuses_apply_and_a_result_file_that_is_not_a_path() -> None:
    with pytest.raises(TypeError, match="apply"):
        LRFinder.standalone(apply=True)
    with pytest.raises(TypeError, match="result_file"):
        LRFinder.standalone(result_file=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_training_steps"):
        LRFinder.standalone(num_training_steps=1)


# --------------------------------------------------------------------------- 4. one moving average
def test_the_stop_decision_and_the_smoothed_losses_come_from_one_moving_average(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real test that diverges: the stop rule saw, point by point, the very numbers of
    ``result.smoothed_losses``, and both went through ``MovingAverage.update`` (counted)."""
    fed: list[float] = []
    update = MovingAverage.update

    def counted(self: MovingAverage, x: float) -> float:
        fed.append(x)
        return update(self, x)

    monkeypatch.setattr(MovingAverage, "update", counted)
    torch.manual_seed(0)
    finder = LRFinder(min_lr=1e-4, max_lr=1e4, num_training_steps=60, apply=False)
    make_trainer(tmp_path, [finder]).fit(TinyModel(n=1024, batch_size=128))
    result = finder.result
    assert result is not None and result.diverged and "diverged" in result.stop_reason
    n = len(result.losses)
    assert fed == result.losses + result.losses  # the stop rule during the test, then smooth() for the result

    rule = StopRule(finder.config.smoothing, finder.config.early_stop_threshold)  # replay the recorded curve
    decisions = [rule.check(lr, loss) for lr, loss in zip(result.lrs, result.losses)]
    assert [i for i, why in enumerate(decisions) if why is not None] == [result.usable] == [n - 1]
    assert decisions[-1] == result.stop_reason
    assert np.array_equal(np.array(rule.smoothed), np.array(result.smoothed_losses))  # to the bit
    assert np.array_equal(np.array(smooth(result.losses, finder.config.smoothing)), np.array(rule.smoothed))


# --------------------------------------------------------------------------- 5. distinct names
def test_no_two_modules_of_the_package_define_a_function_or_class_of_the_same_name() -> None:
    """Each name says what it does once: the finder's strict loss reader (``loss_or_skip``) no longer shares
    ``loss_of`` with the logging's lenient one."""
    where: dict[str, list[str]] = {}
    for path in sorted((REPO / "lightning_lr").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                where.setdefault(node.name, []).append(str(path.relative_to(REPO)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_the_finder_refuses_a_step_output_without_a_loss_and_skips_none() -> None:
    assert loss_or_skip(None) is None
    loss = torch.tensor(1.5)
    assert loss_or_skip(loss) is loss and loss_or_skip({"loss": loss, "x": 1}) is loss
    with pytest.raises(TypeError, match="training_step"):
        loss_or_skip({"value": loss})


# --------------------------------------------------------------------------- 6. a versioned state
def _checkpoint_with_finder(tmp_path: Path) -> tuple[str, LRFinder]:
    """A real checkpoint of a fit with ``LRFinder``: one epoch, saved at its end."""
    torch.manual_seed(0)
    finder = LRFinder(num_training_steps=20, min_lr=1e-5, max_lr=10.0)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    make_trainer(tmp_path, [finder, checkpoint], enable_checkpointing=True).fit(TinyModel(n=256, batch_size=32))
    return str(tmp_path / "ckpt" / "last.ckpt"), finder


def _edited(path: str, change: Any) -> str:
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["callbacks"]["LRFinder"] = change(dict(checkpoint["callbacks"]["LRFinder"]))
    out = f"{path}.edited.ckpt"
    torch.save(checkpoint, out)
    return out


def test_the_finder_state_in_a_real_checkpoint_holds_its_version_and_its_result(tmp_path: Path) -> None:
    path, finder = _checkpoint_with_finder(tmp_path)
    state = torch.load(path, weights_only=False)["callbacks"]["LRFinder"]
    assert state["version"] == STATE_VERSION == 2
    assert finder.result is not None and FinderResult.from_dict(state["result"]) == finder.result


def test_a_finder_state_from_a_newer_version_is_refused_before_any_step(tmp_path: Path) -> None:
    path, _ = _checkpoint_with_finder(tmp_path)
    newer = _edited(path, lambda state: {**state, "version": STATE_VERSION + 1})
    model = TinyModel(n=256, batch_size=32)
    trainer = make_trainer(tmp_path / "resume", [LRFinder(num_training_steps=20)], max_epochs=2)
    pattern = f"(?s)(?=.*LRFinder)(?=.*version {STATE_VERSION + 1})(?=.*upgrade lightning_lr)"
    with pytest.raises(ValueError, match=pattern):
        trainer.fit(model, ckpt_path=newer)
    assert model.recorder.lrs == []


def test_a_finder_state_without_a_version_still_resumes_with_its_result(tmp_path: Path) -> None:
    path, first = _checkpoint_with_finder(tmp_path)
    legacy = _edited(path, lambda state: {k: v for k, v in state.items() if k != "version"})
    assert "version" not in torch.load(legacy, weights_only=False)["callbacks"]["LRFinder"]
    finder = LRFinder(num_training_steps=20)
    model = TinyModel(n=256, batch_size=32)
    make_trainer(tmp_path / "resume", [finder], max_epochs=2).fit(model, ckpt_path=legacy)
    assert finder.result == first.result and finder.result is not None and finder.result.suggestion is not None
    assert len(model.recorder.lrs) == 8  # the second epoch's steps: no test on resume
