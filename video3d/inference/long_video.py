"""The long-video demo: slide the model's clip window over a whole input, decoded once.

Frames are decoded front to back (`VideoStream`); each is resized to DATA.TEST_CROP_SIZE and
centre-cropped (the per-epoch validation view) into a ring buffer that holds one window, so
memory does not grow with the video's length. Every `stride` frames a complete window goes
through the model. Each input frame is then drawn with the top-K labels of the window whose
centre is nearest to it (held back until that window is known: at most about a window and a
stride of frames) and written to `annotated.mp4` at its own presentation time (a variable
frame rate is kept), with the input's sound added at the end (`video3d.inference.audio`).
Each window is a line of `windows.jsonl`; at the end, windows with the same label are merged
into `segments.csv` / `segments.json` (`video3d.inference.segments`) and `timeline.png` shows
them with the top classes' scores (`video3d.inference.timeline`). With `gradcam`, each window
also gets a Grad-CAM map of its predicted class (one backward pass), drawn over the part of the
frame the model sees.
A flow model (DATA.MODALITY flow) keeps gray frames instead and reads window index i as the
flow from frame i to i + 1 (`FlowWindows`, the online flow of docs/FLOW.md): its windows
become ready one frame later.

With `realtime`, frames are consumed no faster than their timestamps (a file then behaves like
a camera) and a window is skipped when the model has fallen more than one stride behind the
source; each window's latency (from its last frame's arrival to its scores) is reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.data import sampling
from video3d.data.transforms import centre_crop_box
from video3d.errors import ConfigError, DataError
from video3d.flow.recipe import FlowRecipe
from video3d.inference.annotate import draw_lines, label_lines
from video3d.inference.audio import add_audio, has_audio
from video3d.inference.flow_windows import FlowWindows
from video3d.inference.preprocess import ClipPreprocessor
from video3d.inference.progress import DemoProgress
from video3d.inference.runners import runner_device
from video3d.inference.scores import ClipScores, class_name, clip_scores
from video3d.inference.segments import (
    SEGMENTS_CSV,
    SEGMENTS_JSON,
    segments_csv,
    segments_from_windows,
    segments_json,
)
from video3d.inference.stream import StreamFrame, VideoStream
from video3d.inference.timeline import plot_timeline
from video3d.inference.video_writer import Mp4Writer
from video3d.inference.windows import WindowPlan, default_stride, nearest_window
from video3d.utils.io import atomic_write

logger = logging.getLogger(__name__)

ANNOTATED = "annotated.mp4"
TIMELINE = "timeline.png"
WINDOWS = "windows.jsonl"
# (model, clip [1, C, T, H, W]) -> (the clip's logits, heat [T, H, W] in 0..1): what --gradcam
# plugs in (video3d.visualize builds it; this layer only draws the heat).
WindowExplainer = Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
HEAT_ALPHA = 0.45  # the heat's weight where --gradcam blends it over a frame (as the Grad-CAM pictures)


@dataclass
class WindowResult:
    """One window: its frames and times, its scores, and (realtime) its latency in seconds."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    scores: ClipScores
    latency: float | None = None

    @property
    def centre(self) -> float:
        return (self.start_frame + self.end_frame) / 2.0

    def as_json(self, names: list[str] | None, topk: int) -> dict:
        entry = {"window": self.index, "start_frame": self.start_frame, "end_frame": self.end_frame,
                 "start_time": round(self.start_time, 4), "end_time": round(self.end_time, 4),
                 "topk": [{"class": k, "name": class_name(names, k), "score": round(s, 6)}
                          for k, s in self.scores.topk(topk)]}
        if self.scores.votes is not None:
            entry["vote"] = {"class": self.scores.pred, "name": class_name(names, self.scores.pred),
                             "votes": self.scores.votes, "outputs": self.scores.num_outputs}
        if self.latency is not None:
            entry["latency_s"] = round(self.latency, 4)
        return entry


@dataclass
class DemoReport:
    """What a demo run did; `stopped` says where and why the input ended early (None: it did not)."""

    frames: int = 0
    fps: float = 0.0
    windows: int = 0
    skipped_windows: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    stopped: str | None = None
    outputs: list[str] = field(default_factory=list)
    audio: str | None = None  # what happened to the input's sound ("audio aac copied", ...)
    segments: int = 0

    @property
    def speed(self) -> float:
        """Source seconds processed per wall-clock second (>= 1: faster than real time)."""
        return (self.frames / self.fps) / self.seconds if self.seconds > 0 and self.fps > 0 else 0.0


