"""layerwise_param_groups on a small ``torch.nn.TransformerEncoder``, and every schedule callback keeping its ratios."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_lr as ll
from lightning_lr import layerwise_param_groups
from lightning_lr.schedules import Linear
from tests.helpers import Recorder, make_trainer

LAYERS, DECAY, LR, WD = 3, 0.5, 1e-3, 0.05


class Classifier(nn.Module):
    """Embedding -> 3 encoder blocks -> LayerNorm -> head: the shape of a BERT/ViT fine-tune, in small."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.pos = nn.Parameter(torch.zeros(1, 6, 8))
        block = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(block, LAYERS, norm=nn.LayerNorm(8), enable_nested_tensor=False)
        self.head = nn.Linear(8, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens) + self.pos).mean(dim=1))


def layer_of(name: str) -> int:
    """The BEiT numbering, written out by hand: embeddings 0, block i -> i + 1, the rest L + 1."""
    if name.startswith(("embed.", "pos")):
        return 0
    if name.startswith("encoder.layers."):
        return int(name.split(".")[2]) + 1
    return LAYERS + 1


def test_groups_follow_the_beit_recipe() -> None:
    model = Classifier()
    groups = layerwise_param_groups(model, lr=LR, layer_decay=DECAY, weight_decay=WD, no_weight_decay=["pos"])
    where = {id(p): g for g in groups for p in g["params"]}
    names = dict(model.named_parameters())
    assert sum(len(g["params"]) for g in groups) == len(names), "every parameter exactly once"
    assert len(where) == len(names)
    for name, param in names.items():
        group = where[id(param)]
        assert group["lr"] == pytest.approx(LR * DECAY ** (LAYERS + 1 - layer_of(name)), rel=1e-15), name
        no_decay = name.endswith("bias") or "norm" in name or name == "pos"
        assert group["weight_decay"] == (0.0 if no_decay else WD), name
        assert group["name"] == f"layer_{layer_of(name)}" + ("_no_decay" if no_decay else "")
    assert [g["name"] for g in groups][:3] == ["layer_0", "layer_0_no_decay", "layer_1"]
    assert groups[-1]["lr"] == LR
    torch.optim.AdamW(groups)  # any optimizer takes them


def test_frozen_parameters_are_left_out_and_layers_can_be_named() -> None:
    model = Classifier()
    model.embed.weight.requires_grad_(False)
    groups = layerwise_param_groups(model, lr=LR, layer_decay=DECAY, layers="encoder.layers")
    params = [p for g in groups for p in g["params"]]
    assert all(p is not model.embed.weight for p in params)
    assert len(params) == len([p for p in model.parameters() if p.requires_grad])
    assert all(g["weight_decay"] == 0.0 for g in groups)  # weight_decay defaults to 0


def test_a_sequential_stack_and_layer_decay_one() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)), nn.Linear(4, 1))
    groups = layerwise_param_groups(model, lr=0.1, layer_decay=1.0, layers="1")
    assert {g["lr"] for g in groups} == {0.1}
    named = [(g["name"], g["lr"]) for g in layerwise_param_groups(model, 0.1, 0.5, layers="1")]
    assert named == [  # the stack's blocks are numbered by position, the ReLU (no parameters) included
        ("layer_0", 0.1 * 0.5**4),
        ("layer_0_no_decay", 0.1 * 0.5**4),
        ("layer_1", 0.1 * 0.5**3),
        ("layer_1_no_decay", 0.1 * 0.5**3),
        ("layer_3", 0.1 * 0.5),
        ("layer_3_no_decay", 0.1 * 0.5),
        ("layer_4", 0.1),
        ("layer_4_no_decay", 0.1),
    ]


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "match"),
    [
        (Classifier(), {"lr": 0.0}, ValueError, "`lr` must be > 0"),
        (Classifier(), {"layer_decay": 1.5}, ValueError, "`layer_decay` must be in"),
        (Classifier(), {"layer_decay": 0.0}, ValueError, "`layer_decay` must be in"),
        (Classifier(), {"weight_decay": -0.1}, ValueError, "`weight_decay`"),
        (Classifier(), {"layers": "encoder.nope"}, ValueError, "is not a submodule"),
        (Classifier(), {"layers": "head"}, ValueError, "must name a non-empty nn.ModuleList"),
        (Classifier(), {"no_weight_decay": ["nope"]}, ValueError, "unknown: \\['nope'\\]"),
        (nn.Linear(2, 2), {}, ValueError, "has no nn.ModuleList of blocks"),
        (
            nn.ModuleDict({"a": nn.ModuleList([nn.Linear(1, 1)]), "b": nn.ModuleList([nn.Linear(1, 1)])}),
            {},
            ValueError,
            "several stacks",
        ),
        ("model", {}, TypeError, "`model` must be a torch.nn.Module"),
    ],
)
def test_bad_input(model: Any, kwargs: dict[str, Any], error: type, match: str) -> None:
    arguments = {"lr": LR, "layer_decay": DECAY, **kwargs}
    with pytest.raises(error, match=match):
        layerwise_param_groups(model, **arguments)


