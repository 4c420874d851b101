"""Training / validation datasets: one base for Kinetics, SSv2 and HMDB51.

The datasets differ only in how their list is read (`video3d.data.lists`) and, for SSv2, in
the temporal sampling (TSN segments). An item is
`{"video": uint8 [C, T, H, W], "label": int, "index": int, "video_id": str, "replaced": bool}`:
the consumer (trainer, validation, precise BN) normalises the batch on its device with
`transforms.Normalizer.views`, so a worker hands over a quarter of the bytes of float32.

Training: a random clip, random short side in DATA.TRAIN_JITTER_SCALES, random
DATA.TRAIN_CROP_SIZE crop, flip (label- and flow-aware), optional RandAugment / AugMix.
Validation (`training=False`): the centre view of the test protocol, i.e. the centre clip,
short side DATA.TEST_CROP_SIZE and the centre DATA.TEST_CROP_SIZE crop.

Every random number of sample `index` in epoch `e` comes from a generator seeded with
(RNG_SEED, e, index, attempt), so a resumed run sees the same clips with any worker count.
A sample that cannot be decoded is logged once per path (with the reason), from the main
process: a DataLoader worker sends its lines in the item's "failures" field (a JSON list, ""
when none), which the loader's iterator takes out of the batch and logs through `say` of the
main process's dataset, so two workers meeting one broken file log it once. It is counted and
replaced by another sample drawn from the same generator (its item says "replaced", and
per-epoch validation leaves it out instead of counting a video twice);
DATA.MAX_CONSECUTIVE_FAILURES failures in a row stop with a DataError (saying how many of the
videos met were missing). Nothing is stat'ed up front, so a 240,000-line list starts in
seconds: a missing file is counted when met, and each process says how many of the videos it
opened are missing at 1, 10, 100, ... of them, not once per file. Records are kept in a
`RecordTable` (numpy arrays), which forked workers read without copying.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch.utils.data import Dataset, get_worker_info

from video3d.choices import Choices
from video3d.config.multigrid import ClipShape
from video3d.data import sampling, transforms
from video3d.data.flow_manifest import check_flow_manifest
from video3d.data.lists import (
    RecordTable,
    VideoRecord,
    hmdb51_classes,
    hmdb51_records,
    kinetics_records,
    read_class_names,
    ssv2_classes,
    ssv2_records,
)
from video3d.data.sources import open_source_from_cfg
from video3d.data.worker_errors import FAILURES_KEY
from video3d.errors import ConfigError, DataError, DecodeError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)
MISSING_REPORTS = {1, 10, 100, 1000, 10_000, 100_000}  # missing videos at which a process says how many


def sample_generator(seed: int, epoch: int, index: int, attempt: int = 0) -> torch.Generator:
    """A torch generator that depends only on (seed, epoch, index, attempt)."""
    state = np.random.SeedSequence([seed, epoch, index, attempt]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _uniforms(generator: torch.Generator, count: int) -> list[float]:
    return torch.rand(count, generator=generator, dtype=torch.float64).tolist()


class VideoDataset(Dataset):
    """Clips of the videos in `records` (see the module docstring)."""

    def __init__(self, cfg: CfgNode, records: list[VideoRecord], training: bool, name: str = "",
                 class_names: list[str] | None = None):
        self.cfg = cfg
        self.records = RecordTable(records)  # compact: no copy-on-read in the loader's workers
        self.training = training
        self.name = name
        self.epoch = 0
        self.modality = cfg.DATA.MODALITY
        if cfg.AUG.ENABLE and training and self.modality != "rgb":
            raise ConfigError("AUG.ENABLE applies RandAugment / AugMix to RGB clips; turn it off for DATA.MODALITY flow")
        if training and self.modality == "flow" and cfg.DATA.FORMAT == "video":
            raise ConfigError("DATA.MODALITY flow with DATA.FORMAT video computes flow online, for testing and "
                              "prediction; train on extracted flow (data_prep.extract_flow, DATA.FORMAT frames)")
        check_flow_manifest(cfg)
        self.num_failures = 0
        self.videos_met = 0  # videos this process tried to open
        self.num_missing = 0  # of those, files or folders that do not exist (never stat'ed up front)
        self._consecutive_failures = 0
        self._logged_paths: set[str] = set()
        self._said: set[str] = set()  # keys of the lines logged (in the main process)
        self._outbox: list[tuple[str, str]] = []  # a worker's lines for the main process, sent with the item
        self._augment = None
        self.class_names = class_names
        self.normalizer = transforms.Normalizer.from_cfg(cfg)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose samples plain indices give (the sampler passes (epoch, index) keys)."""
        self.epoch = int(epoch)

    # ------------------------------------------------------------------ temporal sampling
    def clip_indices(self, num_video_frames: int, fps: float, generator: torch.Generator | None,
                     shape: ClipShape | None = None) -> list[int]:
        """Frames of one clip: random with `generator`, the centre clip without; `shape`
        (multigrid) overrides DATA.NUM_FRAMES and DATA.SAMPLING_RATE."""
        data = self.cfg.DATA
        frames, rate = (shape.num_frames, shape.sampling_rate) if shape else (data.NUM_FRAMES, data.SAMPLING_RATE)
        if generator is not None and rate > data.SAMPLING_RATE and self.cfg.MULTIGRID.RANDOM_SAMPLING_RATE:
            # PySlowFast's long cycle: a rate drawn from the full clip's up to the one that keeps its span.
            rate = data.SAMPLING_RATE + min(int(_uniforms(generator, 1)[0] * (rate - data.SAMPLING_RATE + 1)),
                                            rate - data.SAMPLING_RATE)
        step = sampling.frame_step(rate, fps, data.TARGET_FPS)
        if generator is None:
            return sampling.multiview_clip_indices(num_video_frames, frames, step, 1)[0]
        return sampling.train_clip_indices(num_video_frames, frames, step, _uniforms(generator, 1)[0])

    # ------------------------------------------------------------------ one sample
    def _load(self, record: VideoRecord, generator: torch.Generator | None,
              shape: ClipShape | None = None) -> tuple[torch.Tensor, int]:
        with open_source_from_cfg(self.cfg, record.path, record.num_frames) as source:
            indices = self.clip_indices(source.num_frames, source.fps, generator, shape)
            frames = source.get_frames(indices)
        clip = frames.permute(0, 3, 1, 2)  # [T, C, H, W]; channels-last memory, as resize likes
        if generator is None:
            size = self.cfg.DATA.TEST_CROP_SIZE
            clip = transforms.resize_short_side(clip, size)
            clip = transforms.crop_clip(clip, *transforms.centre_crop_box(clip.shape[-2], clip.shape[-1], size), size)
            return transforms.planes(clip), record.label
        return self._train_spatial(clip, record.label, generator, shape)

    def _train_spatial(self, clip: torch.Tensor, label: int, generator: torch.Generator,
                       shape: ClipShape | None = None) -> tuple[torch.Tensor, int]:
        data = self.cfg.DATA
        u_scale, u_y, u_x, u_flip = _uniforms(generator, 4)
        scales = (shape.jitter_low, shape.jitter_high) if shape else data.TRAIN_JITTER_SCALES
        clip = transforms.resize_short_side(clip, transforms.jitter_short_side(*scales, u_scale))
        size = shape.crop if shape else data.TRAIN_CROP_SIZE
        clip = transforms.crop_clip(clip, *transforms.random_crop_box(clip.shape[-2], clip.shape[-1], size, u_y, u_x), size)
        if data.RANDOM_FLIP and u_flip < 0.5:
            clip = transforms.flip_clip(clip, self.modality == "flow")
            label = transforms.flip_label(label, data.FLIP_LABEL_MAP)
        if self.cfg.AUG.ENABLE:
            clip = self._apply_augment(clip, generator)
        return transforms.planes(clip), label

    def _apply_augment(self, clip: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self._augment is None:
            self._augment = _build_augment(self.cfg)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):  # pytorchvideo draws from the global RNG
            torch.manual_seed(seed)
            return self._augment(clip.contiguous())

    # ------------------------------------------------------------------ failures
    def _record_missing(self, path: str) -> None:
        """Count a video whose file is not there; say so in plain words at 1, 10, 100, ...
        missing videos (not once per file: a list can name 240,000 of them)."""
        self.num_missing += 1
        if self.num_missing in MISSING_REPORTS:
            self._warn(f"missing {self.num_missing}",
                       "No such file or folder: %s. %d of the %d videos of %s opened so far by this "
                       "process are missing; check DATA.PATH_PREFIX and the list", path, self.num_missing,
                       self.videos_met, self.name or "the dataset")

    def _warn(self, key: str, message: str, *args) -> None:
        """A warning said once per `key`, by the main process: a worker sends it with the item."""
        text = message % args
        if get_worker_info() is None:
            self.say(key, text)
        else:
            self._outbox.append((key, text))

    def say(self, key: str, text: str) -> None:
        """Log `text` unless a line with `key` was logged already (the loader's iterator calls
        this on the main process's dataset with the lines its workers sent)."""
        if key not in self._said:
            self._said.add(key)
            logger.warning("%s", text)

    def _sent_lines(self) -> str:
        lines, self._outbox = self._outbox, []
        return json.dumps(lines) if lines else ""

    def _missing_summary(self) -> str:
        if not self.num_missing:
            return ""
        return f"; {self.num_missing} of the {self.videos_met} videos met so far do not exist"

    def _record_failure(self, index: int, error: DecodeError, video_path: str) -> None:
        self.num_failures += 1
        self._consecutive_failures += 1
        if not os.path.exists(video_path):  # a stat only after a failure, never up front
            self._record_missing(video_path)
        elif error.path not in self._logged_paths:
            self._logged_paths.add(error.path)
            self._warn(error.path, "skipping %s (video %d of %s): %s [%d failed samples in this process]",
                       error.path, index, self.name or "dataset", error.reason, self.num_failures)
        limit = self.cfg.DATA.MAX_CONSECUTIVE_FAILURES
        if self._consecutive_failures >= limit:
            raise DataError(
                f"{self._consecutive_failures} samples in a row could not be decoded "
                f"(DATA.MAX_CONSECUTIVE_FAILURES={limit}); last: {error.path}: {error.reason}"
                f"{self._missing_summary()}. "
                f"Check DATA.PATH_PREFIX and the list in DATA.PATH_TO_DATA_DIR"
            )

    def __getitem__(self, key: int | tuple) -> dict:
        """`dataset[i]` uses the epoch set by `set_epoch`; the loader's sampler passes
        (epoch, i) so that workers need no epoch state, and the multigrid batch sampler
        (epoch, i, ClipShape.key()) for a training clip of another shape."""
        epoch, index = key[:2] if isinstance(key, tuple) else (self.epoch, key)
        shape = ClipShape(*key[2]) if isinstance(key, tuple) and len(key) > 2 and self.training else None
        current, attempt = int(index), 0
        while True:
            generator = sample_generator(self.cfg.RNG_SEED, epoch, index, attempt) if self.training else None
            record = self.records[current]
            self.videos_met += 1
            try:
                video, label = self._load(record, generator, shape)
            except DecodeError as error:
                self._record_failure(current, error, record.path)
                attempt += 1
                replacement = generator or sample_generator(self.cfg.RNG_SEED, epoch, index, attempt)
                current = int(torch.randint(len(self.records), (1,), generator=replacement))
                continue
            self._consecutive_failures = 0
            return {"video": video, "label": label, "index": current, "video_id": record.video_id,
                    "replaced": attempt > 0, FAILURES_KEY: self._sent_lines()}


