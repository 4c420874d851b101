"""Defaults -> YAML files (each with `_BASE_`) -> KEY VALUE overrides, with errors that name the culprit.

Each source is sieved first (video3d/config/pyslowfast.py): every key video3d does not take is
reported at once, PySlowFast keys that change nothing are listed in one warning."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import yaml
from fvcore.common.config import CfgNode

from video3d.config.archs import BUILT_ARCHS
from video3d.config.checks import ConfigError, check_config
from video3d.config.defaults import get_cfg
from video3d.config.pyslowfast import (
    REFUSED_ARCHS,
    Sieve,
    refused_arch,
    refused_model_name,
    sieve_items,
    sieve_tree,
)
from video3d.utils.logging import get_logger
from video3d.utils.paths import is_local, local_copy

logger = get_logger(__name__)

_NON_EXISTENT = re.compile(r"Non-existent (?:config )?key: (\S+)")
_TYPE_MISMATCH = re.compile(r"Type mismatch \((.*) vs\. (.*)\) with values \((.*) vs\. (.*)\) for config key: (\S+)")


def parse_overrides(opts: Sequence[str]) -> list[str]:
    """Flatten `KEY VALUE ...`; an odd count means a key lost its value."""
    opts = list(opts)
    if len(opts) % 2:
        raise ConfigError(f"override '{opts[-1]}' has no value (overrides come as KEY VALUE pairs)")
    return opts


def _translate(err: Exception, source: str) -> ConfigError:
    """Turn yacs' assertion / KeyError / ValueError text into one line naming the key."""
    text = str(err).strip("'\"")
    missing = _NON_EXISTENT.search(text)
    if missing:
        return ConfigError(f"{source}: unknown config key {missing.group(1)}")
    mismatch = _TYPE_MISMATCH.search(text)
    if mismatch:
        want, _, default, got, key = mismatch.groups()
        return ConfigError(
            f"{source}: config key {key} expects {want.strip('<>').replace('class ', '')} "
            f"(like {default}), got {got!s}"
        )
    return ConfigError(f"{source}: {text}")


def _report(found: Sieve) -> None:
    """One error line for everything the source set that video3d cannot honour; one warning
    line for the PySlowFast keys that change nothing here."""
    if found.problems:
        count = len(found.problems)
        noun = "unknown config key" if count == 1 else f"{count} unknown config keys:"
        raise ConfigError(f"{found.source}: {noun} " + "; ".join(found.problems))
    if found.no_ops:
        logger.warning("%s: PySlowFast keys accepted with no effect in video3d: %s", found.source,
                       ", ".join(found.no_ops))


def _check_arch(tree: dict, source: str) -> None:
    model = tree.get("MODEL") if isinstance(tree.get("MODEL"), dict) else {}
    arch, name = model.get("ARCH"), model.get("MODEL_NAME")
    key, value, why = "MODEL.ARCH", arch, refused_arch(arch) if arch is not None else None
    if why is None and name is not None and refused_model_name(name):
        key, value, why = "MODEL.MODEL_NAME", name, refused_model_name(name)
    if why is None and "SLOWFAST" in tree:
        value, why = "slowfast (a SLOWFAST section)", REFUSED_ARCHS["slowfast"]
    if why:
        raise ConfigError(f"{source}: {key} {value}: {why}; video3d builds {', '.join(BUILT_ARCHS)}")


def _say_which_model(cfg: CfgNode) -> None:
    """PySlowFast picks its model class by MODEL.MODEL_NAME; video3d builds by MODEL.ARCH only."""
    if str(cfg.MODEL.MODEL_NAME).lower() == "slowfast" and cfg.MODEL.ARCH != "slowfast":
        logger.warning("MODEL.MODEL_NAME SlowFast with MODEL.ARCH %s: video3d builds the single-pathway %s "
                       "network (MODEL.ARCH decides; MODEL.MODEL_NAME only names the run)", cfg.MODEL.ARCH,
                       cfg.MODEL.ARCH)


