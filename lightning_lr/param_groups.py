r"""Param groups with layer-wise LR decay and no weight decay on biases and norms (fine-tuning recipe)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from torch import nn

from lightning_lr.checks import check_left_open_interval, check_non_negative, check_positive


def layerwise_param_groups(
    model: nn.Module,
    lr: float,
    layer_decay: float,
    weight_decay: float = 0.0,
    layers: str | None = None,
    no_weight_decay: Collection[str] = (),
) -> list[dict[str, Any]]:
    r"""Param groups whose LR shrinks geometrically from the head down to the embeddings.

    The model's stack of :math:`L` blocks (an ``nn.ModuleList`` such as
    ``nn.TransformerEncoder.layers``) numbers the layers: parameters registered before the stack
    (embeddings) are layer 0, block :math:`i` is layer :math:`i + 1`, everything after it (final
    norm, head) is layer :math:`L + 1`. Layer :math:`\ell` gets

    .. math:: \eta_\ell = \eta\, \lambda^{L + 1 - \ell}

    (the recipe of BEiT and ELECTRA fine-tuning, timm's ``--layer-decay``). Parameters with at
    most one dimension (biases, norm weights) and those named in ``no_weight_decay`` get no weight
    decay. Frozen parameters (``requires_grad=False``) are left out. Each group carries a ``name``
    (``layer_3``, ``layer_3_no_decay``), so LR logs read ``lr-AdamW/layer_3``.

    Every schedule callback and :class:`~lightning_lr.ScheduleLR` scale all groups by the same
    factor, so the ratios between layers hold for the whole run.

    Args:
        model: The model whose trainable parameters to group.
        lr: The LR of the top layer (the head), :math:`\eta`.
        layer_decay: :math:`\lambda` in ``(0, 1]``; 1 gives every layer ``lr``.
        weight_decay: Weight decay of the parameters that decay.
        layers: Dotted name of the block stack in ``model`` (e.g. ``"encoder.layers"``). ``None``:
            the ``nn.ModuleList`` with the most blocks.
        no_weight_decay: Names (as in ``model.named_parameters()``) of further parameters without
            weight decay, e.g. a position embedding.

    Returns:
        One dict per (layer, decay or not) that has parameters, with ``params``, ``lr``,
        ``weight_decay`` and ``name``; pass the list to any optimizer.

    Raises:
        ValueError: ``layers`` names no stack of blocks, or none is found.

    Example:
        >>> import torch
        >>> layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.TransformerEncoder(layer, 3))
        >>> groups = layerwise_param_groups(model, lr=1e-3, layer_decay=0.5, weight_decay=0.05)
        >>> [(g["name"], g["lr"], g["weight_decay"]) for g in groups[:3]]
        [('layer_0', 6.25e-05, 0.05), ('layer_0_no_decay', 6.25e-05, 0.0), ('layer_1', 0.000125, 0.05)]
        >>> optimizer = torch.optim.AdamW(groups)

    Reference: H. Bao et al., "BEiT: BERT Pre-Training of Image Transformers", 2022. arXiv:2106.08254.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
    lr = check_positive("lr", lr)
    layer_decay = check_left_open_interval("layer_decay", layer_decay, 0.0, 1.0)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    names = set(dict(model.named_parameters()))
    unknown = sorted(set(no_weight_decay) - names)
    if isinstance(no_weight_decay, str) or unknown:
        raise ValueError(
            f"`no_weight_decay` must list parameter names of the model; unknown: {unknown or no_weight_decay!r}."
        )
    prefix, blocks = _find_stack(model, layers)
    count = len(blocks)
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    seen_stack = False
    for name, param in model.named_parameters():
        in_stack = name.startswith(prefix)
        if in_stack:
            seen_stack = True
            layer = blocks[name[len(prefix) :].split(".", 1)[0]] + 1
        else:
            layer = count + 1 if seen_stack else 0
        if not param.requires_grad:
            continue
        decays = param.ndim > 1 and name not in no_weight_decay
        group = groups.setdefault(
            (layer, decays),
            {
                "params": [],
                "lr": lr * layer_decay ** (count + 1 - layer),
                "weight_decay": weight_decay if decays else 0.0,
                "name": f"layer_{layer}" + ("" if decays else "_no_decay"),
            },
        )
        group["params"].append(param)
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], not k[1]))]


def _find_stack(model: nn.Module, layers: str | None) -> tuple[str, dict[str, int]]:
    """The parameter-name prefix of the block stack (``"encoder.layers."``) and each block's index by name."""
    if layers is not None:
        if not isinstance(layers, str):
            raise TypeError(f"`layers` must be the dotted name of a submodule, got {layers!r}.")
        try:
            stack = model.get_submodule(layers)
        except AttributeError:
            raise ValueError(f"`layers`={layers!r} is not a submodule of {type(model).__name__}.") from None
        if not isinstance(stack, (nn.ModuleList, nn.Sequential)) or len(stack) == 0:
            raise ValueError(
                f"`layers`={layers!r} must name a non-empty nn.ModuleList or nn.Sequential of blocks, "
                f"got {type(stack).__name__}."
            )
        return _prefix(layers), {child: i for i, (child, _) in enumerate(stack.named_children())}
    stacks = [(len(m), name) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not stacks:
        raise ValueError(
            f"{type(model).__name__} has no nn.ModuleList of blocks; pass `layers` with the dotted name of its "
            "stack of blocks (an nn.ModuleList or nn.Sequential)."
        )
    most = max(n for n, _ in stacks)
    candidates = [name for n, name in stacks if n == most]
    if len(candidates) > 1:
        raise ValueError(
            f"{type(model).__name__} has several stacks of {most} blocks ({candidates}); pass `layers` to pick one."
        )
    stack = model.get_submodule(candidates[0])
    return _prefix(candidates[0]), {child: i for i, (child, _) in enumerate(stack.named_children())}


def _prefix(name: str) -> str:
    return f"{name}." if name else ""
