"""PySlowFast's config keys that video3d reads differently or not at all.

A YAML file (or KEY VALUE override) is sieved before it is merged: keys video3d knows pass;
PySlowFast keys whose value changes nothing here are dropped and listed in one warning; every
other key is collected, with a hint where one exists, and all of them are reported in one
error. docs/INTERFACES.md ("Config") lists the table's entries.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fvcore.common.config import CfgNode

from video3d.config.keys import find_leaf
from video3d.errors import ConfigError


def _any(_value: Any) -> bool:
    return True


def _equals(*accepted: Any) -> Callable[[Any], bool]:
    return lambda value: value in accepted


def _only_empty_lists(value: Any) -> bool:
    """NONLOCAL.LOCATION [[[]], [[]], [[]], [[]]]: no non-local block anywhere."""
    if isinstance(value, (list, tuple)):
        return all(_only_empty_lists(v) for v in value)
    return False


def _all_ones(value: Any) -> bool:
    """RESNET.SPATIAL_DILATIONS [[1], [1], [1], [1]]: no dilation."""
    if isinstance(value, (list, tuple)):
        return all(_all_ones(v) for v in value)
    return value == 1


# key -> (test for a value that changes nothing in video3d, what the accepted value means here)
NO_OP_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "LOG_MODEL_INFO": (_any, "tools/model_info.py prints the model"),
    "MODEL.LOSS_FUNC": (_equals("cross_entropy", "soft_cross_entropy"), "cross-entropy (soft targets under mixup)"),
    "MODEL.HEAD_ACT": (_equals("softmax"), "softmax over the view average at test time"),
    "NONLOCAL.LOCATION": (_only_empty_lists, "no non-local blocks"),
    "NONLOCAL.GROUP": (_any, "read only with non-local blocks"),
    "NONLOCAL.INSTANTIATION": (_any, "read only with non-local blocks"),
    "NONLOCAL.POOL": (_any, "read only with non-local blocks"),
    "NONLOCAL.NORM_TYPE": (_any, "read only with non-local blocks"),
    "RESNET.SPATIAL_DILATIONS": (_all_ones, "no dilation"),
    "RESNET.INPLACE_RELU": (_any, "ReLU placement does not change the numbers"),
    "DATA.INV_UNIFORM_SAMPLE": (_equals(False), "scales uniform in DATA.TRAIN_JITTER_SCALES"),
    "DATA.REVERSE_INPUT_CHANNEL": (_equals(False), "RGB order"),
    "DATA.MULTI_LABEL": (_equals(False), "single-label classification"),
    "TRAIN.CHECKPOINT_TYPE": (_equals("pytorch"), "a PyTorch file"),
    "TEST.CHECKPOINT_TYPE": (_equals("pytorch"), "a PyTorch file"),
    "SOLVER.DAMPENING": (_equals(0.0), "SGD without dampening"),
    "DETECTION.ENABLE": (_equals(False), "classification"),
    "DEMO.ENABLE": (_equals(False), "no demo"),
}

# PySlowFast key -> {its value: (video3d key, value)}: the same choice under video3d's name.
TRANSLATED: dict[str, dict[Any, tuple[str, Any]]] = {
    "RESNET.TRANS_FUNC": {"bottleneck_transform": ("RESNET.BLOCK", "bottleneck"),
                          "basic_transform": ("RESNET.BLOCK", "basic")},
}

# Keys that were booleans (PySlowFast's TRAIN.MIXED_PRECISION) and take a value now: bool -> value.
BOOL_VALUES: dict[str, dict[bool, str]] = {
    "TRAIN.MIXED_PRECISION": {True: "auto", False: "fp32"},
    "TEST.MIXED_PRECISION": {True: "auto", False: "fp32"},
}

# PySlowFast values of video3d keys that name the same thing differently: key -> {its value: ours}.
# Its PyTorchVideo datasets read the same lists as their twins (slowfast/datasets/ptv_datasets.py).
VALUE_ALIASES: dict[str, dict[Any, Any]] = {
    "TRAIN.DATASET": {"ptvkinetics": "kinetics", "ptvssv2": "ssv2"},
    "TEST.DATASET": {"ptvkinetics": "kinetics", "ptvssv2": "ssv2"},
}

# What to do instead, for PySlowFast keys and values video3d does not take.
HINTS: dict[str, str] = {
    "RESNET.TRANS_FUNC": "video3d's RESNET.BLOCK (bottleneck_transform = bottleneck, basic_transform = basic)",
    "RESNET.SPATIAL_DILATIONS": "video3d builds no dilated stages",
    "NONLOCAL.LOCATION": "video3d builds no non-local blocks (NONLOCAL is not supported)",
    "SLOWFAST": "two-pathway SlowFast is not built by video3d",
    "BN.NUM_SYNC_DEVICES": "video3d's BN.NORM_TYPE sync_batchnorm syncs over all processes",
    "TRAIN.CHECKPOINT_TYPE": "caffe2 .pkl files are not read; convert PyTorch files with tools/convert_weights.py",
    "TEST.CHECKPOINT_TYPE": "caffe2 .pkl files are not read; convert PyTorch files with tools/convert_weights.py",
    "DATA.INV_UNIFORM_SAMPLE": "video3d samples scales uniformly in DATA.TRAIN_JITTER_SCALES",
    "DATA.REVERSE_INPUT_CHANNEL": "video3d decodes RGB frames",
    "DATA.DECODING_BACKEND": "video3d's decoders: pyav, decord or torchcodec",
    "TRAIN.AMP_DTYPE": "video3d's TRAIN.MIXED_PRECISION takes the dtype: auto, fp32, bf16 or fp16",
    "MODEL.LOSS_FUNC": "video3d trains with cross-entropy (soft targets under MIXUP)",
    "MODEL.HEAD_ACT": "only softmax is supported: video3d trains single-label classifiers and averages "
                      "softmax scores over the test views",
    "TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN": "a head of another shape is left out automatically",
    "TRAIN.CHECKPOINT_IN_INIT": "video3d loads TRAIN.CHECKPOINT_FILE_PATH after building the model",
    "MULTIGRID": "video3d takes MULTIGRID.LONG_CYCLE, SHORT_CYCLE, LONG_CYCLE_FACTORS, SHORT_CYCLE_FACTORS, "
                 "EPOCH_FACTOR, BN_BASE_SIZE and DEFAULT_S; it derives the rest (docs/MULTIGRID.md)",
    "DETECTION": "video3d does classification only",
    "AVA": "video3d does classification only",
}

# MODEL.ARCH values of PySlowFast that video3d refuses, and why.
REFUSED_ARCHS = {
    "slowfast": "two-pathway SlowFast is not built by video3d",
    "x3d": "X3D is not built by video3d",
    "mvit": "MViT is not built by video3d",
    "vit": "ViT is not built by video3d",
    "csn": "CSN (channel-separated networks) is not built by video3d",
    "r2plus1d": "R(2+1)D is not built by video3d",
}

# MODEL.MODEL_NAME values of PySlowFast whose network video3d does not build, whatever MODEL.ARCH
# says (its REV_MVIT_B_16x4_CONV sets ARCH slow with MODEL_NAME MViT).
REFUSED_MODEL_NAMES = {
    "mvit": "MViT (and Rev-MViT) is not built by video3d",
    "revvit": "Rev-ViT is not built by video3d",
    "x3d": REFUSED_ARCHS["x3d"],
    "ptvcsn": REFUSED_ARCHS["csn"],
    "ptvr2plus1d": REFUSED_ARCHS["r2plus1d"],
    "ptvx3d": REFUSED_ARCHS["x3d"],
    "ptvmvit": "MViT is not built by video3d",
    "ptvslowfast": REFUSED_ARCHS["slowfast"],
}


@dataclass
class Sieve:
    """What `sieve` found in one source: keys to drop, problems to report, values to coerce."""

    source: str
    no_ops: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _flatten(tree: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items


def _is_section(defaults: CfgNode, key: str) -> bool:
    node: Any = defaults
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return isinstance(node, Mapping)


def _hint(key: str, known: list[str]) -> str:
    for name in (key, key.split(".")[0]):
        if name in HINTS:
            return HINTS[name]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
    return f"did you mean {close[0]}?" if close else ""


def _describe(key: str, value: Any, hint: str) -> str:
    return f"{key} = {value!r}" + (f" ({hint})" if hint else "")


def sieve_items(items: list[tuple[str, Any]], defaults: CfgNode, source: str) -> tuple[Sieve, dict[str, Any]]:
    """Split (key, value) pairs into video3d keys (returned, ints coerced to floats where the
    default is a float), PySlowFast no-ops (listed) and problems (unknown keys, PySlowFast keys
    with a value video3d cannot honour), each with a hint."""
    found = Sieve(source)
    kept: dict[str, Any] = {}
    translations: dict[str, Any] = {}
    known = [name for name, _ in _flatten(defaults)]
    for key, raw in items:
        value = CfgNode._decode_cfg_value(raw)  # as yacs reads it: "1e-4" is a float
        is_leaf, default = find_leaf(defaults, key)
        if is_leaf:
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # WARMUP_EPOCHS: 34 means 34.0 (yacs would refuse the int)
            elif isinstance(value, bool) and key in BOOL_VALUES:
                value = BOOL_VALUES[key][value]  # MIXED_PRECISION True (PySlowFast) means auto
            elif isinstance(value, str) and value in VALUE_ALIASES.get(key, {}):
                found.no_ops.append(f"{key} {value} (= {VALUE_ALIASES[key][value]})")
                value = VALUE_ALIASES[key][value]
            kept[key] = value
        elif key in NO_OP_KEYS and NO_OP_KEYS[key][0](value):
            found.no_ops.append(key)
        elif isinstance(value, str) and value in TRANSLATED.get(key, {}):
            target, translated = TRANSLATED[key][value]
            found.no_ops.append(f"{key} {value} (= {target} {translated})")
            translations[target] = translated
        elif _is_section(defaults, key):
            example = next(name for name in known if name.startswith(key + "."))
            raise ConfigError(f"{source}: config key {key} is a section of keys (such as {example}), "
                              f"not a value: got {key} = {value!r}")
        else:
            found.problems.append(_describe(key, value, _hint(key, known)))
    for target, value in translations.items():
        kept.setdefault(target, value)  # a video3d key set in the same source wins
    return found, kept


def unflatten(kept: Mapping[str, Any]) -> dict:
    """{"A.B": v} -> {"A": {"B": v}}: dotted keys back into a nested tree."""
    tree: dict = {}
    for key, value in kept.items():
        node = tree
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def sieve_tree(tree: Mapping, defaults: CfgNode, source: str) -> tuple[Sieve, dict]:
    """`sieve_items` on a loaded YAML tree; returns the tree of video3d keys."""
    found, kept = sieve_items(_flatten(tree), defaults, source)
    return found, unflatten(kept)


def refused_arch(arch: Any) -> str | None:
    """Why PySlowFast's MODEL.ARCH `arch` is not built here, or None."""
    return REFUSED_ARCHS.get(str(arch).lower())


def refused_model_name(name: Any) -> str | None:
    """Why PySlowFast's MODEL.MODEL_NAME `name` is not built here, or None."""
    return REFUSED_MODEL_NAMES.get(str(name).lower())