def _base_path(base, path: str) -> str:
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: _BASE_ must be a file name or a list of file names, got {base!r}")
    base = os.path.expanduser(base)
    if os.path.isabs(base) or not is_local(base):
        return base
    return os.path.join(os.path.dirname(path), base)  # relative to the including file (a URL too)


def _merge_tree(tree: dict, into: dict, path: str) -> None:
    """fvcore's merge of a file onto its bases: sections merge key by key, values replace."""
    for key, value in tree.items():
        if isinstance(value, dict) and key in into:
            if not isinstance(into[key], dict):
                raise ConfigError(f"{path}: {key} is a section here but a value ({into[key]!r}) in its _BASE_")
            _merge_tree(value, into[key], path)
        else:
            into[key] = value


def _load_yaml_tree(path: str, chain: tuple[str, ...] = ()) -> dict:
    """The YAML mapping of `path` merged onto its `_BASE_` file(s), as fvcore's
    load_yaml_with_base does, but a cycle, an empty file and a missing base are one line."""
    identity = os.path.realpath(path) if is_local(path) else path
    if identity in chain:
        cycle = [*chain[chain.index(identity):], identity]
        raise ConfigError(f"_BASE_ cycle: {' -> '.join(cycle)}")
    local = local_copy(path, ConfigError)  # a URL: fetched once per run into the iopath cache
    if not os.path.isfile(local):
        raise ConfigError(f"base config file not found: {path}" if chain else f"config file not found: {path}")
    try:
        with open(local, encoding="utf-8") as handle:
            tree = yaml.safe_load(handle)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from err
    if tree is None:
        raise ConfigError(f"{path}: the config file is empty (no config keys)")
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(tree).__name__}")
    if "_BASE_" not in tree:
        return tree
    bases = tree.pop("_BASE_")
    merged: dict = {}
    for base in bases if isinstance(bases, list) else [bases]:
        _merge_tree(_load_yaml_tree(_base_path(base, path), (*chain, identity)), merged, path)
    _merge_tree(tree, merged, path)
    return merged


def _read_yaml(path: str) -> dict:
    try:
        return _load_yaml_tree(path)
    except (KeyError, ValueError, AssertionError, TypeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise _translate(err, path) from err


def _merge_file(cfg: CfgNode, path: str) -> None:
    tree = _read_yaml(path)
    _check_arch(tree, path)
    found, kept = sieve_tree(tree, get_cfg(), path)
    _report(found)
    try:
        cfg.merge_from_other_cfg(CfgNode(kept))
    except (KeyError, ValueError, AssertionError, TypeError) as err:
        raise _translate(err, path) from err


def _merge_overrides(cfg: CfgNode, opts: list[str]) -> None:
    pairs = [(key, CfgNode._decode_cfg_value(value)) for key, value in zip(opts[::2], opts[1::2], strict=True)]
    given = dict(pairs)
    model = {leaf: given[f"MODEL.{leaf}"] for leaf in ("ARCH", "MODEL_NAME") if f"MODEL.{leaf}" in given}
    _check_arch({"MODEL": model}, "command line")
    found, kept = sieve_items(pairs, get_cfg(), "command line")
    _report(found)
    try:
        cfg.merge_from_list([item for key, value in kept.items() for item in (key, repr(value))])
    except (KeyError, ValueError, AssertionError, TypeError) as err:
        raise _translate(err, "command line") from err


def load_config(cfg_file: str | Sequence[str] | None = None, opts: Sequence[str] = (), check: bool = True) -> CfgNode:
    """Defaults, then each of `cfg_file` in order (each with its `_BASE_` chain first; later
    files win), then `opts` overrides. The training CLI runs one job per file instead, as
    PySlowFast's `--cfg A.yaml B.yaml` (video3d/cli/run_net.py)."""
    cfg = get_cfg()
    files = [cfg_file] if isinstance(cfg_file, str) else list(cfg_file or [])
    for path in files:
        _merge_file(cfg, path)
    opts = parse_overrides(opts)
    if opts:
        _merge_overrides(cfg, opts)
    if files or opts:
        _say_which_model(cfg)
    if check:
        check_config(cfg)
    return cfg
