"""What ``WarmupStableDecay`` keeps between fits and in checkpoints: the warmup, the cooldown's decisions, the
checks of its ``monitor``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lightning_lr.callbacks.metric_watch import Patience
from lightning_lr.planner import StartPoint


@dataclass
class WSDStart(StartPoint):
    """A start point that also keeps the cooldown's decisions.

    Args:
        warmup: The warmup's length in clock units, fixed at the fresh start (a fraction of training stays
            the same number of steps when a later run is longer).
        decay_at: Per optimizer, where the decay starts when that was decided during the run
            (:meth:`WarmupStableDecay.decay_now`, a resume after the decay began); ``None``: at its natural place.
        decay_len: The decay's length when ``decay_at`` was decided.
        stop: End training when the decay is done (:meth:`WarmupStableDecay.decay_now`).
        watch: The checks of ``monitor`` so far (``WarmupStableDecay(monitor=...)``).
    """

    warmup: float | None = None
    decay_at: list[float | None] = field(default_factory=list)
    decay_len: float | None = None
    stop: bool = False
    watch: Patience | None = None

    def extra_state(self) -> dict[str, Any]:
        decided = {"decay_at": list(self.decay_at), "decay_len": self.decay_len, "stop": self.stop}
        watch = {} if self.watch is None else {"watch": asdict(self.watch)}
        return {"wsd": {"warmup": self.warmup, **decided, **watch}}

    @classmethod
    def extra_fields(cls, state: dict[str, Any]) -> dict[str, Any]:
        wsd = state.get("wsd")  # before version 3 it also held "planned_total", the state's "total"
        if wsd is None:
            return {}
        return {
            "warmup": wsd["warmup"],
            "decay_at": list(wsd["decay_at"]),
            "decay_len": wsd["decay_len"],
            "stop": bool(wsd["stop"]),
            "watch": None if wsd.get("watch") is None else Patience(**wsd["watch"]),
        }
