"""Validate a merged config's values and fill in the values derived from others.

Only values are checked here; whether a name selects a known builder (a stem, a decoder, ...)
is checked above the layers, by video3d.known_names."""

from __future__ import annotations

from fvcore.common.config import CfgNode

from video3d.config.archs import apply_arch_preset
from video3d.config.choices import TABLES
from video3d.config.keys import get_value, set_value
from video3d.config.multigrid import check_multigrid
from video3d.errors import ConfigError

_POSITIVE = (
    "TRAIN.BATCH_SIZE", "TEST.BATCH_SIZE", "TEST.NUM_ENSEMBLE_VIEWS", "DATA.NUM_FRAMES",
    "DATA.SAMPLING_RATE", "DATA.TARGET_FPS", "DATA.TRAIN_CROP_SIZE", "DATA.TEST_CROP_SIZE",
    "MODEL.NUM_CLASSES", "SOLVER.MAX_EPOCH", "TRAIN.ACCUM_STEPS", "NUM_SHARDS",
    "RESNET.NUM_GROUPS", "RESNET.WIDTH_PER_GROUP", "RESNET.STEM_WIDTH", "HS.WIDTH",
    "SPLAT.RADIX", "SPLAT.CARDINALITY", "SPLAT.BOTTLENECK_WIDTH", "RESNET.STAGE1_TEMPORAL_POOL",
    "DATA.FLOW_BOUND",
)

_CHANNELS = {"rgb": 3, "flow": 2}

# Per-stage lists that PySlowFast writes per pathway.
_PER_STAGE_KEYS = ("RESNET.NUM_BLOCK_TEMP_KERNEL", "RESNET.TEMPORAL_STRIDES", "RESNET.SPATIAL_STRIDES")


def flatten_pathway_lists(cfg: CfgNode) -> None:
    """PySlowFast writes per-stage values per pathway ([[1], [2], [2], [2]]); one pathway is
    the plain list. Two pathways ([[1, 1], ...]) are SlowFast's: refused in one line."""
    for key in _PER_STAGE_KEYS:
        values = get_value(cfg, key)
        if not any(isinstance(v, (list, tuple)) for v in values):
            continue
        if not all(isinstance(v, (list, tuple)) and len(v) == 1 for v in values):
            raise ConfigError(
                f"config key {key} is {values}: per-pathway values for more than one pathway are "
                "two-pathway SlowFast, which video3d does not build; give one value per stage, "
                "e.g. [1, 2, 2, 2]"
            )
        set_value(cfg, key, [v[0] for v in values])


def _check_choices(cfg: CfgNode) -> None:
    for table in TABLES:
        value = get_value(cfg, table.key)
        if value not in table:
            raise ConfigError(table.error(value))


def _check_positive(cfg: CfgNode) -> None:
    for key in _POSITIVE:
        value = get_value(cfg, key)
        if value <= 0:
            raise ConfigError(f"config key {key} must be positive, got {value}")


