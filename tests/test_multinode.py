"""Multi-node DDP simulated on the loopback interface: 2 nodes x 1 process, started by ``torchrun``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("multinode_script.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_nodes_set_identical_lrs_and_take_one_finder_decision(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SCRIPT.parents[1])}
    nodes = [
        subprocess.Popen(
            [
                sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
                f"--node-rank={rank}", "--master-addr=127.0.0.1", f"--master-port={port}",
                str(SCRIPT), str(tmp_path),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]  # fmt: skip
    outputs = [node.communicate(timeout=240)[0] for node in nodes]
    for node, output in zip(nodes, outputs):
        assert node.returncode == 0, output[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["node_rank"] for r in ranks] == [0, 1]
    assert ranks[0]["suggestion"] is not None
    assert ranks[0]["suggestion"] == ranks[1]["suggestion"]  # one decision, broadcast from rank 0
    assert ranks[0]["finder_lrs"] == ranks[1]["finder_lrs"]
    points = len(ranks[0]["finder_lrs"])
    assert len(ranks[0]["lrs"]) == points + 3 * 4  # the test's steps, then 3 epochs of 4 batches per rank
    assert ranks[0]["lrs"] == ranks[1]["lrs"]  # every step, both groups, identical on both nodes
    first = ranks[0]["lrs"][points][0]
    assert first == pytest.approx(ranks[0]["suggestion"] / 25, rel=1e-9)  # 1cycle starts at the finder's peak / 25
