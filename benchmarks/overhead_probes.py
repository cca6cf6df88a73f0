"""Probes behind ``benchmarks/overhead.py``: the LR work of each arm per optimizer step, in isolation.

``overhead.py`` answers its question (the per-step cost ratio) with whole training runs. When the ratio
moves, these probes say where the time goes; they read Lightning internals (its callback dispatch, the
step-scheduler update, the optimizer's post-step hooks), so they live here, not in the benchmark, and
may need updating when Lightning changes.

* micro-benchmark, inside a real run (every hook sees a real trainer): our hooks called directly
  (``on_train_batch_start`` + the optimizer post-step hook that advances our clock +
  ``on_train_batch_end``), the same through Lightning's callback dispatch, and for PyTorch
  ``OneCycleLR.step()``, Lightning's scheduler update and the monitor's dispatch;
* ``--profile``: cProfile of one run of our arm, the lightning_lr functions per step.

Same model, arms and group counts as ``overhead.py``. Prints only::

    python benchmarks/overhead_probes.py                 # 1, 100, 1000 groups
    python benchmarks/overhead_probes.py --groups 1000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

if __name__ == "__main__":  # `python benchmarks/overhead_probes.py`: the repository first on sys.path
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import REPO, quiet_lightning, quiet_trainer, text_table
from benchmarks.overhead import ARMS, GroupedMLP, StepTimer, arm_callbacks, fit, make_loader
from lightning_lr import OneCycle


def loop_empty(n: int) -> None:
    """The loop's own cost, subtracted from every probe."""
    for _ in range(n):
        pass


class MicroProbe(Callback):
    """Runs timed loops of one arm's LR work inside a real run, at batch ``at``, then stops the run.

    Each figure is microseconds per loop iteration (one optimizer step's worth), the best of
    ``repeat`` loops of ``calls`` iterations, with the same loop's cost without that work subtracted.
    """

    def __init__(self, arm: str, calls: int, repeat: int = 5, at: int = 3) -> None:
        self.arm, self.calls, self.repeat, self.at = arm, calls, repeat, at
        self.results: dict[str, float] = {}

    def best(self, body: Any) -> float:
        times = []
        for _ in range(self.repeat):
            gc.collect()
            t0 = time.perf_counter()
            body(self.calls)
            times.append((time.perf_counter() - t0) / self.calls * 1e6)
        return min(times)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        if i != self.at:
            return
        callbacks = trainer.callbacks  # type: ignore[attr-defined]
        mine = [c for c in callbacks if not isinstance(c, (StepTimer, MicroProbe))]
        optimizer = trainer.optimizers[0]
        outputs = {"loss": torch.tensor(0.5)}
        post: list[Any] = []  # what Optimizer.step calls after a real step: our clock's hook, while probed
        dispatch = self.dispatch_loop(trainer, batch, optimizer, outputs, post)
        base = self.best(loop_empty)
        try:
            trainer.callbacks = []  # type: ignore[attr-defined]
            none = self.best(dispatch)
            trainer.callbacks = [Callback()]  # type: ignore[attr-defined]
            self.results["noop_callback_dispatch_us"] = self.best(dispatch) - none
            if self.arm == "pytorch":
                self.pytorch(trainer, base)
            else:
                ours = next(c for c in mine if isinstance(c, OneCycle))
                post[:] = list(optimizer._optimizer_step_post_hooks.values())
                self.ours(ours, trainer, pl_module, batch, outputs, post, base)
            trainer.callbacks = mine  # type: ignore[attr-defined]
            key = "monitor_dispatch_us" if self.arm == "pytorch" else "ours_dispatch_us"
            self.results[key] = self.best(dispatch) - none
            post.clear()
        finally:
            trainer.callbacks = callbacks  # type: ignore[attr-defined]
        trainer.should_stop = True

    @staticmethod
    def dispatch_loop(trainer: pl.Trainer, batch: Any, optimizer: Any, outputs: Any, post: list[Any]) -> Any:
        """A loop over the callback hooks Lightning calls per optimizer step (and ``post``, the post-step hooks)."""
        from lightning.pytorch.trainer import call

        dispatch, loss = call._call_callback_hooks, outputs["loss"]

        def loop(n: int) -> None:
            for k in range(n):
                dispatch(trainer, "on_train_batch_start", batch, k)
                dispatch(trainer, "on_before_zero_grad", optimizer)
                dispatch(trainer, "on_before_backward", loss)
                dispatch(trainer, "on_after_backward")
                dispatch(trainer, "on_before_optimizer_step", optimizer)
                for hook in post:
                    hook(optimizer, (), {})
                dispatch(trainer, "on_train_batch_end", outputs, batch, k)

        return loop

    def pytorch(self, trainer: pl.Trainer, base: float) -> None:
        """``OneCycleLR.step()`` and Lightning's step-scheduler update around it."""
        update = trainer.fit_loop.epoch_loop.update_lr_schedulers
        scheduler = trainer.lr_scheduler_configs[0].scheduler

        def loop_update(n: int) -> None:
            for _ in range(n):
                update("step", update_plateau_schedulers=False)

        def loop_step(n: int) -> None:
            for _ in range(n):
                scheduler.step()

        self.results["torch_scheduler_update_us"] = self.best(loop_update) - base
        self.results["torch_scheduler_step_us"] = self.best(loop_step) - base

    def ours(
        self,
        ours: OneCycle,
        trainer: pl.Trainer,
        pl_module: Any,
        batch: Any,
        outputs: Any,
        post: list[Any],
        base: float,
    ) -> None:
        """Our hooks called directly: batch start, the optimizer post-step hook, batch end, ``state_key``."""
        optimizer = trainer.optimizers[0]

        def loop_start(n: int) -> None:
            for k in range(n):
                ours.on_train_batch_start(trainer, pl_module, batch, k)

        def loop_post(n: int) -> None:
            for _ in range(n):
                for hook in post:
                    hook(optimizer, (), {})

        def loop_end(n: int) -> None:
            for k in range(n):
                ours.on_train_batch_end(trainer, pl_module, outputs, batch, k)

        state_key = type(ours).state_key.fget

        def loop_key(n: int) -> None:
            for _ in range(n):
                state_key(ours)

        r = self.results
        r["ours_batch_start_us"] = self.best(loop_start) - base
        r["ours_post_step_us"] = self.best(loop_post) - base
        r["ours_batch_end_us"] = self.best(loop_end) - base
        r["ours_hooks_us"] = r["ours_batch_start_us"] + r["ours_post_step_us"] + r["ours_batch_end_us"]
        r["ours_state_key_us"] = self.best(loop_key) - base


