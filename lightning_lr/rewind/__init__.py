"""Recovery from loss spikes and divergence: :class:`RewindOnSpike` and its snapshot of the last good state."""

from lightning_lr.rewind.callback import RewindOnSpike, TooManyRewindsError
from lightning_lr.rewind.snapshot import SnapshotTooLargeError, TrainingSnapshot

__all__ = ["RewindOnSpike", "SnapshotTooLargeError", "TooManyRewindsError", "TrainingSnapshot"]
