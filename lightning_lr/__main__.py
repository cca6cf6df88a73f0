"""``python -m lightning_lr preview NAME``: see a schedule callback's LR and momentum before training.

Example::

    python -m lightning_lr preview OneCycle --steps 1000 --set pct_start=0.25 --out onecycle.png
    python -m lightning_lr preview CosineAnnealing --steps 30 --set interval=epoch warmup=3
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import yaml

import lightning_lr
from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.preview import preview, sparkline

CALLBACKS = sorted(
    name
    for name in lightning_lr.__all__
    if isinstance(getattr(lightning_lr, name), type)
    and issubclass(getattr(lightning_lr, name), ScheduleCallback)
    and name not in ("ScheduleCallback", "LRScheduler", "HyperparameterScheduler")  # these take a Schedule object
)


def _value(text: str) -> Any:
    """A number (``1e-3`` too, which YAML 1.1 reads as a string), else YAML (lists, booleans, strings)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def _parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes key=value pairs, got {pair!r}")
        settings[key] = _value(text)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightning_lr", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("preview", help="draw a schedule callback's LR and momentum for a run length")
    cmd.add_argument("name", choices=CALLBACKS, help="callback class")
    cmd.add_argument("--steps", type=int, default=1000, help="run length in clock units (default 1000)")
    cmd.add_argument("--steps-per-epoch", type=int, default=None, help="for durations in epochs")
    cmd.add_argument("--lr", type=float, nargs="+", default=[0.1], help="base LR of each param group")
    cmd.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    cmd.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="callback arguments")
    cmd.add_argument("--out", default=None, help="write a PNG figure here (needs matplotlib)")
    cmd.add_argument("--width", type=int, default=60, help="sparkline width in characters")
    args = parser.parse_args(argv)

    try:
        callback = getattr(lightning_lr, args.name)(**_parse_settings(args.set))
        result = preview(callback, args.steps, args.lr, args.steps_per_epoch, args.optimizer)
    except (TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.name} over {args.steps} {result.unit}s")
    for name, values in result.series.items():
        print(f"{name:>24} {sparkline(values, args.width)}  {min(values):.3g} .. {max(values):.3g}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        figure = result.plot()
        figure.savefig(args.out, dpi=120)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
