"""Multigrid batches: shapes and sizes follow the schedule, resume mid short cycle, any worker count."""

from __future__ import annotations

import torch

from video3d.config import multigrid
from video3d.data import build_loader, set_loader_epoch
from video3d.data.datasets import build_dataset


def _multigrid_cfg(loader_cfg):
    cfg = loader_cfg
    cfg.MULTIGRID.SHORT_CYCLE = True
    cfg.MULTIGRID.SHORT_CYCLE_FACTORS = [0.5, 0.75]
    cfg.RESNET.STEM_POOL = False
    cfg.RESNET.SPATIAL_STRIDES = [1, 1, 1, 2]  # a model stride of 4 takes a 16-pixel crop
    cfg.TRAIN.BATCH_SIZE = 1
    return cfg


def _epoch(loader, epoch, skip=0):
    set_loader_epoch(loader, epoch, skip)
    return [(b["video"], b["index"].tolist()) for b in loader]


def test_short_cycle_batches_cycle_through_crops_and_sizes(loader_cfg):
    cfg = _multigrid_cfg(loader_cfg)
    loader = build_loader(cfg, "train", True)
    batches = _epoch(loader, 0)
    # crops 16, 24, 32 with batches 4 (=(32/16)^2), 2 (round((32/24)^2)), 1 of the 6 videos
    assert [tuple(v.shape) for v, _ in batches] == [(4, 3, 4, 16, 16), (2, 3, 4, 24, 24)]
    assert len(loader) == 2
    seen = [i for _, indices in batches for i in indices]
    assert len(seen) == 6 and set(seen) >= {0, 1, 2, 3, 5}  # every video once; missing.mp4 replaced


def test_resume_mid_short_cycle_gives_the_same_batches(loader_cfg):
    cfg = _multigrid_cfg(loader_cfg)
    full = _epoch(build_loader(cfg, "train", True), 3)
    resumed = _epoch(build_loader(cfg, "train", True), 3, skip=1)
    assert len(resumed) == len(full) - 1
    for (a, ia), (b, ib) in zip(full[1:], resumed, strict=True):
        assert torch.equal(a, b) and ia == ib


def test_workers_see_the_shapes_through_the_keys(loader_cfg):
    cfg = _multigrid_cfg(loader_cfg)
    serial = _epoch(build_loader(cfg, "train", True), 1)
    cfg.DATA_LOADER.NUM_WORKERS = 2
    parallel = _epoch(build_loader(cfg, "train", True), 1)
    for (a, _), (b, _) in zip(serial, parallel, strict=True):
        assert torch.equal(a, b)


def test_long_cycle_clip_keeps_the_time_span_with_fewer_frames(loader_cfg):
    dataset = build_dataset(loader_cfg, "train", True)
    short = multigrid.clip_shape(loader_cfg, 2, 24)
    item = dataset[(0, 0, short.key())]
    assert item["video"].shape == (3, 2, 24, 24)
    assert short.sampling_rate == 2 * loader_cfg.DATA.SAMPLING_RATE
    assert dataset[(0, 0)]["video"].shape == (3, 4, 32, 32)  # no shape: the full one


def test_validation_ignores_a_shape_key(loader_cfg):
    dataset = build_dataset(loader_cfg, "train", False)
    shape = multigrid.clip_shape(loader_cfg, 2, 24)
    assert torch.equal(dataset[(0, 1, shape.key())]["video"], dataset[1]["video"])


def _steps(dataset, shape, seeds):
    """The frame steps of the training clips the generator seeds give (100 frames at the target fps)."""
    fps = dataset.cfg.DATA.TARGET_FPS
    steps = set()
    for seed in seeds:
        indices = dataset.clip_indices(100, fps, torch.Generator().manual_seed(seed), shape)
        steps |= {b - a for a, b in zip(indices, indices[1:], strict=False)}
    return steps


def test_long_cycle_clip_draws_its_rate_from_the_full_one_up_to_the_span_keeping_one(loader_cfg):
    dataset = build_dataset(loader_cfg, "train", True)
    base = loader_cfg.DATA.SAMPLING_RATE
    short = multigrid.clip_shape(loader_cfg, loader_cfg.DATA.NUM_FRAMES // 2, 24)
    assert _steps(dataset, short, range(64)) == set(range(base, 2 * base + 1))  # PySlowFast: randint(rate, 2 rate)
    loader_cfg.MULTIGRID.RANDOM_SAMPLING_RATE = False
    assert _steps(dataset, short, range(64)) == {2 * base}


def test_full_shape_clip_draws_nothing_more_than_a_plain_training_clip(loader_cfg):
    dataset = build_dataset(loader_cfg, "train", True)
    full = multigrid.full_shape(loader_cfg)
    for seed in range(8):
        generators = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        assert dataset.clip_indices(100, 30.0, generators[0], full) == dataset.clip_indices(100, 30.0, generators[1])
        assert torch.equal(torch.rand(3, generator=generators[0]), torch.rand(3, generator=generators[1]))