def prepare_output_dir(path: str) -> str:
    """Create the output folder; a file in its place is a `DataError`."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise DataError(f"output folder {path} is a file")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create output folder {path}: {error.strerror}") from error
    return path


@contextlib.contextmanager
def output_folder(path: str):
    """`prepare_output_dir(path)` for a block; when the block fails, a folder it created is
    removed again if it is still empty (a failed run leaves nothing behind)."""
    existed = os.path.isdir(path)
    prepare_output_dir(path)
    try:
        yield path
    except BaseException:
        if not existed:
            with contextlib.suppress(OSError):  # not empty: keep what was written
                os.rmdir(path)
        raise


class LongVideoDemo:
    """Runs `model` over `url`, writing ANNOTATED, WINDOWS and TIMELINE into `out_dir`.

    `on_window(result)` is called after every window (the tool prints latencies with it);
    `progress` is told the frames and windows done after every frame. `audio` adds the input's
    sound to ANNOTATED; `explain(model, clip) -> (logits, heat [T, H, W] in 0..1)`, when given,
    replaces the plain forward and its heat is drawn over the frames (the demo's --gradcam passes
    `video3d.visualize.gradcam.window_explainer`; a checkpoint model only)."""

    def __init__(self, cfg: CfgNode, model: nn.Module, class_names: list[str] | None = None,
                 stride: int | None = None, topk: int = 5, realtime: bool = False,
                 on_window: Callable[[WindowResult], None] | None = None, progress: DemoProgress | None = None,
                 audio: bool = True, explain: WindowExplainer | None = None):
        self.cfg = cfg
        self.model = model.eval()
        self.device = runner_device(model)
        self.names = class_names
        self.stride = stride
        self.topk = max(1, int(topk))
        self.realtime = realtime
        self.on_window = on_window
        self.preprocess = ClipPreprocessor(cfg)
        # A flow model: window index i is the flow from frame i to i + 1, computed from the stream.
        self.flow = FlowWindows(FlowRecipe.from_cfg(cfg, device=str(self.device)), self.preprocess) \
            if cfg.DATA.MODALITY == "flow" else None
        if self.flow and self.flow.recipe.fps is not None:
            raise ConfigError(f"DATA.FLOW_FPS {cfg.DATA.FLOW_FPS}: the demo computes flow between consecutive "
                              "frames of the stream; for flow extracted with --fps use tools/predict.py")
        if stride is not None and stride < 1:
            raise ConfigError(f"--stride must be >= 1 frame, got {stride}")
        self.progress = progress
        self.audio = audio
        self.explain = explain
        self.gradcam = explain is not None
        if self.gradcam and self.flow:
            raise ConfigError("--gradcam draws over RGB frames; this is a flow model (DATA.MODALITY flow)")
        if self.gradcam and getattr(model, "kind", None) in ("onnx", "torchscript"):
            raise ConfigError(f"--gradcam needs gradients: give the .pyth checkpoint, not the {model.kind} file")
        self._heat: dict[int, tuple[list[int], np.ndarray]] = {}  # window -> (clip frames, heat uint8 [T, S, S])
        self._colour_key: tuple | None = None
        self._colour: np.ndarray | None = None

    def plan_for(self, fps: float) -> WindowPlan:
        data = self.cfg.DATA
        step = sampling.frame_step(data.SAMPLING_RATE, fps, data.TARGET_FPS)
        return WindowPlan(data.NUM_FRAMES, step, self.stride or default_stride(data.NUM_FRAMES, step))

    def run(self, url: str, out_dir: str) -> DemoReport:
        with output_folder(out_dir):
            return self._run(url, out_dir)

    def _run(self, url: str, out_dir: str) -> DemoReport:
        report = DemoReport()
        with VideoStream(url) as stream:
            report.fps = stream.fps
            plan = self.plan_for(stream.fps)
            logger.info("%s: %dx%d at %.3f fps; window %d frames (%d read), stride %d", url, stream.width,
                        stream.height, stream.fps, plan.span, plan.num_frames, plan.stride)
            writer = Mp4Writer(os.path.join(out_dir, ANNOTATED), stream.rate, stream.width, stream.height,
                               time_base=stream.time_base)
            if self.progress is not None:
                self.progress.start(stream.declared_frames, stream.fps)
            try:
                with writer, atomic_write(os.path.join(out_dir, WINDOWS)) as lines:
                    results = self._slide(stream, plan, writer, lines, report)
            finally:
                if self.progress is not None:
                    self.progress.close()
                report.stopped = stream.stopped
                report.frames = stream.frames_read
            start_time, duration = stream.start_time, writer.end_time
        if writer.frames_written:
            report.outputs.append(os.path.join(out_dir, ANNOTATED))
            if self.audio:
                report.audio = self._add_audio(os.path.join(out_dir, ANNOTATED), url, start_time)
        report.outputs.append(os.path.join(out_dir, WINDOWS))
        if results:
            report.outputs += self._write_segments(results, url, out_dir, plan, duration, report)
        return report

    def _add_audio(self, path: str, url: str, start_time: float) -> str | None:
        """The input's sound into `path`; a failure only costs the sound (said in a warning)."""
        if not has_audio(url):
            return None
        try:
            copy = add_audio(path, url, start_time)
        except Exception as error:  # av errors by codec and container; the video itself is fine
            logger.warning("%s: written without sound: %s: %s", path, type(error).__name__, error)
            return f"audio not added ({type(error).__name__})"
        return copy.describe() if copy else None

    def _write_segments(self, results: list[WindowResult], url: str, out_dir: str, plan: WindowPlan,
                        duration: float, report: DemoReport) -> list[str]:
        segments = segments_from_windows(results, self.names)
        report.segments = len(segments)
        paths = [os.path.join(out_dir, name) for name in (SEGMENTS_CSV, SEGMENTS_JSON, TIMELINE)]
        with atomic_write(paths[0]) as handle:
            handle.write(segments_csv(segments))
        with atomic_write(paths[1]) as handle:
            handle.write(segments_json(segments, os.path.basename(url), duration))
        probs = np.stack([r.scores.probs.float().numpy() for r in results])
        times = [(r.start_time + r.end_time) / 2.0 for r in results]
        names = [class_name(self.names, k) for k in range(probs.shape[1])]
        plot_timeline(times, probs, names, paths[2], segments, duration=duration,
                      title=f"{os.path.basename(url)}: {len(segments)} segments from {len(results)} windows "
                            f"(stride {plan.stride} frames)")
        return paths

    # ------------------------------------------------------------------ the loop
    def _slide(self, stream: VideoStream, plan: WindowPlan, writer: Mp4Writer, lines, report: DemoReport
               ) -> list[WindowResult]:
        ahead_of_pairs = 1 if self.flow else 0  # flow pair i needs frame i + 1
        ring: deque[tuple[int, float, object]] = deque(maxlen=plan.span + ahead_of_pairs)
        held: deque[StreamFrame] = deque()  # input frames waiting for their nearest window
        results: list[WindowResult] = []
        self._cursor = 0
        self._heat.clear()
        self._colour_key = None
        last_start = None
        wall_start = time.perf_counter()
        try:
            for frame in stream:
                if self.realtime:
                    ahead = frame.time - (time.perf_counter() - wall_start)
                    if ahead > 0:
                        time.sleep(ahead)
                item = self.flow.gray(frame.image) if self.flow else self.preprocess.frame(frame.image)
                ring.append((frame.index, frame.time, item))
                held.append(frame)
                last = frame.index - ahead_of_pairs
                start = plan.start_ready_at(last) if last >= 0 else None
                if start is not None:
                    last_start = start
                    lag = time.perf_counter() - wall_start - frame.time
                    if self.realtime and results and lag > plan.stride / stream.fps:
                        report.skipped_windows += 1
                    else:
                        self._window(ring, plan, start, last, results, lines, report, wall_start)
                self._release(held, results, writer, final=False, limit=2 * plan.span + plan.stride)
                if self.progress is not None:
                    self.progress.update(frame.index + 1, len(results))
            if ring and ring[-1][0] - ahead_of_pairs >= 0:
                last = ring[-1][0] - ahead_of_pairs
                tail = plan.tail_start(last + 1, last_start)
                if tail is not None:
                    self._window(ring, plan, tail, last, results, lines, report, wall_start)
        finally:
            self._release(held, results, writer, final=True)
            report.seconds = time.perf_counter() - wall_start
        return results

    def _window(self, ring, plan: WindowPlan, start: int, last: int, results: list[WindowResult], lines,
                report: DemoReport, wall_start: float) -> None:
        by_index = {index: (t, image) for index, t, image in ring}
        indices = plan.indices(start, last_frame=last)
        if self.flow:
            clip = self.flow.clip(indices, {i: image for i, (_, image) in by_index.items()}).to(self.device)
        else:
            clip = self.preprocess.clip([by_index[i][1] for i in indices]).to(self.device)
        began = time.perf_counter()
        if self.gradcam:
            logits, heat = self.explain(self.model, clip)
            logits = logits.float().cpu()
            self._heat[len(results)] = (indices, (heat.numpy() * 255.0).round().astype(np.uint8))
        else:
            with torch.inference_mode():
                logits = self.model(clip)[0].float().cpu()
        report.model_seconds += time.perf_counter() - began
        end = min(start + plan.span - 1, last)
        result = WindowResult(len(results), start, end, by_index[start][0], by_index[end][0],
                              clip_scores(logits, self.cfg.FFC.TEST_ENSEMBLE))
        if self.realtime:
            result.latency = time.perf_counter() - wall_start - by_index[end][0]
            report.latencies.append(result.latency)
        results.append(result)
        report.windows += 1
        lines.write(json.dumps(result.as_json(self.names, self.topk)) + "\n")
        if self.on_window is not None:
            self.on_window(result)

    def _release(self, held: deque[StreamFrame], results: list[WindowResult], writer: Mp4Writer,
                 final: bool, limit: int = 0) -> None:
        """Write the held frames whose nearest window is known: one whose centre lies at or after
        the frame has been computed (or the input has ended, or too many frames wait)."""
        if not results:
            if final:
                held.clear()  # no window at all (no frame decoded): nothing to draw
            return
        last_centre = results[-1].centre
        while held and (final or held[0].index <= last_centre or len(held) > limit):
            frame = held.popleft()
            window = self._nearest(results, frame.index)
            image = self._heat_overlay(frame, window.index) if self.gradcam else frame.image
            writer.write(draw_lines(image, self._labels(window)), frame.time)

    def _heat_overlay(self, frame: StreamFrame, window: int) -> np.ndarray:
        """The frame with its window's heat (the clip frame nearest in time) over the centre
        square the model sees; heat of windows before this one is dropped (frames come in order).
        The coloured square is kept for the next frame, which usually shares it."""
        for old in [k for k in self._heat if k < window]:
            del self._heat[old]
        indices, heat = self._heat[window]
        t = min(range(len(indices)), key=lambda i: abs(indices[i] - frame.index))
        height, width = frame.image.shape[:2]
        side = min(height, width)
        top, left = centre_crop_box(height, width, side)
        if self._colour_key != (window, t, side):
            square = cv2.resize(heat[t], (side, side), interpolation=cv2.INTER_LINEAR)
            self._colour = cv2.cvtColor(cv2.applyColorMap(square, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
            self._colour_key = (window, t, side)
        image = frame.image.copy()
        region = image[top:top + side, left:left + side]
        cv2.addWeighted(region, 1.0 - HEAT_ALPHA, self._colour, HEAT_ALPHA, 0.0, dst=region)
        return image

    def _nearest(self, results: list[WindowResult], index: int) -> WindowResult:
        # Frames are released in order, so the search starts where the previous one ended.
        self._cursor = nearest_window(index, [r.centre for r in results[self._cursor:]]) + self._cursor
        return results[self._cursor]

    def _labels(self, result: WindowResult) -> list[str]:
        topk = [(class_name(self.names, k), s) for k, s in result.scores.topk(self.topk)]
        vote = None
        if result.scores.votes is not None:
            vote = (class_name(self.names, result.scores.pred), result.scores.votes, result.scores.num_outputs)
        return label_lines(topk, vote)
