"""Validate a merged config and fill in the values derived from others."""

from __future__ import annotations

from fvcore.common.config import CfgNode

from video3d.errors import ConfigError

_CHOICES = {
    "DATA.MODALITY": ("rgb", "flow"),
    "DATA.FORMAT": ("video", "frames"),
    "DATA.DECODING_BACKEND": ("pyav", "decord"),
    "DATA.ENSEMBLE_METHOD": ("mean", "sum", "max"),
    "TRAIN.DATASET": ("kinetics", "ssv2", "hmdb51"),
    "TEST.DATASET": ("kinetics", "ssv2", "hmdb51"),
    "TRAIN.CHECKPOINT_INFLATE_METHOD": ("centre", "mean"),
    "TRAIN.AMP_DTYPE": ("bfloat16", "float16"),
    "SOLVER.LR_POLICY": ("steps_with_relative_lrs", "cosine"),
    "SOLVER.OPTIMIZING_METHOD": ("sgd", "adamw"),
    "MODEL.HEAD": ("linear", "ffc"),
    "RESNET.STEM": ("basic", "deep"),
    "RESNET.LAYOUT": ("standard", "improved"),
    "RESNET.SHORTCUT": ("conv", "maxpool", "avgdown"),
    "RESNET.BLOCK": ("basic", "bottleneck", "hs", "splat"),
    "FFC.TRAIN_ENSEMBLE": ("mean7", "mean4"),
    "FFC.TEST_ENSEMBLE": ("vote", "mean"),
    "BN.NORM_TYPE": ("batchnorm", "sync_batchnorm"),
    "AUG.TYPE": ("randaug", "augmix"),
    "DIST_BACKEND": ("auto", "nccl", "gloo"),
    "SYNTHMOTION.FLOW_ALGO": ("", "dis", "tvl1", "farneback"),
}

_POSITIVE = (
    "TRAIN.BATCH_SIZE", "TEST.BATCH_SIZE", "TEST.NUM_ENSEMBLE_VIEWS", "DATA.NUM_FRAMES",
    "DATA.SAMPLING_RATE", "DATA.TARGET_FPS", "DATA.TRAIN_CROP_SIZE", "DATA.TEST_CROP_SIZE",
    "MODEL.NUM_CLASSES", "SOLVER.MAX_EPOCH", "TRAIN.ACCUM_STEPS", "NUM_SHARDS",
    "RESNET.NUM_GROUPS", "RESNET.WIDTH_PER_GROUP", "RESNET.STEM_WIDTH", "HS.WIDTH",
    "SPLAT.RADIX", "SPLAT.CARDINALITY", "SPLAT.BOTTLENECK_WIDTH",
)

_CHANNELS = {"rgb": 3, "flow": 2}


def _get(cfg: CfgNode, key: str):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def _check_choices(cfg: CfgNode) -> None:
    for key, allowed in _CHOICES.items():
        value = _get(cfg, key)
        if value not in allowed:
            raise ConfigError(f"config key {key} is {value!r}; expected one of {', '.join(allowed)}")


def _check_positive(cfg: CfgNode) -> None:
    for key in _POSITIVE:
        value = _get(cfg, key)
        if value <= 0:
            raise ConfigError(f"config key {key} must be positive, got {value}")


def _check_lengths(cfg: CfgNode) -> None:
    for key in ("RESNET.TEMPORAL_KERNELS", "RESNET.TEMPORAL_STRIDES", "RESNET.SPATIAL_STRIDES"):
        if len(_get(cfg, key)) != 4:
            raise ConfigError(f"config key {key} needs one value per stage (4), got {_get(cfg, key)}")
    if cfg.RESNET.STAGE_BLOCKS and len(cfg.RESNET.STAGE_BLOCKS) != 4:
        raise ConfigError(f"config key RESNET.STAGE_BLOCKS needs 4 values, got {cfg.RESNET.STAGE_BLOCKS}")
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    if not 0 < low <= high:
        raise ConfigError(f"config key DATA.TRAIN_JITTER_SCALES must be [low, high] with 0 < low <= high, got {[low, high]}")
    if cfg.DATA.TRAIN_CROP_SIZE > low:
        raise ConfigError(
            f"config key DATA.TRAIN_CROP_SIZE ({cfg.DATA.TRAIN_CROP_SIZE}) exceeds the smallest "
            f"DATA.TRAIN_JITTER_SCALES ({low})"
        )
    if len(cfg.SOLVER.STEPS) != len(cfg.SOLVER.LRS):
        raise ConfigError(
            f"config keys SOLVER.STEPS ({len(cfg.SOLVER.STEPS)} values) and SOLVER.LRS "
            f"({len(cfg.SOLVER.LRS)} values) must have the same length"
        )
    for pair in cfg.DATA.FLIP_LABEL_MAP:
        if len(pair) != 2 or not all(0 <= int(c) < cfg.MODEL.NUM_CLASSES for c in pair):
            raise ConfigError(f"config key DATA.FLIP_LABEL_MAP entry {pair} is not a pair of labels < MODEL.NUM_CLASSES")


def _check_consistency(cfg: CfgNode) -> None:
    if cfg.TEST.NUM_SPATIAL_CROPS not in (1, 3):
        raise ConfigError(f"config key TEST.NUM_SPATIAL_CROPS must be 1 or 3, got {cfg.TEST.NUM_SPATIAL_CROPS}")
    if cfg.RESNET.BLOCK == "basic" and cfg.RESNET.DEPTH >= 50 and not cfg.RESNET.STAGE_BLOCKS:
        raise ConfigError(f"RESNET.BLOCK basic needs RESNET.DEPTH 18 or 34, got {cfg.RESNET.DEPTH}")
    if cfg.RESNET.BLOCK != "basic" and cfg.RESNET.DEPTH < 50 and not cfg.RESNET.STAGE_BLOCKS:
        raise ConfigError(f"RESNET.BLOCK {cfg.RESNET.BLOCK} needs RESNET.DEPTH >= 50, got {cfg.RESNET.DEPTH}")
    if cfg.DATA.MODALITY == "flow" and cfg.DATA.FORMAT != "frames":
        raise ConfigError("DATA.MODALITY flow reads extracted flow frames: set DATA.FORMAT frames")
    if cfg.NUM_GPUS < 0:
        raise ConfigError(f"config key NUM_GPUS must be >= 0, got {cfg.NUM_GPUS}")


def check_config(cfg: CfgNode) -> CfgNode:
    """Raise ConfigError naming the key(s) at fault; fill in derived values. Returns cfg."""
    _check_choices(cfg)
    _check_positive(cfg)
    _check_lengths(cfg)
    _check_consistency(cfg)
    cfg.DATA.INPUT_CHANNEL_NUM = [_CHANNELS[cfg.DATA.MODALITY]]
    return cfg
