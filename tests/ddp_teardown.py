"""One documented retry for the gloo teardown crash of multi-process tests, and nothing else.

On this CPU machine a ``ddp``/``ddp_spawn`` rank sometimes dies *after* ``fit`` has finished, while
the process group is torn down at interpreter exit: SIGABRT with ``terminate called without an
active exception`` (measured with plain Lightning and no lightning_lr callback: 1 run in 18). The
helpers here retry a run once, and only when all of these hold:

- the failure is that signature (SIGABRT, or the message on stderr for a subprocess);
- every result file the ranks write at the end of training exists, i.e. ``fit`` completed on every
  rank and the crash came after it.

Any other failure — an exception, a missing result, a different signal, a second crash — fails the
test as before. Each retry emits a warning, so it shows in pytest's summary.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch.multiprocessing as mp

SIGNATURE = "terminate called without an active exception"


def _completed(outputs: Sequence[Path]) -> bool:
    return all(path.exists() and path.stat().st_size > 0 for path in outputs)


def _clear(outputs: Sequence[Path]) -> None:
    for path in outputs:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def fit_spawn(run: Callable[[], Any], outputs: Sequence[Path]) -> Any:
    """``run()`` (a ``ddp_spawn`` fit), run again once if a rank died of SIGABRT after writing ``outputs``."""
    try:
        return run()
    except mp.ProcessExitedException as error:
        if error.signal_name != "SIGABRT" or not _completed(outputs):
            raise
        warnings.warn(f"ddp_spawn teardown crash after fit completed ({error}); retrying once", stacklevel=2)
    _clear(outputs)
    return run()


def run_script(command: Sequence[str], outputs: Sequence[Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command)`` (a ``ddp`` script), run again once on the teardown signature after ``outputs``."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0 and SIGNATURE in done.stderr and _completed(outputs):
        message = f"ddp teardown crash after the script completed (rc {done.returncode}); retrying once"
        warnings.warn(message, stacklevel=2)
        _clear(outputs)
        done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    return done
