"""Paths of lists, configs, checkpoints, results and class-name files go through iopath's
PathManager: `g_pathmgr`, the one fvcore's config loader and PySlowFast use.

A local path (no `scheme://`) behaves as before. An `http(s)://` path is fetched once per
process into the iopath cache ($FVCORE_CACHE, default ~/.torch/iopath_cache) and read from
there. The cached copy is keyed on the whole URL (scheme, host, port, path, query): iopath's
own HTTP handler keys it on the URL path alone, so two servers serving the same path shared one
file. A server that accepts and never answers is given up after `network_timeout()` seconds
(config key NETWORK_TIMEOUT, flag --timeout; default 30). A handler registered on `g_pathmgr`
(S3 and others) serves every path key the same way. A path that cannot be fetched is one
line: "cannot fetch URL: reason".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import IO, Any

from iopath.common.file_io import HTTPURLHandler, g_pathmgr, get_cache_dir

from video3d.errors import Video3DError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds; config key NETWORK_TIMEOUT, flag --timeout
_timeout = [DEFAULT_TIMEOUT]


def network_timeout() -> float:
    """Seconds a remote server (HTTP, RTSP) may stay silent before the read is given up."""
    return _timeout[0]


def set_network_timeout(seconds: float) -> None:
    """Set `network_timeout()` for this process (the CLIs pass NETWORK_TIMEOUT / --timeout)."""
    if not seconds > 0:
        raise Video3DError(f"the network timeout must be a number of seconds > 0, got {seconds}")
    _timeout[0] = float(seconds)


class FetchError(OSError):
    """A remote file could not be fetched; `strerror` says why in a few words."""


def cache_name(url: str) -> str:
    """Where `url` is cached, relative to the cache folder: a folder per whole URL (a hash of
    it: another host, port or query is another file), holding the file under its own name
    (so .onnx, .yaml stay recognisable)."""
    parsed = urllib.parse.urlsplit(url)
    name = os.path.basename(parsed.path) or "index"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]
    return os.path.join("urls", f"{parsed.hostname or 'host'}-{digest}", name[:100])


class WholeURLHandler(HTTPURLHandler):
    """iopath's HTTP(S) handler, but cached by the whole URL, fetched once per process (a
    changed remote file is seen by the next run), with a timeout, written to the cache
    atomically (ranks fetching the same URL at once never read a half-written copy)."""

    def _get_local_path(self, path: str, force: bool = False, cache_dir: str | None = None, **kwargs: Any) -> str:
        self._check_kwargs(kwargs)
        cached = self.cache_map.get(path)
        if not force and cached is not None and os.path.isfile(cached):
            return cached
        local = os.path.join(get_cache_dir(cache_dir), cache_name(path))
        _download(path, local)
        self.cache_map[path] = local
        return local


def _download(url: str, local: str) -> None:
    os.makedirs(os.path.dirname(local), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(local))
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=network_timeout()) as answer:
            shutil.copyfileobj(answer, out, 1 << 20)
        os.replace(tmp, local)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(error, Exception):
            raise FetchError(_reason(error)) from None
        raise


g_pathmgr.register_handler(WholeURLHandler(), allow_override=True)
# iopath logs a failed download itself; the error raised here says it in one line instead.
logging.getLogger("iopath").addHandler(logging.NullHandler())
logging.getLogger("iopath").propagate = False


def is_local(path: str) -> bool:
    """True for a path of the local file system (no `scheme://` prefix)."""
    return "://" not in path


def _reason(error: BaseException) -> str:
    if isinstance(error, FetchError):
        return error.strerror or str(error)
    if isinstance(error, TimeoutError | socket.timeout) or isinstance(getattr(error, "reason", None), TimeoutError):
        return f"no answer in {network_timeout():g} s (NETWORK_TIMEOUT / --timeout)"
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
