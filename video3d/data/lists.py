"""Dataset lists -> `VideoRecord`s. The formats (data_prep/build_lists.py writes them):

Kinetics-style lists, `DATA.PATH_TO_DATA_DIR/{split}.csv` (split = train, val, test), one
video per line, fields separated by DATA.PATH_LABEL_SEPARATOR (default a space); paths are
relative to DATA.PATH_PREFIX and may themselves contain the separator (the numeric fields
are split off from the right):

    DATA.FORMAT video:   <path> <label>                e.g. `abseiling/x0Ab_000010.mp4 0`
    DATA.FORMAT frames:  <dir> <num_frames> <label>    e.g. `abseiling/x0Ab_000010 300 0`

`num_frames` is the folder's RGB frame count N (flow folders hold N - 1 pairs). Labels are
0-based integers < MODEL.NUM_CLASSES. DATA.CLASS_NAMES_FILE (optional) holds one class name
per line, line i naming label i. Blank lines are ignored.

SSv2: the official json files in DATA.SSV2_LABELS_DIR (`something-something-v2-labels.json`,
`-train.json`, `-validation.json`; split train -> train, val and test -> validation); the
label is the id of the entry's template with `[` `]` removed. Videos are
`<PATH_PREFIX>/<id>.webm` (format video) or `<PATH_PREFIX>/<id>/` (format frames).

HMDB51: the official split files `<class>_test_split<DATA.SPLIT_ID>.txt` in
DATA.PATH_TO_DATA_DIR, lines `<video>.avi <id>` (1 train, 2 test, 0 unused); classes sorted
alphabetically, 0-based. Split train takes id 1, val and test id 2. Videos are
`<PATH_PREFIX>/<class>/<video>.avi` (format video) or `<PATH_PREFIX>/<class>/<video stem>/`
(format frames, the mmaction2 rawframe layout).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from fvcore.common.config import CfgNode

from video3d.errors import DataError
from video3d.utils.paths import local_copy


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset: `num_frames` is known for frame lists, else None."""

    video_id: str
    path: str
    label: int
    num_frames: int | None = None


class _StringColumn:
    """Strings packed as one UTF-8 byte buffer plus end offsets: two numpy arrays."""

    def __init__(self, strings: list[str]):
        encoded = [text.encode("utf-8") for text in strings]
        self._ends = np.cumsum([len(b) for b in encoded], dtype=np.int64)
        self._data = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __getitem__(self, index: int) -> str:
        start = int(self._ends[index - 1]) if index else 0
        return self._data[start:int(self._ends[index])].tobytes().decode("utf-8")

    @property
    def nbytes(self) -> int:
        return self._data.nbytes + self._ends.nbytes


