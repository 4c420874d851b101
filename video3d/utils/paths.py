"""Paths of lists, configs, checkpoints, results and class-name files go through iopath's
PathManager: `g_pathmgr`, the one fvcore's config loader and PySlowFast use.

A local path (no `scheme://`) behaves as before. An `http(s)://` path is fetched once into
the iopath cache ($FVCORE_CACHE, default ~/.torch/iopath_cache) and read from there; a
handler registered on `g_pathmgr` (S3 and others) serves every path key the same way. A
path that cannot be fetched is one line: "cannot fetch URL: reason".
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import urllib.error
from collections.abc import Iterator
from typing import IO

from iopath.common.file_io import HTTPURLHandler, g_pathmgr

from video3d.errors import Video3DError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

with contextlib.suppress(KeyError):  # already registered (by the user or another library)
    g_pathmgr.register_handler(HTTPURLHandler())
# iopath logs a failed download itself; the error raised here says it in one line instead.
logging.getLogger("iopath").addHandler(logging.NullHandler())
logging.getLogger("iopath").propagate = False


def is_local(path: str) -> bool:
    """True for a path of the local file system (no `scheme://` prefix)."""
    return "://" not in path


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        return getattr(reason, "strerror", None) or str(reason)
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def local_copy(path: str, error_type: type[Video3DError]) -> str:
    """`path` itself when local, else the cached local copy of the remote file (fetched on
    first use); `error_type` naming the URL and the reason when it cannot be fetched."""
    if is_local(path):
        return path
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # iopath's download bar
            local = g_pathmgr.get_local_path(path)
    except Exception as error:  # urllib, handler and OS errors alike: one line
        raise error_type(f"cannot fetch {path}: {_reason(error)}") from None
    logger.debug("%s is read from %s", path, local)
    return local


def is_file(path: str) -> bool:
    """True when `path` names an existing file; a remote path is fetched to find out."""
    if is_local(path):
        return os.path.isfile(path)
    try:
        return os.path.isfile(local_copy(path, Video3DError))
    except Video3DError:  # unreachable or absent: the caller reports the path as not found
        return False


@contextlib.contextmanager
def open_for_writing(path: str, mode: str = "w") -> Iterator[IO]:
    """A remote file opened for writing through its handler (local writes use atomic_write)."""
    try:
        handle = g_pathmgr.open(path, mode)
    except Exception as error:
        raise Video3DError(f"cannot write {path}: {_reason(error)}") from None
    with handle:
        yield handle
