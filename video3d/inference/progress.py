"""Progress of a long run over a video: a tqdm bar on a terminal, plain log lines otherwise
(as training does: a bar when stdout is a terminal, json_stats lines in a log).

Frames and windows are counted as they are done; the ETA comes from the frame count the
input's header announces (none for a live source: then only the counts and the speed).
"""

from __future__ import annotations

import logging
import sys
import time

logger = logging.getLogger(__name__)


def format_eta(seconds: float) -> str:
    """"1h02m", "3m05s", "42s"."""
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class DemoProgress:
    """`start(total_frames, fps)`, then `update(frames, windows)` after every frame, `close()`.

    `bar` None: a bar when stderr is a terminal. Without a bar a line is logged every
    `interval` seconds: frames done (of the total), windows, video time, speed and ETA."""

    def __init__(self, bar: bool | None = None, interval: float = 10.0, label: str = "demo"):
        self.use_bar = sys.stderr.isatty() if bar is None else bar
        self.interval = interval
        self.label = label
        self.total = 0
        self.fps = 0.0
        self.frames = self.windows = 0
        self._bar = None
        self._began = self._last_line = 0.0

    def start(self, total_frames: int, fps: float) -> None:
        self.total, self.fps = max(int(total_frames), 0), fps
        self._began = self._last_line = time.monotonic()
        if self.use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total or None, unit="frame", desc=self.label, dynamic_ncols=True,
                             leave=False, file=sys.stderr)

    def update(self, frames: int, windows: int) -> None:
        done, self.frames, self.windows = frames - self.frames, frames, windows
        if self._bar is not None:
            self._bar.update(done)
            self._bar.set_postfix_str(f"{windows} windows", refresh=False)
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self._last_line = now
            logger.info("%s", self.line(now - self._began))

    def line(self, elapsed: float) -> str:
        """"frames 1200/18000 (6.7 %), 79 windows, 0:40 of video, 4.1x real time, ETA 3m25s"."""
        speed = self.frames / self.fps / elapsed if elapsed > 0 and self.fps > 0 else 0.0
        text = f"{self.label}: frames {self.frames}"
        if self.total:
            text += f"/{self.total} ({100.0 * self.frames / self.total:.1f} %)"
        text += f", {self.windows} windows, {self.frames / self.fps if self.fps else 0:.1f} s of video"
        if speed > 0:
            text += f", {speed:.2f}x real time"
        if self.total and self.frames and elapsed > 0:
            text += f", ETA {format_eta(elapsed * (self.total - self.frames) / self.frames)}"
        return text

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
