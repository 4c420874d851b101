"""Configuration: the defaults tree, YAML loading with `_BASE_`, overrides and checks."""

from video3d.config.checks import check_config
from video3d.config.defaults import get_cfg
from video3d.config.io import dump_config
from video3d.config.loading import load_config, parse_overrides
from video3d.errors import ConfigError

__all__ = ["ConfigError", "check_config", "dump_config", "get_cfg", "load_config", "parse_overrides"]
