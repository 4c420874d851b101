"""Write the dataset lists video3d reads (the formats of video3d/data/lists.py).

    python -m data_prep.build_lists kinetics OUT_DIR --root ROOT [--tree-split NAME=SUBDIR ...
                                   | --annotations NAME=CSV ...] [--format video|frames]
    python -m data_prep.build_lists ssv2 OUT_DIR --labels-dir DIR [--root ROOT --format frames]
    python -m data_prep.build_lists hmdb51 OUT_DIR --splits-dir DIR [--root ROOT --format frames]

Paths in the lists are relative to ROOT, which becomes DATA.PATH_PREFIX. Video lists hold
`<path> <label>`, frame lists `<dir> <num_frames> <label>` with num_frames the RGB frame
count N of the folder (counted under ROOT: `img_` files for rgb, `flow_x_` files + 1 for
flow). Labels are 0-based; OUT_DIR/classnames.txt names label i on line i.

kinetics: from class folders `ROOT/<SUBDIR>/<class>/<video or frame folder>` (default
--tree-split train=train --tree-split val=val), or from the official csv files (columns
label, youtube_id, time_start, time_end, split), whose videos
`<youtube_id>_<start:06d>_<end:06d>` are looked up anywhere under ROOT. Classes sorted.
ssv2: the official json files; label = id of the template with brackets removed; train.csv
from -train.json, val.csv from -validation.json.
hmdb51: the official `<class>_test_split{1,2,3}.txt` (1 train, 2 test, 0 unused; classes
sorted); OUT_DIR/split_<k>/{train,val,test}.csv for videos, or OUT_DIR/split_<k>/{rgb,flow}/
{train,val,test}.csv for frames (val and test both hold the id-2 videos).
Videos named in the annotations but absent under ROOT (or empty frame folders, or folders
named like a video) are left out and written to OUT_DIR/missing.txt; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

from data_prep.inputs import VIDEO_EXTENSIONS
from video3d.data.frame_folders import count_frames
from video3d.data.lists import HMDB51_SPLIT_IDS, ssv2_class_names, ssv2_labels, ssv2_split_entries
from video3d.errors import DataError, DecodeError
from video3d.utils.commands import command
from video3d.utils.io import atomic_write_text

# (path relative to ROOT, label)
Entry = tuple[str, int]


def kinetics_video_name(youtube_id: str, time_start: str, time_end: str) -> str:
    """The official clip name: `<youtube_id>_<start:06d>_<end:06d>` (seconds)."""
    return f"{youtube_id}_{int(float(time_start)):06d}_{int(float(time_end)):06d}"


def frame_count(folder: str, modality: str) -> int:
    """RGB frame count N of a frame folder (flow: pairs + 1); 0 when missing or empty."""
    try:
        if modality == "rgb":
            return count_frames(folder, "img_")
        pairs = count_frames(folder, "flow_x_")
    except DecodeError:
        return 0
    return pairs + 1 if pairs else 0


def list_text(entries: list[Entry], root: str, fmt: str, modality: str = "rgb") -> tuple[str, list[str]]:
    """The list file's text, and the entries left out (missing under `root`)."""
    lines, missing = [], []
    for path, label in entries:
        if "\n" in path or "\r" in path:
            raise DataError(f"{path!r}: a path with a line break cannot go into a list")
        if fmt == "frames":
            count = frame_count(os.path.join(root, path), modality)
            if count == 0:
                missing.append(path)
                continue
            lines.append(f"{path} {count} {label}\n")
        elif root and not os.path.isfile(os.path.join(root, path)):
            missing.append(path)
        else:
            lines.append(f"{path} {label}\n")
    return "".join(lines), missing


def _write_lists(out_dir: str, lists: dict[str, list[Entry]], root: str, fmt: str, modality: str = "rgb") -> list[str]:
    missing = []
    for split, entries in lists.items():
        text, absent = list_text(entries, root, fmt, modality)
        if not text:
            raise DataError(f"{split}: none of the {len(entries)} videos were found under {root!r} "
                            f"(--root; frame lists also --modality)")
        atomic_write_text(os.path.join(out_dir, f"{split}.csv"), text)
        missing += absent
    return missing


def _named_pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, target = value.partition("=")
        if not sep or not name or not target:
            raise DataError(f"{option} expects NAME=VALUE, got {value!r}")
        pairs[name] = target
    return pairs


def _is_item(name: str, fmt: str, directory: bool) -> bool:
    if name.startswith("."):
        return False
    return directory if fmt == "frames" else (not directory and name.lower().endswith(VIDEO_EXTENSIONS))


