"""Check and merge the shards of a sharded extraction into one folder's bookkeeping.

    python -m data_prep.merge_shards OUT_DIR

Reads the shard records (`OUT_DIR/.shards/K-of-N.json`) and failure logs the shards wrote,
reports shards that never ran and videos still missing, and writes `OUT_DIR/failures.jsonl`
with the failures of the videos that are still missing (the shard logs stay). Rerunning a
shard, or one unsharded run, redoes what is missing. Exit code 0: every video of every shard
is there; 1: something is missing; 2: usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from data_prep.pool import FAILURES_FILE, locked
from data_prep.shards import SHARDS_DIR, Shard, failures_name
from video3d.errors import DataError
from video3d.utils.commands import command
from video3d.utils.io import atomic_write_text


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: unreadable shard record: {error}") from None


def _read_failures(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    raise DataError(f"{path}:{number}: not a JSON line") from None
    return entries


def merge_shards(out_dir: str) -> dict:
    """{"num_shards", "missing_shards", "videos", "missing": [{video_id, path, reason}]}."""
    records_dir = os.path.join(out_dir, SHARDS_DIR)
    if not os.path.isdir(records_dir):
        raise DataError(f"{out_dir}: no shard records ({SHARDS_DIR}/): was it extracted with --num-shards?")
    records = [_read_json(os.path.join(records_dir, name)) for name in sorted(os.listdir(records_dir))
               if name.endswith(".json")]
    counts = {record["num_shards"] for record in records}
    if len(counts) != 1:
        raise DataError(f"{out_dir}: shard records from runs with different --num-shards {sorted(counts)}; "
                        f"remove {records_dir} and rerun the shards")
    count = counts.pop()
    present = {record["shard"] for record in records}
    missing_shards = [k for k in range(count) if k not in present]
    reasons: dict[str, str] = {}
    for shard in sorted(present):
        for entry in _read_failures(os.path.join(out_dir, failures_name(Shard(shard, count)))):
            reasons[entry["video_id"]] = entry.get("reason", "")
    videos, missing = 0, []
    for record in records:
        suffix = record.get("suffix", "")  # resize_videos writes one file per video
        done = os.path.isfile if suffix else os.path.isdir
        for video_id, path in zip(record["videos"], record["paths"], strict=True):
            videos += 1
            if not done(os.path.join(out_dir, video_id + suffix)):
                missing.append({"path": path, "video_id": video_id, "reason": reasons.get(video_id, "not written")})
    missing.sort(key=lambda entry: entry["video_id"])
    atomic_write_text(os.path.join(out_dir, FAILURES_FILE), "".join(json.dumps(m) + "\n" for m in missing))
    return {"num_shards": count, "missing_shards": missing_shards, "videos": videos, "missing": missing}


@command
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="the folder the shards wrote into")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.out_dir):
        raise DataError(f"{args.out_dir}: no such folder")
    with locked(args.out_dir):
        result = merge_shards(args.out_dir)
    line = f"{result['num_shards']} shards, {result['videos']} videos recorded, {len(result['missing'])} missing"
    if result["missing_shards"]:
        line += f"; shards never run: {', '.join(map(str, result['missing_shards']))}"
    if result["missing"]:
        line += f" (see {os.path.join(args.out_dir, FAILURES_FILE)})"
    print(line)
    return 1 if result["missing"] or result["missing_shards"] else 0


if __name__ == "__main__":
    sys.exit(main())
