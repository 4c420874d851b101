"""`EventStore`: the metrics of a training run, shared by the loop and its hooks.

detectron2's shape (`EventStorage`): the loop and the hooks write what they measure here and
read what others measured from here, instead of setting fields on the trainer. It holds the
latest value of each named scalar (`lr`, `grad_norm`, ...), a window of the last `window`
values of each per-step scalar (`loss`, `dt`, ...: the medians of the json_stats lines), and
one record per epoch (`epoch`, `lr`, `train_*`, `val_*`), the run's history that checkpoints
save and resume.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Any


class EventStore:
    """Latest scalars by name and the per-epoch records of one run."""

    def __init__(self, history: list[dict] | None = None, window: int = 20):
        self.history: list[dict] = list(history or [])
        self.latest: dict[str, Any] = {}
        self.window = max(int(window), 1)
        self._windows: dict[str, deque] = {}
        self._record: dict | None = None

    def put_window(self, **values: float) -> None:
        """Add one step's value of each named per-step scalar to its window."""
        for name, value in values.items():
            self._windows.setdefault(name, deque(maxlen=self.window)).append(value)

    def median(self, name: str) -> float | None:
        """Median of `name` over its window (None before the first value)."""
        values = self._windows.get(name)
        return statistics.median(values) if values else None

    def clear_windows(self) -> None:
        """Empty every window (each epoch's medians start afresh)."""
        self._windows.clear()

    def put(self, **values: Any) -> None:
        """Record the latest value of each named scalar (lr=..., grad_norm=...)."""
        self.latest.update(values)

    def get(self, name: str, default: Any = None) -> Any:
        """The latest value of scalar `name`, or `default` when none was put."""
        return self.latest.get(name, default)

    def start_epoch_record(self, **values: Any) -> dict:
        """Open the record of the epoch that just finished training and add it to the history."""
        self._record = dict(values)
        self.history.append(self._record)
        return self._record

    @property
    def epoch_record(self) -> dict:
        """The record of the current epoch ({} before the first one is opened)."""
        return self._record if self._record is not None else {}

    def put_epoch(self, **values: Any) -> None:
        """Add values (e.g. val_top1_err) to the current epoch's record."""
        if self._record is None:
            raise RuntimeError("put_epoch before start_epoch_record")
        self._record.update(values)

    def best(self, name: str, before_current: bool = False) -> float | None:
        """The smallest value of `name` over the epoch records that have it (None if none do);
        with `before_current`, over the epochs before the current one."""
        records = self.history[:-1] if before_current and self._record is not None else self.history
        values = [record[name] for record in records if record.get(name) is not None]
        return min(values) if values else None
