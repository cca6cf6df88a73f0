"""The command line every benchmark shares: ``--quick``, ``--write``, ``--threads``, ``--out-dir`` (and ``--seeds``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.harness.report import DOCS, loadavg, quiet_lightning


def parser(doc: str | None, quick: str, seeds: int | None = None) -> argparse.ArgumentParser:
    """The shared flags; ``quick``: what ``--quick`` does; ``seeds``: the default of ``--seeds`` (None: no flag)."""
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if seeds is not None:
        p.add_argument("--seeds", type=int, default=seeds, help=f"number of seeds, 0..N-1 (default {seeds})")
    p.add_argument("--quick", action="store_true", help=f"{quick}; writes nothing unless --write")
    p.add_argument("--write", action="store_true", help="write the docs files even with --quick")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--out-dir", type=Path, default=DOCS, help="folder of the .json and .md (default docs/benchmarks)")
    return p


def start(args: argparse.Namespace) -> float | None:
    """Threads set, Lightning quiet; the 1-minute load average now (for the report)."""
    torch.set_num_threads(args.threads)
    quiet_lightning()
    return loadavg()


def writes(args: argparse.Namespace) -> bool:
    """A full run writes the docs files; a ``--quick`` one only with ``--write``."""
    return bool(args.write or not args.quick)
