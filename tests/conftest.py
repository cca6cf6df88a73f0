"""Every test starts from the same random state, whatever ran before it in the session.

Without this a test that builds a model with default (random) initialisation would depend on how
much randomness earlier tests consumed, and pass or fail with the order of the suite.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _same_random_state_for_every_test() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