# ----------------------------------------------------------------------------- a real Lightning fine-tune
class FineTune(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = Classifier()
        self.recorder = Recorder()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        tokens, labels = batch
        loss = nn.functional.cross_entropy(self.model(tokens), labels)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> Any:
        groups = layerwise_param_groups(self.model, lr=LR, layer_decay=DECAY, weight_decay=WD)
        optimizer = torch.optim.AdamW(groups)
        self.recorder.attach(optimizer)
        return optimizer

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(0)
        return DataLoader(TensorDataset(torch.randint(0, 16, (24, 6), generator=g), torch.arange(24) % 2), batch_size=4)


CALLBACKS = [
    pytest.param(lambda: ll.OneCycle(), id="OneCycle"),
    pytest.param(lambda: ll.CosineAnnealing(eta_min=0.0, warmup="10%"), id="CosineAnnealing"),
    pytest.param(lambda: ll.CosineRestarts(T_0=4, T_mult=2), id="CosineRestarts"),
    pytest.param(lambda: ll.StepDecay(step_size=4, gamma=0.5), id="StepDecay"),
    pytest.param(lambda: ll.MultiStepDecay(milestones=[5, 10]), id="MultiStepDecay"),
    pytest.param(lambda: ll.ExponentialDecay(gamma=0.9), id="ExponentialDecay"),
    pytest.param(lambda: ll.WarmupLinear(num_warmup_steps=3), id="WarmupLinear"),
    pytest.param(lambda: ll.WarmupCosine(num_warmup_steps=3), id="WarmupCosine"),
    pytest.param(
        lambda: ll.ReduceLROnPlateau("train_loss", mode="max", patience=0, factor=0.5), id="ReduceLROnPlateau"
    ),
    pytest.param(lambda: ll.LRScheduler(Linear(1.0, 0.1)), id="LRScheduler"),
]


@pytest.mark.parametrize("make_callback", CALLBACKS)
def test_every_schedule_callback_keeps_the_layer_ratios(tmp_path: Any, make_callback: Any) -> None:
    module = FineTune()
    make_trainer(tmp_path, [make_callback()], max_epochs=3).fit(module)
    configured = [g["lr"] for g in layerwise_param_groups(Classifier(), lr=LR, layer_decay=DECAY)]
    ratios = [lr / configured[-1] for lr in configured]
    assert len(module.recorder.lrs) == 18
    assert len({lrs[-1] for lrs in module.recorder.lrs}) > 1, "the schedule never moved: the case tests nothing"
    for step, lrs in enumerate(module.recorder.lrs):
        assert lrs == pytest.approx([lrs[-1] * r for r in ratios], rel=1e-12, abs=1e-18), step


def test_schedule_lr_keeps_the_layer_ratios() -> None:
    groups = layerwise_param_groups(Classifier(), lr=LR, layer_decay=DECAY)
    optimizer = torch.optim.AdamW(groups)
    scheduler = ll.ScheduleLR(optimizer, ll.OneCycle(), total_steps=10)
    for _ in range(10):
        lrs = scheduler.get_last_lr()
        assert lrs == pytest.approx([lrs[-1] * DECAY ** (LAYERS + 1 - int(g["name"].split("_")[1])) for g in groups])
        optimizer.step()
        scheduler.step()
