"""Rank-0 logging to stdout and OUTPUT_DIR/stdout.log, and PySlowFast-style json_stats lines."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping

from video3d.errors import DataError
from video3d.utils.io import write_failure

_FORMAT = "[%(asctime)s][%(levelname)s] %(name)s: %(message)s"
_DATEFMT = "%m/%d %H:%M:%S"
_ROOT = "video3d"


class _LogFileHandler(logging.FileHandler):
    """OUTPUT_DIR/stdout.log; a failed write (a full disk) is said once, in one line, and the
    file is given up (the console keeps logging), instead of a "--- Logging error ---" traceback
    per line."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        print(f"warning: cannot write {self.baseFilename}: {reason}; the log goes to the console only",
              file=sys.stderr)
        logging.getLogger(_ROOT).removeHandler(self)


def setup_logging(output_dir: str | None = None, rank: int = 0) -> logging.Logger:
    """Configure the `video3d` logger. Only rank 0 writes; other ranks log errors only.

    Safe to call again (e.g. once OUTPUT_DIR is known): old handlers are replaced.
    """
    logger = logging.getLogger(_ROOT)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = False
    formatter = logging.Formatter(_FORMAT, datefmt=_DATEFMT)
    if rank != 0:
        logger.setLevel(logging.ERROR)
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        logger.addHandler(stream)
        return logger
    logger.setLevel(logging.INFO)
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(formatter)
    logger.addHandler(stream)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        file_handler = _LogFileHandler(os.path.join(output_dir, "stdout.log"), encoding="utf-8")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    return logger


def get_logger(name: str) -> logging.Logger:
    """A child of the `video3d` logger (pass `__name__`)."""
    if not name.startswith(_ROOT):
        name = f"{_ROOT}.{name}"
    return logging.getLogger(name)


def _round(value):
    if isinstance(value, float):
        return round(value, 5)
    return value


def format_json_stats(stats: Mapping) -> str:
    """`json_stats: {...}` as PySlowFast prints it: floats rounded to 5 decimals, keys sorted."""
    return "json_stats: " + json.dumps({k: _round(v) for k, v in stats.items()}, sort_keys=True)


def log_json_stats(stats: Mapping, output_dir: str | None = None) -> str:
    """Log one json_stats line; epoch-level dicts are also appended to OUTPUT_DIR/json_stats.log."""
    line = format_json_stats(stats)
    get_logger("video3d.stats").info(line)
    if output_dir and str(stats.get("_type", "")).endswith("epoch"):
        path = os.path.join(output_dir, "json_stats.log")
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as error:  # a full disk: the line is on the console already; one line, no traceback
            raise DataError(write_failure(path, error)) from None
    return line
