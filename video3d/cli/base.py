"""What every command-line tool shares: `--cfg FILE...` + `KEY VALUE` overrides, argparse
types, and the wrapper that turns a user error into one line on stderr and exit code 2.

The rest of the library never parses argv or exits; tools are `main(argv)` functions
decorated with `command` (docs/CLI.md).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from fvcore.common.config import CfgNode

from video3d.config import get_cfg
from video3d.config.keys import find_leaf
from video3d.known_names import load_checked_config
from video3d.utils.commands import (  # noqa: F401  the CLI toolkit: tools import them from here
    INTERRUPTED,
    USER_ERROR,
    command,
    default_workers,
    non_negative_int,
    positive_int,
)
from video3d.utils.paths import DEFAULT_TIMEOUT, set_network_timeout

_YAML_SUFFIXES = (".yaml", ".yml")


def config_parser(doc: str | None, usage: str | None = None,
                  cfg_help: str = "YAML config file(s), merged in order (later files win)") -> argparse.ArgumentParser:
    """An ArgumentParser with `--cfg FILE [FILE ...]` and `--opts`, for `parse_config_args`.

    Overrides are not declared: they are the `KEY VALUE` tokens argparse leaves over, given
    bare after the other arguments or after `--opts` (PySlowFast's form), or both.
    """
    parser = argparse.ArgumentParser(description=doc, usage=usage,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", dest="cfg_files", nargs="+", metavar="FILE",
                        help=cfg_help)
    parser.add_argument("--opts", action="store_true", help="marks the start of KEY VALUE overrides (optional)")
    add_timeout_flag(parser)
    return parser


def add_timeout_flag(parser: argparse.ArgumentParser) -> None:
    """`--timeout SECONDS`: how long a remote server (http(s) paths, an RTSP input) may stay
    silent; the config key NETWORK_TIMEOUT, which the flag overrides."""
    parser.add_argument("--timeout", type=positive_seconds, metavar="SECONDS",
                        help="give up on an http(s) server or RTSP source silent this long "
                             f"(config key NETWORK_TIMEOUT, default {DEFAULT_TIMEOUT:g})")


def split_cfg_files(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take the `--cfg` files out of `argv`: `(files, the other tokens in order)`.

    `--cfg` takes the next token as a file and, after it, every token ending in .yaml/.yml,
    so `--cfg a.yaml b.yaml SOLVER.BASE_LR 0.1` reads two files and leaves the override.
    """
    files: list[str] = []
    rest: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--cfg="):
            files.append(token.split("=", 1)[1])
        elif token == "--cfg" and i + 1 < len(tokens):
            files.append(tokens[i + 1])
            i += 1
            while i + 1 < len(tokens) and tokens[i + 1].lower().endswith(_YAML_SUFFIXES):
                files.append(tokens[i + 1])
                i += 1
        else:
            rest.append(token)
        i += 1
    return files, rest


def parse_config_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Parse `argv` with a `config_parser`: `(args with cfg_files, leftover positional tokens)`.

    An unknown `--flag` is an argparse error (usage + one line, exit 2). The leftover tokens are
    the tool's positionals followed by the overrides; `split_overrides` separates them. `--`
    ends the options: every token after it is a positional or an override, even one that
    starts with a dash (a file named -x.mp4).
    """
    argv = list(argv)
    after: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, after = argv[:cut], argv[cut + 1:]
    files, rest = split_cfg_files(argv)
    args, leftover = parser.parse_known_args(rest)  # --help exits here
    if not files:
        parser.error("the following arguments are required: --cfg")
    args.cfg_files = files
    unknown = [token for token in leftover if token.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (a file named so: write ./{unknown[0]} "
                     "or put it after --)")
    return args, leftover + after


def is_config_key(token: str) -> bool:
    """True when `token` names a leaf of the config tree, e.g. TEST.NUM_ENSEMBLE_VIEWS."""
    return find_leaf(get_cfg(), token)[0]


def split_overrides(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """`(positionals, overrides)`: the overrides start at the first token that is a config key."""
    tokens = list(tokens)
    first_key = next((i for i, token in enumerate(tokens) if is_config_key(token)), len(tokens))
    return tokens[:first_key], tokens[first_key:]


def load_cfg(args: argparse.Namespace, overrides: Sequence[str]) -> CfgNode:
    """The checked config of `args.cfg_files` (in order) plus `overrides`: its values, then
    the names that select builders (video3d.known_names). `--timeout` applies from the first
    fetch on (a config given as a URL) and overrides NETWORK_TIMEOUT; the config's value then
    applies to the rest of the run."""
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        set_network_timeout(timeout)
        overrides = [*overrides, "NETWORK_TIMEOUT", repr(timeout)]
    cfg = load_checked_config(args.cfg_files, overrides)
    set_network_timeout(cfg.NETWORK_TIMEOUT)
    return cfg


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value
