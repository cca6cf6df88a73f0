"""One node of a 2-node DDP run on the loopback interface, started by ``torchrun`` (tests/test_multinode.py)::

    torchrun --nnodes=2 --nproc-per-node=1 --node-rank=N --master-addr=127.0.0.1 --master-port=P \\
        tests/multinode_script.py OUT_DIR

Each rank writes ``OUT_DIR/rank<r>.json``: the finder's decision and the LR of every optimizer step.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_lr import OneCycle
from lightning_lr.finder import LRFinder
from tests.finder_ddp_script import ShardModel
from tests.helpers import make_trainer


def main(out: str) -> None:
    torch.manual_seed(0)
    model = ShardModel(groups=2, n=256, batch_size=32)  # 4 batches per rank and epoch
    finder = LRFinder(min_lr=1e-4, max_lr=3.0, num_training_steps=24)
    trainer = make_trainer(out, [finder, OneCycle()], num_nodes=2, devices=1, strategy="ddp", max_epochs=3)
    trainer.fit(model)
    assert finder.result is not None
    data = {
        "world_size": trainer.world_size,
        "node_rank": trainer.node_rank,
        "suggestion": finder.result.suggestion,
        "finder_lrs": finder.result.lrs,
        "lrs": model.recorder.lrs,
    }
    (Path(out) / f"rank{trainer.global_rank}.json").write_text(json.dumps(data))


if __name__ == "__main__":
    main(sys.argv[1])
