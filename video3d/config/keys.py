"""Dotted config keys ("DATA.NUM_FRAMES") walked through a CfgNode tree: the one walker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def parent_node(cfg: Mapping, key: str) -> tuple[Any, str]:
    """(the node holding `key`'s leaf, the leaf's name); KeyError for a missing section."""
    *path, leaf = key.split(".")
    node: Any = cfg
    for part in path:
        node = node[part]
    return node, leaf


def get_value(cfg: Mapping, key: str) -> Any:
    """The value at `key`; KeyError when it does not exist."""
    node, leaf = parent_node(cfg, key)
    return node[leaf]


def set_value(cfg: Mapping, key: str, value: Any) -> None:
    node, leaf = parent_node(cfg, key)
    node[leaf] = value


def find_leaf(cfg: Mapping, key: str) -> tuple[bool, Any]:
    """(True, value) when `key` names a leaf of `cfg` (not a section); (False, None) otherwise."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return (False, None) if isinstance(node, Mapping) else (True, node)