def _check_lengths(cfg: CfgNode) -> None:
    for key in ("RESNET.TEMPORAL_KERNELS", "RESNET.TEMPORAL_STRIDES", "RESNET.SPATIAL_STRIDES"):
        if len(get_value(cfg, key)) != 4:
            raise ConfigError(f"config key {key} needs one value per stage (4), got {get_value(cfg, key)}")
    for stage, kernel in enumerate(cfg.RESNET.TEMPORAL_KERNELS):
        pattern = kernel if isinstance(kernel, (list, tuple)) else [kernel]
        if not pattern or not all(isinstance(k, int) and k > 0 and k % 2 for k in pattern):
            raise ConfigError(f"config key RESNET.TEMPORAL_KERNELS entry {stage} is {kernel!r}: an odd kernel or "
                              "a list of odd kernels cycled over the stage's blocks (I3D: [3, 1])")
    if cfg.RESNET.NUM_BLOCK_TEMP_KERNEL and len(cfg.RESNET.NUM_BLOCK_TEMP_KERNEL) != 4:
        raise ConfigError(f"config key RESNET.NUM_BLOCK_TEMP_KERNEL needs one count per stage (4), "
                          f"got {cfg.RESNET.NUM_BLOCK_TEMP_KERNEL}")
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
    if len(cfg.SOLVER.LRS) < len(cfg.SOLVER.STEPS):  # longer LRS: the extra factors are unused, as in PySlowFast
        raise ConfigError(
            f"config key SOLVER.LRS has {len(cfg.SOLVER.LRS)} values but SOLVER.STEPS starts "
            f"{len(cfg.SOLVER.STEPS)} steps: give one LRS factor per step"
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
    check_flow_resize(cfg.DATA.FLOW_SHORT_SIDE, list(cfg.DATA.FLOW_SIZE), cfg.DATA.FLOW_FPS)
    if cfg.RESNET.TEMPORAL_CONV == "a" and cfg.RESNET.BLOCK != "bottleneck":
        raise ConfigError(f"RESNET.TEMPORAL_CONV a puts the temporal kernel on the bottleneck's first 1x1 conv: "
                          f"it needs RESNET.BLOCK bottleneck, got {cfg.RESNET.BLOCK}")
    if cfg.NUM_GPUS < 0:
        raise ConfigError(f"config key NUM_GPUS must be >= 0, got {cfg.NUM_GPUS}")
    if not cfg.NETWORK_TIMEOUT > 0:
        raise ConfigError(f"config key NETWORK_TIMEOUT must be a number of seconds > 0, got {cfg.NETWORK_TIMEOUT}")
    if cfg.CPU_THREADS < 0:
        raise ConfigError(f"config key CPU_THREADS must be >= 0 (0 = auto: the cores the loader workers leave), "
                          f"got {cfg.CPU_THREADS}")
    if cfg.DATA_LOADER.NUM_WORKERS < 0:
        raise ConfigError(f"config key DATA_LOADER.NUM_WORKERS must be >= 0 (0 = load in the main process), "
                          f"got {cfg.DATA_LOADER.NUM_WORKERS}")
    _check_normalisation(cfg)


def _check_normalisation(cfg: CfgNode) -> None:
    """One mean and one std per channel, stds > 0: caught here rather than by the first batch."""
    for key, channels in (("DATA.MEAN", 3), ("DATA.STD", 3), ("DATA.FLOW_MEAN", 2), ("DATA.FLOW_STD", 2)):
        values = list(get_value(cfg, key))
        if len(values) != channels:
            raise ConfigError(f"config key {key} needs one value per channel ({channels}), got {values}")
        if key.endswith("STD") and not all(v > 0 for v in values):
            raise ConfigError(f"config key {key} values must be > 0, got {values}")


def check_flow_resize(short_side, size: list, fps) -> None:
    """The flow-resize rules, for a config (DATA.FLOW_SHORT_SIDE / DATA.FLOW_SIZE / DATA.FLOW_FPS)
    and a `video3d.flow.recipe.FlowRecipe` alike: extract_flow's --short-side / --size WxH, at
    most one, and its --fps (0 / [] = not given)."""
    if not isinstance(short_side, int) or short_side < 0:
        raise ConfigError(f"config key DATA.FLOW_SHORT_SIDE must be an integer >= 0 (0 = not resized), got {short_side!r}")
    if size and (len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)):
        raise ConfigError(f"config key DATA.FLOW_SIZE must be [width, height] in pixels or [], got {size}")
    if not fps >= 0:
        raise ConfigError(f"config key DATA.FLOW_FPS must be >= 0 (0 = every frame), got {fps}")
    if short_side and size:
        raise ConfigError(f"config keys DATA.FLOW_SHORT_SIDE ({short_side}) and DATA.FLOW_SIZE ({size}) are both "
                          "set: extraction resizes by --short-side or by --size, not both")


def input_channels(cfg: CfgNode) -> int:
    """Channels of the network input: DATA.INPUT_CHANNEL_NUM when set, else the modality's."""
    if cfg.DATA.INPUT_CHANNEL_NUM:
        return int(cfg.DATA.INPUT_CHANNEL_NUM[0])
    return _CHANNELS.get(cfg.DATA.MODALITY, 3)


def _check_input_channels(cfg: CfgNode) -> None:
    """DATA.INPUT_CHANNEL_NUM is PySlowFast's per-pathway list; here it must agree with the modality."""
    if cfg.DATA.MODALITY not in _CHANNELS:  # an unknown modality: named by video3d.known_names
        return
    given, wanted = list(cfg.DATA.INPUT_CHANNEL_NUM), [_CHANNELS[cfg.DATA.MODALITY]]
    if len(given) > 1:
        raise ConfigError(
            f"config key DATA.INPUT_CHANNEL_NUM is {given}: one entry per pathway is two-pathway SlowFast, "
            "which video3d does not build (single-pathway slow, c2d, i3d and the resnet3d family are)"
        )
    if given and given != wanted:
        raise ConfigError(
            f"config key DATA.INPUT_CHANNEL_NUM is {given} but DATA.MODALITY {cfg.DATA.MODALITY} has "
            f"{wanted[0]} channels; leave DATA.INPUT_CHANNEL_NUM empty or set {wanted}"
        )
    cfg.DATA.INPUT_CHANNEL_NUM = wanted


def check_config(cfg: CfgNode) -> CfgNode:
    """Raise ConfigError naming the key(s) at fault; fill in derived values. Returns cfg."""
    flatten_pathway_lists(cfg)
    _check_choices(cfg)
    apply_arch_preset(cfg)
    _check_positive(cfg)
    _check_lengths(cfg)
    _check_consistency(cfg)
    _check_input_channels(cfg)
    check_multigrid(cfg)
    return cfg
