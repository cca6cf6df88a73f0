"""Logging of what the callbacks set: scalar names compatible with ``LearningRateMonitor``."""

from lightning_lr.logging.scalars import ScalarLogger, series_names

__all__ = ["ScalarLogger", "series_names"]