def micro_benchmark(groups: int, tensors: int, calls: int, log_every: int) -> dict[str, float]:
    """The probes of every arm, each inside a real run with a logger (at a step that does not log)."""
    out: dict[str, float] = {}
    for arm in ARMS:
        probe = MicroProbe(arm, calls)
        with tempfile.TemporaryDirectory(prefix="lr_overhead_micro_") as tmp:
            trainer = quiet_trainer(
                1,
                [*arm_callbacks(arm), probe],
                logger=CSVLogger(tmp, name="micro"),
                log_every_n_steps=log_every,
                default_root_dir=tmp,
            )
            # OneCycleLR must last the loops; OneCycle holds its last value past the end
            model = GroupedMLP(arm, tensors, groups, total_steps=probe.repeat * calls * 2 + 100)
            trainer.fit(model, make_loader(probe.at + 5, 8))
        out.update({k: v for k, v in probe.results.items() if not k.startswith("noop") or arm == "pytorch"})
    return out


MICRO_LABELS = {
    "ours_batch_start_us": "OneCycle: on_train_batch_start (direct call)",
    "ours_post_step_us": "OneCycle: optimizer post-step hook (sets LR+momentum)",
    "ours_batch_end_us": "OneCycle: on_train_batch_end (direct call)",
    "ours_hooks_us": "OneCycle: its hooks per step, total",
    "ours_dispatch_us": "OneCycle: per step via Lightning's callback dispatch",
    "ours_state_key_us": "OneCycle.state_key, one read (Lightning reads it for every hook)",
    "noop_callback_dispatch_us": "a no-op Callback via Lightning's callback dispatch (6 hooks)",
    "torch_scheduler_step_us": "PyTorch: OneCycleLR.step() (direct call)",
    "torch_scheduler_update_us": "PyTorch: Lightning's step-scheduler update (calls .step())",
    "monitor_dispatch_us": "PyTorch: LearningRateMonitor via Lightning's callback dispatch",
}


def micro_rows(micro: dict[str, float]) -> list[tuple[str, str]]:
    rows = [(label, f"{micro[key]:.2f}") for key, label in MICRO_LABELS.items() if key in micro]
    if "torch_scheduler_update_us" in micro and "monitor_dispatch_us" in micro:
        total = micro["torch_scheduler_update_us"] + micro["monitor_dispatch_us"]
        rows.append(("PyTorch: scheduler update + monitor dispatch, total", f"{total:.2f}"))
    return rows


def profile_ours(groups: int, tensors: int, args: argparse.Namespace) -> list[tuple[str, ...]]:
    """cProfile one run of our arm: the lightning_lr functions, calls per step and microseconds."""
    profiler = cProfile.Profile()
    profiler.enable()
    fit("ours", groups, tensors, args)
    profiler.disable()
    stats = pstats.Stats(profiler)
    package = str(REPO / "lightning_lr")
    rows = []
    for (filename, line, name), (_, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename.startswith(package) and ct / args.steps * 1e6 >= 0.5:
            function = f"{os.path.relpath(filename, REPO)}:{line}({name})"
            rows.append((function, nc / args.steps, tt / nc * 1e6, ct / nc * 1e6, ct / args.steps * 1e6))
    rows.sort(key=lambda r: -r[4])
    return [(f, f"{a:.2f}", f"{b:.2f}", f"{c:.2f}", f"{d:.2f}") for f, a, b, c, d in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 100, 1000], help="param group counts")
    parser.add_argument("--calls", type=int, default=2_000, help="iterations per micro-benchmark loop")
    parser.add_argument("--profile", action="store_true", help="also cProfile one run of our arm per group count")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps of the profiled run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--accelerator", default="cpu", help="Trainer accelerator of the profiled run (default cpu)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    quiet_lightning()
    tensors = max(3, *args.groups)
    for groups in args.groups:
        micro = micro_benchmark(groups, tensors, args.calls, args.log_every)
        print(f"\n{groups} param groups ({tensors} parameter tensors):")
        print(text_table([("LR work per optimizer step in isolation", "us/step"), *micro_rows(micro)]))
        if args.profile:
            header = ("function", "calls/step", "own us/call", "cum us/call", "cum us/step")
            print(f"\ncProfile of one run of OneCycle ({args.steps} steps): lightning_lr functions, >= 0.5 us/step")
            print(text_table([header, *profile_ours(groups, tensors, args)]))
            print("(cProfile inflates per-call times several-fold; compare the rows with each other.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
