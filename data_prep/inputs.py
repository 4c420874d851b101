"""Which videos a tool works on: a folder searched recursively, or a list file.

Each video gets an id, its path relative to the source folder (or list prefix) without the
extension, e.g. `brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0` for
`<root>/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi`; the output of a video goes to
`OUT_DIR/<id>/`, the layout the frame lists and the data layer expect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from video3d.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".3gp", ".ogv")


@dataclass(frozen=True)
class VideoTask:
    """One video to process: its file and the id naming its output folder."""

    path: str
    video_id: str


def _video_id(relative: str, where: str) -> str:
    stem = os.path.splitext(os.path.normpath(relative))[0]
    parts = stem.split(os.sep)
    if os.path.isabs(stem) or ".." in parts or not stem or stem == ".":
        raise DataError(f"{where}: {relative!r} does not name a file inside the source folder")
    return stem


def _from_folder(folder: str) -> list[VideoTask]:
    tasks = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        # A directory named like a video is listed too: it fails like any unreadable video
        # ("a directory, not a video file" in failures.jsonl) instead of vanishing unsaid.
        named_like_videos = [d for d in subdirs if d.lower().endswith(VIDEO_EXTENSIONS)]
        for name in sorted(files + named_like_videos):
            if name.lower().endswith(VIDEO_EXTENSIONS) and not name.startswith("."):
                path = os.path.join(directory, name)
                tasks.append(VideoTask(path, _video_id(os.path.relpath(path, folder), folder)))
    return tasks


def _list_entry(line: str, prefix: str) -> str:
    """A line is a path, or a video list line `path label` (the label is dropped)."""
    path = line
    head, _, tail = line.rpartition(" ")
    if head and tail.lstrip("-").isdigit() and not os.path.exists(os.path.join(prefix, line)):
        path = head
    return path


def _from_list(list_path: str, prefix: str | None) -> list[VideoTask]:
    prefix = os.path.dirname(os.path.abspath(list_path)) if prefix is None else prefix
    try:
        with open(list_path, encoding="utf-8") as handle:
            lines = [(n, line.rstrip("\r\n")) for n, line in enumerate(handle, 1)]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{list_path}: cannot read the list: {error}") from error
    tasks = []
    for number, line in lines:
        if not line.strip():
            continue
        entry = _list_entry(line, prefix)
        where = f"{list_path}:{number}"
        if os.path.isabs(entry):
            tasks.append(VideoTask(entry, _video_id(os.path.basename(entry), where)))
        else:
            tasks.append(VideoTask(os.path.join(prefix, entry), _video_id(entry, where)))
    return tasks


def collect_videos(source: str, prefix: str | None = None) -> list[VideoTask]:
    """The videos of a folder (recursive, by extension) or of a list file (one path per line,
    or `path label`; relative paths are taken from `prefix`, default the list's folder)."""
    if os.path.isdir(source):
        tasks = _from_folder(source)
    elif os.path.isfile(source):
        tasks = _from_list(source, prefix)
    else:
        raise DataError(f"{source}: no such folder or list file")
    if not tasks:
        raise DataError(f"{source}: no videos found (extensions {' '.join(VIDEO_EXTENSIONS)})")
    seen: dict[str, str] = {}
    for task in tasks:
        if task.video_id in seen:
            raise DataError(f"{task.path} and {seen[task.video_id]} both map to output {task.video_id!r}")
        seen[task.video_id] = task.path
    return tasks