class SegmentVideoDataset(VideoDataset):
    """SSv2: one frame from each of DATA.NUM_FRAMES equal segments (TSN), random in training,
    the segment middle for validation; test clip k of K takes offset (k + 0.5) / K."""

    def clip_indices(self, num_video_frames: int, fps: float, generator: torch.Generator | None,
                     shape: ClipShape | None = None) -> list[int]:
        """One frame per segment: random positions with `generator`, segment middles without;
        `shape` (multigrid) sets the number of segments."""
        segments = shape.num_frames if shape else self.cfg.DATA.NUM_FRAMES
        if generator is None:
            return sampling.segment_indices(num_video_frames, sampling.segment_view_positions(segments, 0, 1))
        return sampling.segment_indices(num_video_frames, _uniforms(generator, segments))



def _build_augment(cfg: CfgNode):
    # video3d/__init__ (already imported) aliased the torchvision module pytorchvideo needs.
    from pytorchvideo.transforms import AugMix, RandAugment

    if cfg.AUG.TYPE == "randaug":
        return RandAugment(magnitude=cfg.AUG.MAGNITUDE, num_layers=cfg.AUG.NUM_LAYERS)
    return AugMix(magnitude=cfg.AUG.MAGNITUDE)


@dataclass(frozen=True)
class DatasetKind:
    """How a dataset is read: its list reader, its dataset class (how training and validation
    clips are sampled), its test-time clip positions (`cfg -> (frames, fps, clips) -> indices`)
    and, where its own files name the classes, the reader of those names."""

    records: Callable[[CfgNode, str], list[VideoRecord]]
    dataset_class: type[VideoDataset]
    view_clips: Callable[[CfgNode], Callable[[int, float, int], list[list[int]]]]
    own_class_names: Callable[[CfgNode], list[str]] | None = None


