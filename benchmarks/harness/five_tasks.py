"""Five small tasks that differ in model, optimizer and loss (``benchmarks/finder.py`` and the tuning-free benchmark).

Every task trains for a fixed budget of epochs and scores higher-is-better: accuracy for
classification, R^2 for regression. Data: scikit-learn (digits, diabetes) and MNIST-1D
(:mod:`benchmarks.harness.data`).
"""

from __future__ import annotations

from benchmarks.harness import data, models
from benchmarks.harness.tasks import Task

TASKS = [  # cheapest first: a partial run still writes the tasks it finished
    Task(
        "digits-mlp",
        "MLP 64-128-10",
        data.digits,
        lambda: models.mlp(64, 128, 10),
        "SGD momentum 0.9",
        batch=32,
        epochs=2,
    ),
    Task(
        "diabetes-mlp",
        "MLP 10-64-1",
        data.diabetes,
        lambda: models.mlp(10, 64, 1),
        "Adam",
        "MSE (score R^2)",
        batch=16,
        epochs=10,
    ),
    Task("digits-cnn", "CNN 2 conv", data.digits, models.digits_cnn, "AdamW", batch=32, epochs=2),
    Task("mnist1d-cnn", "1-D CNN 3 conv", data.mnist1d, models.cnn1d, "SGD momentum 0.9", batch=64, epochs=4),
    Task("mnist1d-gru", "GRU 32", data.mnist1d, models.GRUClassifier, "Adam", batch=128, epochs=3),
]
