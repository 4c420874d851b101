"""Generate SynthMotion (and its flow) once, when a run needs it and it is missing or stale.

`video3d/cli/run_net.py` (behind `tools/run_net.py` and `video3d-train`) calls
`ensure_synthmotion(cfg)` before training so that the README's demo
commands work on a fresh machine. The videos go to SYNTHMOTION.ROOT (default
DATA.PATH_TO_DATA_DIR); with SYNTHMOTION.FLOW_ALGO the flow frame folders and their frame
lists go to DATA.PATH_TO_DATA_DIR. Under torchrun only rank 0 generates; the others wait.

The flow is what the flow model's config says its input is: algorithm DATA.FLOW_ALGO (which
SYNTHMOTION.FLOW_ALGO must name too), clipped to +-DATA.FLOW_BOUND pixels, between consecutive
frames at DATA.TARGET_FPS (frame folders are read as being at that rate; DATA.FLOW_FPS, if set,
must agree), on frames resized to DATA.FLOW_SHORT_SIDE / DATA.FLOW_SIZE if set. TV-L1 runs on
video3d.flow (torch.compile'd, all pairs of a video in one call); DIS and Farneback on OpenCV.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time

from fvcore.common.config import CfgNode

from data_prep.extract_flow import FlowExtraction, extract_video_flow, flow_manifest
from data_prep.inputs import collect_videos
from data_prep.pool import FAILURES_FILE, MANIFEST_FILE, run_videos
from data_prep.synthetic import GENERATOR_VERSION, SYNTHMOTION_FPS, generate
from video3d.errors import ConfigError, DataError
from video3d.flow.recipe import FlowRecipe
from video3d.utils.io import atomic_write_text
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

_INFO_FILE = "synthmotion.json"
_FLOW_INFO_FILE = "synthmotion_flow.json"
_SPLITS = ("train", "val")


def _wanted(cfg: CfgNode) -> dict:
    node = cfg.SYNTHMOTION
    return {
        "generator_version": GENERATOR_VERSION, "num_train": node.NUM_TRAIN, "num_val": node.NUM_VAL,
        "seed": node.SEED, "size": node.SIZE, "frames": node.FRAMES, "num_broken": node.NUM_BROKEN,
    }


def _matches(folder: str, info_file: str, wanted: dict) -> bool:
    """The info file (written last) says the folder was made with `wanted`, and its lists exist."""
    try:
        with open(os.path.join(folder, info_file), encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError):
        return False
    lists_present = all(os.path.isfile(os.path.join(folder, f"{s}.csv")) for s in _SPLITS)
    return lists_present and all(info.get(k) == v for k, v in wanted.items())


def _wait_for(folder: str, info_file: str, wanted: dict, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not _matches(folder, info_file, wanted):
        if time.monotonic() > deadline:
            raise DataError(f"{folder}: rank 0 did not finish preparing SynthMotion in {timeout_s:.0f} s")
        time.sleep(2.0)


def _generate_videos(root: str, wanted: dict) -> None:
    logger.info("generating SynthMotion in %s (%s)", root, wanted)
    start = time.perf_counter()
    info_path = os.path.join(root, _INFO_FILE)
    if os.path.exists(info_path):  # written last by generate(): a killed run is redone
        os.remove(info_path)
    params = {k: v for k, v in wanted.items() if k != "generator_version"}
    generate(root, workers=max(1, os.cpu_count() or 1), progress=True, **params)
    logger.info("SynthMotion videos ready in %.1f s", time.perf_counter() - start)


def flow_options(cfg: CfgNode) -> FlowExtraction:
    """How SynthMotion's flow is extracted for a flow model with this config (module docstring)."""
    algorithm, data = cfg.SYNTHMOTION.FLOW_ALGO, cfg.DATA
    if algorithm != data.FLOW_ALGO:
        raise ConfigError(f"SYNTHMOTION.FLOW_ALGO {algorithm} differs from DATA.FLOW_ALGO {data.FLOW_ALGO}: the flow "
                          f"model would be told another algorithm than the one its input is made with")
    fps = None if float(data.TARGET_FPS) == SYNTHMOTION_FPS else float(data.TARGET_FPS)
    if float(data.FLOW_FPS) and float(data.FLOW_FPS) != (fps or SYNTHMOTION_FPS):
        raise ConfigError(f"DATA.FLOW_FPS {data.FLOW_FPS} differs from DATA.TARGET_FPS {data.TARGET_FPS}: SynthMotion's "
                          f"flow folders are extracted at DATA.TARGET_FPS and read as being at that rate")
    # Every video has SYNTHMOTION.FRAMES frames or fewer: all its pairs in one call, one shape.
    recipe = FlowRecipe(algorithm, float(data.FLOW_BOUND), int(data.FLOW_SHORT_SIDE),
                        tuple(int(v) for v in data.FLOW_SIZE), fps, compile=None, dynamic=True,
                        batch=max(1, cfg.SYNTHMOTION.FRAMES))
    return FlowExtraction(recipe)