def kinetics_from_tree(root: str, splits: dict[str, str], fmt: str) -> tuple[list[str], dict[str, list[Entry]]]:
    """Classes (sorted folder names of all splits) and each split's entries."""
    found: dict[str, list[tuple[str, str]]] = {}
    for split, subdir in splits.items():
        base = os.path.join(root, subdir)
        if not os.path.isdir(base):
            raise DataError(f"{base}: split folder of {split!r} not found (--root / --tree-split)")
        found[split] = []
        for name in sorted(os.listdir(base)):
            class_dir = os.path.join(base, name)
            if name.startswith(".") or not os.path.isdir(class_dir):
                continue
            for item in sorted(os.listdir(class_dir)):
                directory = os.path.isdir(os.path.join(class_dir, item))
                # A folder named like a video is kept here so that list_text reports it missing.
                if _is_item(item, fmt, directory) or (directory and _is_item(item, fmt, False)):
                    found[split].append((os.path.join(subdir, name, item), name))
    classes = sorted({name for items in found.values() for _, name in items})
    index = {name: i for i, name in enumerate(classes)}
    return classes, {split: [(path, index[name]) for path, name in items] for split, items in found.items()}


def _read_kinetics_csv(path: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error
    needed = {"label", "youtube_id", "time_start", "time_end"}
    if not rows or not needed <= set(rows[0]):
        raise DataError(f"{path}: expected a csv with columns {', '.join(sorted(needed))}")
    try:
        return [(kinetics_video_name(r["youtube_id"], r["time_start"], r["time_end"]), r["label"]) for r in rows]
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: bad time_start/time_end: {error}") from error


def _index_root(root: str, names: set[str], fmt: str) -> dict[str, str]:
    """Name (video stem or frame folder) -> path relative to root, for the wanted names."""
    index: dict[str, str] = {}
    for directory, subdirs, files in os.walk(root):
        if fmt == "frames":
            for name in [d for d in subdirs if d in names]:
                index.setdefault(name, os.path.relpath(os.path.join(directory, name), root))
            subdirs[:] = sorted(d for d in subdirs if d not in names and not d.startswith("."))
        else:
            subdirs.sort()
            for name in sorted(files):
                stem = os.path.splitext(name)[0]
                if stem in names and _is_item(name, fmt, False):
                    index.setdefault(stem, os.path.relpath(os.path.join(directory, name), root))
    return index


def kinetics_from_csv(root: str, annotations: dict[str, str], fmt: str
                      ) -> tuple[list[str], dict[str, list[Entry]], list[str]]:
    """Classes, entries found under root, and the clip names not found."""
    rows = {split: _read_kinetics_csv(path) for split, path in annotations.items()}
    classes = sorted({label for items in rows.values() for _, label in items})
    index = {name: i for i, name in enumerate(classes)}
    where = _index_root(root, {name for items in rows.values() for name, _ in items}, fmt)
    lists = {split: [(where[n], index[lab]) for n, lab in items if n in where] for split, items in rows.items()}
    missing = [n for items in rows.values() for n, _ in items if n not in where]
    return classes, lists, missing


def ssv2_lists(labels_dir: str, fmt: str) -> tuple[list[str], dict[str, list[Entry]]]:
    """Class names by id and the train/val entries (`<id>.webm` or `<id>`) of the json files."""
    classes = ssv2_class_names(ssv2_labels(labels_dir, "--labels-dir"))
    suffix = ".webm" if fmt == "video" else ""
    lists = {split: [(video_id + suffix, label) for video_id, label in
                     ssv2_split_entries(labels_dir, split, folder_option="--labels-dir")]
             for split in ("train", "val")}
    return classes, lists


def hmdb51_lists(splits_dir: str, split_id: int, fmt: str) -> tuple[list[str], dict[str, list[Entry]]]:
    """Sorted classes and the train/val/test entries of one official split."""
    suffix = f"_test_split{split_id}.txt"
    try:
        names = sorted(n[: -len(suffix)] for n in os.listdir(splits_dir) if n.endswith(suffix))
    except OSError as error:
        raise DataError(f"{splits_dir}: cannot list the split files: {error.strerror or error}") from error
    if not names:
        raise DataError(f"{splits_dir}: no HMDB51 split files *{suffix} (--splits-dir)")
    lists: dict[str, list[Entry]] = {split: [] for split in HMDB51_SPLIT_IDS}
    for label, name in enumerate(names):
        path = os.path.join(splits_dir, name + suffix)
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                parts = line.strip().rsplit(None, 1)
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    raise DataError(f"{path}:{number}: expected '<video>.avi <0|1|2>', got {line.rstrip()!r}")
                video = parts[0] if fmt == "video" else os.path.splitext(parts[0])[0]
                for split, wanted in HMDB51_SPLIT_IDS.items():
                    if int(parts[1]) == wanted:
                        lists[split].append((os.path.join(name, video), label))
    return names, lists


def _finish(out_dir: str, classes: list[str], missing: list[str]) -> int:
    atomic_write_text(os.path.join(out_dir, "classnames.txt"), "".join(f"{c}\n" for c in classes))
    missing_path = os.path.join(out_dir, "missing.txt")
    if missing:
        atomic_write_text(missing_path, "".join(f"{m}\n" for m in sorted(set(missing))))
        print(f"{len(set(missing))} videos not found, left out of the lists (see {missing_path})")
        return 1
    if os.path.exists(missing_path):
        os.remove(missing_path)
    print(f"lists written to {out_dir} ({len(classes)} classes)")
    return 0


def build(args: argparse.Namespace) -> int:
    """Write the lists (and class names) of `args.dataset` into `args.out_dir`; 0 on success."""
    os.makedirs(args.out_dir, exist_ok=True)
    root = args.root or ""
    if args.format == "frames" and not root:
        raise DataError("--format frames needs --root (the frame folders are counted there)")
    missing: list[str] = []
    if args.dataset == "kinetics":
        if not root:
            raise DataError("kinetics needs --root (the folder the list paths start from)")
        if args.annotations:
            classes, lists, missing = kinetics_from_csv(root, _named_pairs(args.annotations, "--annotations"), args.format)
        else:
            splits = _named_pairs(args.tree_split or ["train=train", "val=val"], "--tree-split")
            classes, lists = kinetics_from_tree(root, splits, args.format)
        missing += _write_lists(args.out_dir, lists, root, args.format, args.modality)
    elif args.dataset == "ssv2":
        classes, lists = ssv2_lists(args.labels_dir, args.format)
        missing += _write_lists(args.out_dir, lists, root, args.format, args.modality)
    else:
        for split_id in args.split_ids:
            classes, lists = hmdb51_lists(args.splits_dir, split_id, args.format)
            split_dir = os.path.join(args.out_dir, f"split_{split_id}")
            if args.format == "video":
                missing += _write_lists(split_dir, lists, root, args.format)
            for modality in args.modality if args.format == "frames" else ():
                missing += _write_lists(os.path.join(split_dir, modality), lists, root, args.format, modality)
    return _finish(args.out_dir, classes, missing)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The dataset sub-command and its options (None: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset", required=True)
    for name in ("kinetics", "ssv2", "hmdb51"):
        p = sub.add_parser(name, help=f"{name} lists")
        p.add_argument("out_dir", help="folder for the lists (DATA.PATH_TO_DATA_DIR)")
        p.add_argument("--root", help="folder the list paths are relative to (DATA.PATH_PREFIX)")
        p.add_argument("--format", choices=("video", "frames"), default="video", help="list videos or frame folders")
        if name == "hmdb51":
            p.add_argument("--modality", nargs="+", choices=("rgb", "flow"), default=["rgb", "flow"],
                           help="frame lists to write: rgb counts img_ files, flow counts flow_x_ files + 1")
        else:
            p.add_argument("--modality", choices=("rgb", "flow"), default="rgb",
                           help="frame lists: count img_ (rgb) or flow_x_ files + 1 (flow)")
    kinetics, ssv2, hmdb51 = (sub.choices[n] for n in ("kinetics", "ssv2", "hmdb51"))
    source = kinetics.add_mutually_exclusive_group()
    source.add_argument("--tree-split", action="append", help="NAME=SUBDIR of ROOT holding class folders")
    source.add_argument("--annotations", action="append", help="NAME=CSV official annotation file")
    ssv2.add_argument("--labels-dir", required=True, help="folder of the something-something-v2-*.json files")
    hmdb51.add_argument("--splits-dir", required=True, help="folder of the <class>_test_split<k>.txt files")
    hmdb51.add_argument("--split-ids", nargs="+", type=int, choices=(1, 2, 3), default=[1, 2, 3], help="splits")
    return parser.parse_args(argv)


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-build-lists / python -m data_prep.build_lists."""
    return build(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
