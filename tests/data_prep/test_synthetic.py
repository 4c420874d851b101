import hashlib
import math
import os
from collections import Counter

import av
import numpy as np
import pytest

from data_prep.synthetic import CLASS_NAMES, generate, sample_params, split_labels, trajectory
from video3d.errors import DataError


def _digests(root):
    digests = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                digests[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return digests


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    small = {"num_train": 3, "num_val": 2, "size": 32, "frames": 4}
    generate(str(tmp_path / "a"), seed=5, workers=1, **small)
    generate(str(tmp_path / "b"), seed=5, workers=2, **small)
    generate(str(tmp_path / "c"), seed=6, workers=1, **small)
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert len([p for p in a if p.endswith(".mp4")]) == 5
    assert a == b
    assert {p: d for p, d in a.items() if p.endswith(".mp4")} != {p: d for p, d in c.items() if p.endswith(".mp4")}


def test_encoding_is_byte_identical_whatever_the_heap_holds(tmp_path):
    # x264's SIMD code read uninitialised padding: the same frames gave several files in a
    # row once other allocations came and went. Churn the heap between encodes.
    from data_prep.synthetic import encode_mp4, render_video, video_rng

    frames = render_video(sample_params(1, video_rng(5, "train", 2), 32, 4))
    junk, digests = [], set()
    rng = np.random.default_rng(0)
    for _ in range(40):
        junk.append(bytearray(rng.bytes(int(rng.integers(1, 200_000)))))
        if len(junk) > 20:
            junk.pop(int(rng.integers(len(junk))))
        encode_mp4(frames, str(tmp_path / "x.mp4"), fps=8)
        digests.add(hashlib.sha256((tmp_path / "x.mp4").read_bytes()).hexdigest())
    assert len(digests) == 1


def test_labels_are_balanced_and_seeded():
    labels = split_labels(20, seed=0, split="train")
    counts = Counter(labels)
    assert set(counts) == set(range(len(CLASS_NAMES)))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert labels == split_labels(20, seed=0, split="train")
    assert labels != split_labels(20, seed=1, split="train")


def test_layout_lists_and_decodable_videos(tmp_path):
    root = str(tmp_path / "sm")
    lists = generate(root, num_train=4, num_val=2, seed=1, size=32, frames=6, workers=1)
    with open(os.path.join(root, "classnames.txt")) as handle:
        assert handle.read().split() == list(CLASS_NAMES)
    for split, count in (("train", 4), ("val", 2)):
        with open(os.path.join(root, f"{split}.csv")) as handle:
            lines = handle.read().splitlines()
        assert [(p, int(lab)) for p, lab in (line.split(" ") for line in lines)] == lists[split]
        assert len(lines) == count
        for rel, label in lists[split]:
            assert rel.startswith(f"videos/{CLASS_NAMES[label]}/") and rel.endswith(".mp4")
            with av.open(os.path.join(root, rel)) as container:
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
            assert len(frames) == 6 and frames[0].shape == (32, 32, 3)
    assert not [n for _, _, names in os.walk(root) for n in names if n.startswith(".tmp")]


def test_broken_files_are_listed_and_fail_to_decode(tmp_path):
    root = str(tmp_path / "sm")
    lists = generate(root, num_train=3, num_val=2, seed=1, size=32, frames=4, workers=1, num_broken=3)
    for split, good in (("train", 3), ("val", 2)):
        broken = [rel for rel, _ in lists[split] if "broken" in rel]
        assert len(broken) == 3 and len(lists[split]) == good + 3
        for rel in broken:
            with pytest.raises(av.error.FFmpegError), av.open(os.path.join(root, rel)) as container:
                for _ in container.decode(video=0):
                    pass


def test_odd_size_is_rejected_naming_the_value(tmp_path):
    with pytest.raises(DataError, match="33"):
        generate(str(tmp_path), num_train=1, num_val=1, size=33, frames=4)


def test_each_class_moves_in_its_named_direction():
    rng = np.random.default_rng(0)
    half = 48.0
    for label, name in enumerate(CLASS_NAMES):
        cx, cy, angle, radius = trajectory(sample_params(label, rng, 96, 60))
        step_x = (np.diff(cx) + half) % 96 - half  # unwrap the torus
        step_y = (np.diff(cy) + half) % 96 - half
        step_a = (np.diff(angle) + math.pi) % (2 * math.pi) - math.pi
        step_r = np.diff(np.log(radius))
        moving = {0: step_x < -1.5, 1: step_x > 1.5, 2: step_y < -1.5, 3: step_y > 1.5,
                  4: step_a > 0.1, 5: step_a < -0.1, 6: step_r > 0.015, 7: step_r < -0.015}
        assert moving[label].all(), name
        still = [s for k, s in enumerate((step_x, step_y, step_a, step_r)) if k != label // 2]
        assert all(np.all(s == 0) for s in still), name


def test_single_frame_statistics_do_not_reveal_the_class():
    """Position, angle and size of a random frame follow the same law for every class."""
    size, frames, videos = 96, 60, 400
    per_class = {}
    for label in range(len(CLASS_NAMES)):
        rng = np.random.default_rng(100 + label)
        rows = []
        for _ in range(videos):
            cx, cy, angle, radius = trajectory(sample_params(label, rng, size, frames))
            t = rng.integers(frames)
            rows.append((cx[t], cy[t], math.cos(angle[t]), math.sin(angle[t]), math.log(radius[t])))
        per_class[label] = np.asarray(rows)
    pooled = np.concatenate(list(per_class.values()))
    spread = pooled.std(axis=0)
    for label, rows in per_class.items():
        # Means within 4 standard errors and spreads within 15 % of the pooled ones.
        assert np.all(np.abs(rows.mean(axis=0) - pooled.mean(axis=0)) < 4 * spread / math.sqrt(videos)), label
        assert np.all(np.abs(rows.std(axis=0) / spread - 1) < 0.15), label


def test_rendering_is_unchanged_since_the_masks_were_exposed():
    """sha256 of rendered frames recorded before `shape_masks` existed: same seed, same bytes."""
    import hashlib

    from data_prep.synthetic import render_video, sample_params, video_rng

    expected = {0: "18d5151407bb708c7495ac5bd8f5be18b9b27f11b8593e5bc3b594042f9dc219",
                4: "3fb337e8417f0fe3f328e9a5af8338c41a462bda2151837fcb9d4fc21ddca405",
                6: "1a38420c88f5a566198ef6d05e86a09e1bd91622a36aeec872e13910dbdaa739"}
    for label, digest in expected.items():
        frames = render_video(sample_params(label, video_rng(0, "val", label), 48, 12))
        assert hashlib.sha256(frames.tobytes()).hexdigest() == digest


def test_shape_masks_mark_the_pixels_where_the_shape_is_drawn():
    import numpy as np

    from data_prep.synthetic import _background, render_video, sample_params, shape_masks, video_rng

    params = sample_params(6, video_rng(0, "val", 3), 64, 10)
    masks = shape_masks(params)
    frames = render_video(params).astype(np.float32)
    background = _background(params) * 255.0
    assert masks.shape == (10, 64, 64) and masks.min() == 0.0 and masks.max() == 1.0
    difference = np.abs(frames - background[None]).mean(axis=-1)
    assert difference[masks == 1.0].mean() > 5 * difference[masks == 0.0].mean()
    assert masks[-1].sum() > 1.3 * masks[0].sum()  # class 6 grows
    # asking for the masks draws no random numbers: the video is the same before and after
    assert np.array_equal(render_video(params), frames.astype(np.uint8))
