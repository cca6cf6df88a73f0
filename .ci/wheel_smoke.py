"""Smoke test of an installed lightning_lr wheel (run by .ci/run from outside the repository).

Checks that the package imported is the installed one, that it ships ``py.typed`` and reports the
version its metadata has, that a tiny fit with the finder and 1cycle runs, and that the preview CLI
writes a figure (matplotlib is a dependency).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    import lightning_lr

    package = Path(lightning_lr.__file__).resolve().parent
    assert "site-packages" in package.parts, f"imported {package}, not the installed wheel"
    assert (package / "py.typed").is_file(), "the wheel has no py.typed"
    from importlib.metadata import version

    assert version("lightning-lr") == lightning_lr.__version__, (version("lightning-lr"), lightning_lr.__version__)

    import torch
    from lightning.pytorch import LightningModule, Trainer
    from torch.utils.data import DataLoader, TensorDataset

    class Model(LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def train_dataloader(self) -> DataLoader:
            x = torch.randn(64, 4)
            return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)

    finder = lightning_lr.LRFinder(num_training_steps=20)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            max_epochs=2,
            callbacks=[finder, lightning_lr.OneCycle()],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=tmp,
        )
        trainer.fit(Model())
        assert finder.result is not None and len(finder.result.lrs) > 0, finder.result
        print(finder.result.explain())
        out = Path(tmp) / "onecycle.png"
        command = [sys.executable, "-m", "lightning_lr", "preview", "OneCycle", "--steps", "100", "--out", str(out)]
        subprocess.run(command, check=True)
        assert out.stat().st_size > 1000
    print(f"wheel smoke test passed: lightning_lr {lightning_lr.__version__} from {package}")


if __name__ == "__main__":
    main()
