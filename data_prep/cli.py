"""Shared command-line plumbing for the data_prep tools: one-line errors, worker counts."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from video3d.errors import Video3DError


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


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a tool's `main`; a user error becomes one line on stderr and exit code 2."""
    try:
        return main(argv)
    except Video3DError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
