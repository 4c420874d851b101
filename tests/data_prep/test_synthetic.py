import hashlib
import os
from collections import Counter

from data_prep.synthetic import CLASS_NAMES, generate, split_labels


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


def test_labels_are_balanced_and_seeded():
    labels = split_labels(20, seed=0, split="train")
    counts = Counter(labels)
    assert set(counts) == set(range(len(CLASS_NAMES)))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert labels == split_labels(20, seed=0, split="train")
    assert labels != split_labels(20, seed=1, split="train")
