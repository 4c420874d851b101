"""What every command-line tool shares, the library's and data_prep's alike: the wrapper that
turns a user error into one line on stderr and exit code 2, and argparse value types. It
knows no layer of video3d (tools in data_prep use it without importing the CLI package)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from video3d.errors import Video3DError

USER_ERROR = 2
INTERRUPTED = 130


def command(main: Callable[[list[str]], int]) -> Callable[[list[str] | None], int]:
    """Make `main(argv) -> exit code` a tool entry point.

    The returned function takes `argv` (None: `sys.argv[1:]`), so it serves `python tools/X.py`,
    a console script and a test alike. A `Video3DError` (bad config, missing file, undecodable
    input) becomes `error: <message>` on stderr and exit code 2, Ctrl-C exit code 130, with no
    traceback; anything else is a bug and keeps its traceback.
    """

    @functools.wraps(main)
    def entry(argv: list[str] | None = None) -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        try:
            return main(args)
        except Video3DError as err:
            print(f"error: {err}", file=sys.stderr)
            return USER_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return INTERRUPTED

    return entry


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
