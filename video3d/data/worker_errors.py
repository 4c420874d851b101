"""A video3d error raised in a DataLoader worker reaches the user as its own one line.

torch re-raises a worker's exception in the main process as "Caught DataError in DataLoader
worker process 0. Original Traceback ..." with the worker's whole traceback as the message
(and as a RuntimeError when the type needs other constructor arguments, as DecodeError does).
`UnwrappingDataLoader` recovers the original `Video3DError` from that text where the loader is
iterated, so NUM_WORKERS >= 1 reports exactly what NUM_WORKERS 0 reports. A worker that was killed (the
out-of-memory killer's SIGKILL: torch says "DataLoader worker (pid(s) N) exited unexpectedly"
with a long traceback) becomes one line naming memory and DATA_LOADER.NUM_WORKERS. It also takes the lines the
workers sent in a batch's "failures" field (broken and missing videos) out of the batch and
logs each once, from the main process (`VideoDataset.say`).
"""

from __future__ import annotations

import json
import re

from torch.utils.data import DataLoader

from video3d import errors

_WORKER_MESSAGE = re.compile(r"\ACaught \w+ in DataLoader worker process \d+\.\nOriginal ")
_VIDEO3D_ERROR_LINE = re.compile(r"^video3d\.errors\.(\w+): ", re.MULTILINE)
_WORKER_KILLED = re.compile(r"DataLoader worker \(pids?(?:\(s\))? ([\d, ]+)\) (?:exited unexpectedly|is killed by signal: Killed)")


def killed_worker_error(error: BaseException, workers: int) -> errors.DataError | None:
    """One line for a DataLoader worker that died without raising (killed: most often by the
    kernel's out-of-memory killer); None for any other error."""
    found = _WORKER_KILLED.search(str(error)) if isinstance(error, RuntimeError) else None
    if found is None:
        return None
    return errors.DataError(
        f"a DataLoader worker (pid {found.group(1)}) was killed, most likely by the out-of-memory killer "
        f"(memory ran out): lower DATA_LOADER.NUM_WORKERS (now {workers}), or TRAIN.BATCH_SIZE / the clip size")


def original_worker_error(error: BaseException) -> errors.Video3DError | None:
    """The `Video3DError` a DataLoader worker raised, rebuilt from torch's re-raised `error`;
    None when `error` is not a worker's video3d error (other errors keep their traceback)."""
    text = str(error)
    if not _WORKER_MESSAGE.match(text):
        return None
    lines = list(_VIDEO3D_ERROR_LINE.finditer(text))
    if not lines:
        return None
    last = lines[-1]
    message = text[last.end():].rstrip("\n")
    error_type = getattr(errors, last.group(1), None)
    if "Traceback (most recent call last)" in message or not (
        isinstance(error_type, type) and issubclass(error_type, errors.Video3DError)
    ):
        return None  # the worker's final exception was something else, raised while handling ours
    original = error_type.__new__(error_type)
    Exception.__init__(original, message)  # str(original) == the worker's message
    if isinstance(original, errors.DecodeError):
        original.path, _, original.reason = message.partition(": ")
    return original


FAILURES_KEY = "failures"  # the item field a dataset's worker lines travel in


def say_sent_lines(batch, dataset) -> None:
    """Log (once each, through `dataset.say`) the lines the workers sent with `batch`, and take
    them out of it."""
    if not isinstance(batch, dict) or FAILURES_KEY not in batch:
        return
    sent = batch.pop(FAILURES_KEY)
    say = getattr(dataset, "say", None)
    for text in sent if isinstance(sent, list) else [sent]:
        if text and say is not None:
            for key, line in json.loads(text):
                say(key, line)


class _UnwrappingIterator:
    def __init__(self, iterator, dataset=None, workers: int = 0):
        self._iterator = iterator
        self._dataset = dataset
        self._workers = workers

    def __iter__(self):
        return self

    def __next__(self):
        try:
            batch = next(self._iterator)
        except Exception as error:
            original = original_worker_error(error) or killed_worker_error(error, self._workers)
            if original is None:
                raise
            raise original from None
        say_sent_lines(batch, self._dataset)
        return batch

    def __len__(self) -> int:
        return len(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


class UnwrappingDataLoader(DataLoader):
    """A DataLoader whose iteration raises a worker's video3d error as that error."""

    def __iter__(self):
        return _UnwrappingIterator(super().__iter__(), self.dataset, self.num_workers)
