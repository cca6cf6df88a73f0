"""What a benchmark ran on: platform, CPU, versions, load; shared by the benchmark scripts."""

from __future__ import annotations

import datetime as dt
import os
import platform
from typing import Any

import lightning
import torch


def loadavg() -> float | None:
    """The 1-minute load average (``None`` where the OS has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def machine(load_start: float | None, **versions: str) -> dict[str, Any]:
    """Platform, CPU model and count, Python/torch/lightning (and ``versions``) and the load at start and now."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        **versions,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1min_start": load_start,
        "loadavg_1min_end": loadavg(),
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
