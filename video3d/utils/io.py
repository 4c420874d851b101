"""Atomic file writes: a crash never leaves a half-written file under the final name."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left / disk quota exceeded


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temp file beside `path`; on a clean exit fsync it and rename it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=directory)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def is_disk_full(error: BaseException) -> bool:
    """True for an OSError that says the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL


def write_failure(path: str, error: OSError) -> str:
    """One line for a write that failed: the path and the reason ("No space left on device",
    "Permission denied"), never a traceback."""
    if isinstance(error, FileExistsError | NotADirectoryError):  # makedirs / open under a file
        reason = "part of its folder path is a file, not a folder"
    else:
        reason = error.strerror or str(error) or type(error).__name__
    return f"cannot write {path}: {reason}"
