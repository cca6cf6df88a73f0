"""Regenerate docs/images/tensorboard_*.png: a short real run, TensorBoard on localhost, headless Chromium.

The run: ``LRFinder`` then ``OneCycle`` on two param groups, the LR logged at every optimizer step
(``log_every_n_steps=1``, as in ``examples/train_cifar.py``). The IMAGES screenshot is taken at the
size a user sees (``Show actual image size`` off): it is how the figures' size was chosen.

Needs Debian's chromium (``apt-get install chromium``); run from the repository root:
``python docs/scripts/tensorboard_screenshot.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from lightning.pytorch.loggers import TensorBoardLogger

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lightning_lr import LRFinder, OneCycle
from tests.helpers import TinyModel, make_trainer

PORT = 6123
CHROMIUM = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",
]


def main() -> None:
    out = Path("docs/images")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as root:
        logger = TensorBoardLogger(root, name="onecycle", version="", default_hp_metric=False)
        model = TinyModel(optimizer="sgd", groups=2, n=1024, batch_size=32, lr=0.05)
        callbacks = [LRFinder(min_lr=1e-4, max_lr=10.0, num_training_steps=60), OneCycle()]
        make_trainer(root, callbacks, logger=logger, log_every_n_steps=1, max_epochs=6).fit(model)
        board = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", root, "--host", "127.0.0.1", "--port", str(PORT)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(60):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.5)
            for tab, size in (("custom_scalars", "1500,420"), ("images", "1500,760")):
                profile = tempfile.mkdtemp()
                target = out / f"tensorboard_{tab}.png"
                subprocess.run(
                    [
                        *CHROMIUM,
                        f"--user-data-dir={profile}",
                        f"--window-size={size}",
                        f"--screenshot={target}",
                        f"http://127.0.0.1:{PORT}/#{tab}",
                    ],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                shutil.rmtree(profile, ignore_errors=True)
                print(f"wrote {target}")
        finally:
            board.terminate()
            board.wait(timeout=10)


if __name__ == "__main__":
    main()
