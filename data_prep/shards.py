"""Split one extraction over N machines: shard K of N takes every N-th video of the list
sorted by output id, starting at the K-th, so N runs into one shared OUT_DIR write every video
exactly once whatever order the scheduler starts them in.

Shard numbers come from `--shard K --num-shards N`, or, when both flags are absent, from a
SLURM job array (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`).
Each shard records the ids it owns in `OUT_DIR/.shards/K-of-N.json` and its failures in
`OUT_DIR/failures.shard-K-of-N.jsonl`; `python -m data_prep.merge_shards OUT_DIR` checks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from data_prep.inputs import VideoTask
from video3d.errors import DataError

SHARDS_DIR = ".shards"


@dataclass(frozen=True)
class Shard:
    """Shard `index` (0-based) of `count`."""

    index: int
    count: int

    def __post_init__(self):
        if self.count < 1:
            raise DataError(f"--num-shards must be >= 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise DataError(f"--shard must be in 0..{self.count - 1} for --num-shards {self.count}, got {self.index}")

    @property
    def name(self) -> str:
        return f"{self.index}-of-{self.count}"

    def select(self, tasks: list[VideoTask]) -> list[VideoTask]:
        """This shard's videos: every count-th of the list sorted by video id, from index."""
        return sorted(tasks, key=lambda task: task.video_id)[self.index::self.count]


def _env_int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise DataError(f"environment variable {name}={env[name]!r} is not an integer") from None


def resolve_shard(shard: int | None, num_shards: int | None, env: Mapping[str, str] | None = None) -> Shard | None:
    """The shard the flags name, else the SLURM array task's, else None (no sharding)."""
    env = os.environ if env is None else env
    if (shard is None) != (num_shards is None):
        raise DataError("--shard and --num-shards go together: give both or neither")
    if shard is not None:
        return Shard(shard, num_shards)
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        task_id = _env_int(env, "SLURM_ARRAY_TASK_ID")
        first = _env_int(env, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in env else 0
        count = _env_int(env, "SLURM_ARRAY_TASK_COUNT")
        try:
            return Shard(task_id - first, count)
        except DataError as error:
            raise DataError(f"SLURM array task {task_id} (min {first}, count {count}): {error}") from None
    return None


def add_shard_args(parser) -> None:
    """--shard / --num-shards for an extraction tool."""
    parser.add_argument("--shard", type=int, help="this run's shard, 0..N-1 (default: SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--num-shards", type=int, help="number of shards N (default: SLURM_ARRAY_TASK_COUNT)")


def failures_name(shard: Shard | None) -> str:
    """The failure log a run writes: its own per shard, `failures.jsonl` unsharded."""
    return "failures.jsonl" if shard is None else f"failures.shard-{shard.name}.jsonl"
