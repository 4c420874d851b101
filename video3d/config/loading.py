"""Defaults -> YAML (with `_BASE_`) -> KEY VALUE overrides, with errors that name the culprit."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import yaml
from fvcore.common.config import CfgNode

from video3d.config.checks import ConfigError, check_config
from video3d.config.defaults import get_cfg

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


def _merge_file(cfg: CfgNode, path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        cfg.merge_from_file(path)
    except FileNotFoundError as err:  # a missing _BASE_ file
        raise ConfigError(f"{path}: base config file not found: {err.filename or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from err
    except (KeyError, ValueError, AssertionError, TypeError) as err:
        raise _translate(err, path) from err


def load_config(cfg_file: str | Sequence[str] | None = None, opts: Sequence[str] = (),
                check: bool = True) -> CfgNode:
    """Defaults, then `cfg_file` (its `_BASE_` chain first; several files merge in order, later
    ones win), then `opts` overrides; checked once at the end."""
    cfg = get_cfg()
    for path in [cfg_file] if isinstance(cfg_file, str) else (cfg_file or []):
        _merge_file(cfg, path)
    opts = parse_overrides(opts)
    if opts:
        try:
            cfg.merge_from_list(opts)
        except (KeyError, ValueError, AssertionError, TypeError) as err:
            raise _translate(err, "command line") from err
    if check:
        check_config(cfg)
    return cfg