# TRAIN.DATASET and TEST.DATASET values.
DATASETS = Choices("TRAIN.DATASET", {
    "kinetics": DatasetKind(kinetics_records, VideoDataset, sampling.EvenlySpacedClips.from_cfg),
    "ssv2": DatasetKind(ssv2_records, SegmentVideoDataset, sampling.SegmentClips.from_cfg, ssv2_classes),
    "hmdb51": DatasetKind(hmdb51_records, VideoDataset, sampling.EvenlySpacedClips.from_cfg, hmdb51_classes),
})


def class_names_for(cfg: CfgNode, dataset: str, key: str = "TRAIN.DATASET") -> list[str] | None:
    """Class names by label: DATA.CLASS_NAMES_FILE when set, else what the dataset's own
    files define (SSv2 labels json, HMDB51 sorted class names), else None (Kinetics)."""
    own_class_names = DATASETS.lookup(dataset, key).own_class_names
    if cfg.DATA.CLASS_NAMES_FILE:
        names = read_class_names(cfg.DATA.CLASS_NAMES_FILE)
        if len(names) != cfg.MODEL.NUM_CLASSES:
            raise DataError(f"{cfg.DATA.CLASS_NAMES_FILE}: {len(names)} class names for "
                            f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES} (DATA.CLASS_NAMES_FILE)")
        return names
    return own_class_names(cfg) if own_class_names is not None else None


def dataset_for(cfg: CfgNode, name: str, split: str, training: bool, key: str = "TRAIN.DATASET") -> VideoDataset:
    """Dataset `name` (the value of config key `key`) over list `split`."""
    kind = DATASETS.lookup(name, key)
    return kind.dataset_class(cfg, kind.records(cfg, split), training, name=f"{name}/{split}",
                              class_names=class_names_for(cfg, name, key))


def build_dataset(cfg: CfgNode, split: str, training: bool) -> VideoDataset:
    """The TRAIN.DATASET dataset of list `split`: random clips with augmentation when
    `training`, else the single deterministic centre view (per-epoch validation)."""
    return dataset_for(cfg, cfg.TRAIN.DATASET, split, training)
