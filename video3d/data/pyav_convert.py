"""Decoded PyAV frames to numpy arrays through one kept swscale context per thread.

`VideoFrame.to_ndarray(format=...)` makes a new reformatter, and so a new swscale context
with its own pool of slice threads, for every frame: at SynthMotion's 96x96 that set-up is
nearly all of the conversion (0.38 ms a frame against 0.025 ms through a kept
`VideoReformatter`; 0.43 against 0.145 ms at 640x272; idle 2-core VM, medians; several
times more when other processes keep the cores busy). A kept reformatter asks swscale for
the same conversion, so the pixels are bit-identical (tests/data/test_pyav_convert.py).

The kept context converts on the calling thread (`threads=1`): a context with slice threads
that a DataLoader worker inherits through fork() waits forever on threads the child does not
have. Loader workers run in parallel anyway. Thread-local, as a swscale context must not be
shared by two threads.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def frame_to_ndarray(frame, pixel_format: str = "rgb24") -> np.ndarray:
    """`frame.to_ndarray(format=pixel_format)`, with this thread's kept reformatter."""
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        from av.video.reformatter import VideoReformatter

        reformatter = _local.reformatter = VideoReformatter()
    return reformatter.reformat(frame, format=pixel_format, threads=1).to_ndarray()