class RecordTable(Sequence):
    """`VideoRecord`s stored compactly: ids and paths as byte buffers, labels and frame counts as
    int64 arrays; indexing builds one record. As detectron2's DatasetFromList serialises its
    list: DataLoader workers inherit the dataset by fork, and merely reading a Python object
    writes its reference count, so a list of 240,000 record objects is copied page by page
    into every worker (copy-on-read); a few numpy arrays are never written and stay shared."""

    def __init__(self, records: Iterable[VideoRecord]):
        ids, paths, labels, frames = [], [], [], []
        for record in records:
            ids.append(record.video_id)
            paths.append(record.path)
            labels.append(record.label)
            frames.append(-1 if record.num_frames is None else record.num_frames)
        self._ids, self._paths = _StringColumn(ids), _StringColumn(paths)
        self._labels = np.asarray(labels, dtype=np.int64)
        self._frames = np.asarray(frames, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> VideoRecord:
        if isinstance(index, slice):
            raise TypeError("RecordTable takes one index at a time")
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        frames = int(self._frames[index])
        return VideoRecord(self._ids[index], self._paths[index], int(self._labels[index]),
                           None if frames < 0 else frames)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (what every worker shares)."""
        return self._ids.nbytes + self._paths.nbytes + self._labels.nbytes + self._frames.nbytes


def _read_lines(path: str) -> list[tuple[int, str]]:
    try:
        with open(local_copy(path, DataError), encoding="utf-8") as handle:
            return [(n, line.rstrip("\r\n")) for n, line in enumerate(handle, 1) if line.strip()]
    except OSError as error:
        raise DataError(f"{path}: cannot read the list: {error.strerror or error}") from error


def _parse_int(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}: {what} {text!r} is not an integer") from None


def _check_label(label: int, num_classes: int, where: str) -> int:
    if not 0 <= label < num_classes:
        raise DataError(f"{where}: label {label} outside [0, MODEL.NUM_CLASSES={num_classes})")
    return label


def _video_id(relative_path: str) -> str:
    return os.path.splitext(relative_path)[0] if "." in os.path.basename(relative_path) else relative_path


def read_list(list_path: str, fmt: str, prefix: str, num_classes: int, separator: str = " ") -> list[VideoRecord]:
    """Records of a Kinetics-style list (format in the module docstring)."""
    fields = 2 if fmt == "video" else 3
    expected = "<path> <label>" if fmt == "video" else "<dir> <num_frames> <label>"
    records = []
    for number, line in _read_lines(list_path):
        where = f"{list_path}:{number}"
        parts = line.strip().rsplit(separator, fields - 1)
        if len(parts) != fields or not parts[0]:
            raise DataError(f"{where}: expected '{expected}', got {line!r}")
        label = _check_label(_parse_int(parts[-1], "label", where), num_classes, where)
        num_frames = _parse_int(parts[1], "num_frames", where) if fmt == "frames" else None
        records.append(VideoRecord(_video_id(parts[0]), os.path.join(prefix, parts[0]), label, num_frames))
    if not records:
        raise DataError(f"{list_path}: the list is empty")
    return records


def read_class_names(path: str) -> list[str]:
    """One class name per line, by label."""
    return [line.strip() for _, line in _read_lines(path)]


def kinetics_records(cfg: CfgNode, split: str) -> list[VideoRecord]:
    """The `split` list of DATA.PATH_TO_DATA_DIR (video or frame list, as DATA.FORMAT says)."""
    list_path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, f"{split}.csv")
    if not os.path.isfile(local_copy(list_path, DataError)):
        raise DataError(f"{list_path}: list for split {split!r} not found (DATA.PATH_TO_DATA_DIR)")
    return read_list(list_path, cfg.DATA.FORMAT, cfg.DATA.PATH_PREFIX, cfg.MODEL.NUM_CLASSES,
                     cfg.DATA.PATH_LABEL_SEPARATOR)


SSV2_LABELS_FILE = "something-something-v2-labels.json"


def load_json(path: str, folder_option: str = "DATA.SSV2_LABELS_DIR"):
    """A json file, or a DataError naming it (and the option that names its folder)."""
    try:
        with open(local_copy(path, DataError), encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error} ({folder_option})") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid json: {error}") from error


def ssv2_template_label(template: str, labels: dict[str, str], where: str) -> int:
    """Label id of an SSv2 template: the brackets around placeholders are removed first."""
    name = template.replace("[", "").replace("]", "")
    if name not in labels:
        raise DataError(f"{where}: template {name!r} is not in {SSV2_LABELS_FILE}")
    return int(labels[name])


def ssv2_labels(folder: str, folder_option: str = "DATA.SSV2_LABELS_DIR") -> dict[str, str]:
    """Template name -> label id (a string, as the json has it) of the labels json in `folder`."""
    return load_json(os.path.join(folder, SSV2_LABELS_FILE), folder_option)


def ssv2_split_entries(folder: str, split: str, num_classes: int | None = None,
                       folder_option: str = "DATA.SSV2_LABELS_DIR") -> list[tuple[str, int]]:
    """(video id, label) of an SSv2 split from the official json files in `folder` (split
    train -> -train.json, val and test -> -validation.json); labels < `num_classes` when given.
    The data layer (`ssv2_records`) and data_prep.build_lists both read SSv2 through this."""
    labels = ssv2_labels(folder, folder_option)
    part = "train" if split == "train" else "validation"
    path = os.path.join(folder, f"something-something-v2-{part}.json")
    entries = []
    for entry in load_json(path, folder_option):
        where = f"{path} entry {entry.get('id') if isinstance(entry, dict) else entry!r}"
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise DataError(f"{where}: needs 'id' and 'template'")
        label = ssv2_template_label(entry["template"], labels, where)
        if num_classes is not None:
            _check_label(label, num_classes, where)
        entries.append((str(entry["id"]), label))
    if not entries:
        raise DataError(f"{path}: no videos")
    return entries


def ssv2_records(cfg: CfgNode, split: str) -> list[VideoRecord]:
    """SSv2 videos of `split` from the official json files, labels from their templates."""
    suffix = ".webm" if cfg.DATA.FORMAT == "video" else ""
    return [VideoRecord(video_id, os.path.join(cfg.DATA.PATH_PREFIX, video_id + suffix), label)
            for video_id, label in ssv2_split_entries(cfg.DATA.SSV2_LABELS_DIR, split, cfg.MODEL.NUM_CLASSES)]


HMDB51_SPLIT_IDS = {"train": 1, "val": 2, "test": 2}


def hmdb51_records(cfg: CfgNode, split: str) -> list[VideoRecord]:
    """HMDB51 videos of `split` from the official split files of DATA.SPLIT_ID (1 train, 2 test)."""
    folder, split_id = cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.SPLIT_ID
    if split_id not in (1, 2, 3):
        raise DataError(f"DATA.SPLIT_ID must be 1, 2 or 3 for HMDB51, got {split_id}")
    if split not in HMDB51_SPLIT_IDS:
        raise DataError(f"HMDB51 split {split!r} unknown; expected one of {', '.join(HMDB51_SPLIT_IDS)}")
    suffix = f"_test_split{split_id}.txt"
    files = sorted(glob.glob(os.path.join(glob.escape(folder), "*" + suffix)))
    if not files:
        raise DataError(f"{folder}: no HMDB51 split files *{suffix} (DATA.PATH_TO_DATA_DIR)")
    classes = hmdb51_classes(cfg)
    if len(classes) > cfg.MODEL.NUM_CLASSES:
        raise DataError(f"{folder}: {len(classes)} classes but MODEL.NUM_CLASSES is {cfg.MODEL.NUM_CLASSES}")
    records = []
    for label, name in enumerate(classes):
        split_file = os.path.join(folder, name + suffix)
        for number, line in _read_lines(split_file):
            parts = line.strip().rsplit(None, 1)
            if len(parts) != 2:
                raise DataError(f"{split_file}:{number}: expected '<video>.avi <0|1|2>', got {line!r}")
            if _parse_int(parts[1], "split id", f"{split_file}:{number}") != HMDB51_SPLIT_IDS[split]:
                continue
            stem = os.path.splitext(parts[0])[0]
            relative = os.path.join(name, parts[0] if cfg.DATA.FORMAT == "video" else stem)
            records.append(VideoRecord(stem, os.path.join(cfg.DATA.PATH_PREFIX, relative), label))
    if not records:
        raise DataError(f"{folder}: no {split} videos in the split-{split_id} files")
    return records


def hmdb51_classes(cfg: CfgNode) -> list[str]:
    """HMDB51's class names, sorted: the prefixes of the split files of DATA.SPLIT_ID."""
    suffix = f"_test_split{cfg.DATA.SPLIT_ID}.txt"
    files = glob.glob(os.path.join(glob.escape(cfg.DATA.PATH_TO_DATA_DIR), "*" + suffix))
    return sorted(os.path.basename(f)[: -len(suffix)] for f in files)


def ssv2_classes(cfg: CfgNode) -> list[str]:
    """SSv2's class names by label, from something-something-v2-labels.json."""
    return ssv2_class_names(ssv2_labels(cfg.DATA.SSV2_LABELS_DIR))


def ssv2_class_names(labels: dict[str, str]) -> list[str]:
    """Class names by label id of an SSv2 labels json."""
    return [name for name, _ in sorted(labels.items(), key=lambda item: int(item[1]))]