def _flow_wanted(wanted: dict, options: FlowExtraction) -> dict:
    """What the flow folder must have been made with to be reused (an older record lacks a
    field, e.g. the frame size, so such a folder is redone)."""
    recipe = options.recipe
    size = list(recipe.size) if recipe.size else None
    return {"videos": wanted, "algorithm": recipe.algorithm, "bound": recipe.bound, "fps": recipe.fps,
            "short_side": recipe.short_side, "size": size, "backend": recipe.backend}


def _extract_flow(root: str, flow_dir: str, options: FlowExtraction) -> None:
    """Flow folders `<flow_dir>/videos/<class>/<id>/` and frame lists `<dir> <N> <label>`."""
    resize, recipe = options.resize, options.recipe
    logger.info("extracting %s flow (%s, bound %g px, fps %s, frames %s) of %s into %s", recipe.algorithm,
                recipe.backend, recipe.bound, resize.fps or "as recorded",
                f"{resize.size[0]}x{resize.size[1]}" if resize.size else
                f"short side {resize.short_side}" if resize.short_side else "as recorded", root, flow_dir)
    start = time.perf_counter()
    for split in _SPLITS:
        tasks = collect_videos(os.path.join(root, f"{split}.csv"), prefix=root)
        summary = run_videos(tasks, flow_dir, extract_video_flow, options, max(1, os.cpu_count() or 1),
                             "pairs", flow_manifest(options))
        labels = {}
        with open(os.path.join(root, f"{split}.csv"), encoding="utf-8") as handle:
            for line in handle:
                path, label = line.rsplit(maxsplit=1)
                labels[os.path.splitext(path)[0]] = int(label)
        lines = []
        for task in tasks:
            folder = os.path.join(flow_dir, task.video_id)
            pairs = len(glob.glob(os.path.join(glob.escape(folder), "flow_x_*.jpg")))
            if pairs:  # broken videos have no folder: listed in failures.jsonl, left out here
                lines.append(f"{task.video_id} {pairs + 1} {labels[task.video_id]}\n")
        atomic_write_text(os.path.join(flow_dir, f"{split}.csv"), "".join(lines))
        logger.info("%s: %d flow folders (%d failed videos left out)", split, len(lines), summary.failed)
    logger.info("SynthMotion flow ready in %.1f s", time.perf_counter() - start)


def ensure_synthmotion(cfg: CfgNode, rank: int = 0, timeout_s: float = 1800.0) -> bool:
    """Make the SynthMotion data that SYNTHMOTION.* asks for exist; True if anything was made."""
    if not cfg.SYNTHMOTION.ENABLE or not (cfg.TRAIN.ENABLE or cfg.TEST.ENABLE):
        return False
    root = cfg.SYNTHMOTION.ROOT or cfg.DATA.PATH_TO_DATA_DIR
    wanted = _wanted(cfg)
    algorithm = cfg.SYNTHMOTION.FLOW_ALGO
    options = flow_options(cfg) if algorithm else None
    flow_wanted = _flow_wanted(wanted, options) if options else {}
    flow_dir = cfg.DATA.PATH_TO_DATA_DIR
    videos_ok = _matches(root, _INFO_FILE, wanted)
    flow_ok = not algorithm or _matches(flow_dir, _FLOW_INFO_FILE, flow_wanted)
    if videos_ok and flow_ok:
        return False
    if rank != 0:
        _wait_for(root, _INFO_FILE, wanted, timeout_s)
        if algorithm:
            _wait_for(flow_dir, _FLOW_INFO_FILE, flow_wanted, timeout_s)
        return False
    if not videos_ok:
        _generate_videos(root, wanted)
    if algorithm and not (videos_ok and flow_ok):
        if os.path.abspath(flow_dir) == os.path.abspath(root):
            raise DataError(f"SYNTHMOTION.FLOW_ALGO needs DATA.PATH_TO_DATA_DIR ({flow_dir}) apart from "
                            f"SYNTHMOTION.ROOT ({root})")
        stale = os.path.join(flow_dir, _FLOW_INFO_FILE)
        if os.path.exists(stale):
            os.remove(stale)
        # Flow of other videos (or another algorithm) would be skipped as done: start clean.
        shutil.rmtree(os.path.join(flow_dir, "videos"), ignore_errors=True)
        for name in (MANIFEST_FILE, FAILURES_FILE):
            if os.path.exists(os.path.join(flow_dir, name)):
                os.remove(os.path.join(flow_dir, name))
        _extract_flow(root, flow_dir, options)
        atomic_write_text(stale, json.dumps(flow_wanted, indent=1) + "\n")
    return True
