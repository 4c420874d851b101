"""Datasets: item layout, per-sample determinism, label- and flow-aware flips, bad files."""

import logging
import os

import pytest
import torch
from test_lists import write_ssv2_labels

from tests.data.conftest import frame_index_of, write_frame_folder, write_video
from video3d.data import build_dataset
from video3d.data.datasets import sample_generator
from video3d.errors import DataError


def _kinetics(cfg, video_dir, tmp_path, lines):
    lists = tmp_path / "lists"
    lists.mkdir(exist_ok=True)
    (lists / "train.csv").write_text("".join(f"{line}\n" for line in lines))
    cfg.DATA.PATH_TO_DATA_DIR = str(lists)
    cfg.DATA.PATH_PREFIX = video_dir
    return cfg


GOOD_LINES = ["land_30.mp4 0", "port_25.mp4 1", "odd_30.mp4 2", "short_30.mp4 3"]


def test_training_items_have_contract_layout(small_cfg, video_dir, tmp_path):
    dataset = build_dataset(_kinetics(small_cfg, video_dir, tmp_path, GOOD_LINES), "train", training=True)
    assert len(dataset) == 4 and dataset.records[1].video_id == "port_25"
    for index in range(4):
        item = dataset[index]
        # uint8, [C, T, H, W]: the consumer normalises on its device (Normalizer.views)
        assert item["video"].shape == (3, 4, 32, 32) and item["video"].dtype == torch.uint8
        assert (item["label"], item["index"]) == (index, index)
        assert item["video_id"] == os.path.splitext(GOOD_LINES[index].split()[0])[0]


def test_sample_is_a_function_of_seed_epoch_and_index(small_cfg, video_dir, tmp_path):
    cfg = _kinetics(small_cfg, video_dir, tmp_path, GOOD_LINES)
    first, second = build_dataset(cfg, "train", True), build_dataset(cfg, "train", True)
    second[2]  # consuming other samples first changes nothing
    assert torch.equal(first[(3, 0)]["video"], second[(3, 0)]["video"])
    second.set_epoch(3)
    assert torch.equal(first[(3, 0)]["video"], second[0]["video"])
    assert any(not torch.equal(first[(3, 0)]["video"], first[(e, 0)]["video"]) for e in range(4, 8))


def test_generator_differs_by_each_key_part():
    draws = {tuple(torch.rand(2, generator=sample_generator(*key)).tolist())
             for key in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0, 1)]}
    assert len(draws) == 5


def test_validation_is_the_deterministic_centre_view(small_cfg, video_dir, tmp_path):
    dataset = build_dataset(_kinetics(small_cfg, video_dir, tmp_path, GOOD_LINES), "train", training=False)
    item = dataset[0]
    assert item["video"].shape == (3, 4, 36, 36)
    dataset.set_epoch(5)
    assert torch.equal(dataset[0]["video"], item["video"])
    # 90 frames, step 2: slack 83, centred start 41.5 -> frames 42, 44, 46, 48
    rgb = item["video"].float()
    assert [frame_index_of(rgb[:, t].permute(1, 2, 0)) for t in range(4)] == [42, 44, 46, 48]


def test_flip_swaps_labels_of_flip_label_map(small_cfg, tmp_path):
    write_video(str(tmp_path / "v" / "noise.mp4"), 20, 40, 48, noise=True)
    cfg = _kinetics(small_cfg, str(tmp_path / "v"), tmp_path, ["noise.mp4 0"])
    cfg.DATA.FLIP_LABEL_MAP = [[0, 1]]
    flipping = build_dataset(cfg, "train", True)
    cfg_plain = cfg.clone()
    cfg_plain.DATA.RANDOM_FLIP = False
    plain = build_dataset(cfg_plain, "train", True)
    labels = set()
    for epoch in range(8):
        flipped, original = flipping[(epoch, 0)], plain[(epoch, 0)]
        labels.add(flipped["label"])
        assert original["label"] == 0
        expected = original["video"].flip(-1) if flipped["label"] == 1 else original["video"]
        assert torch.equal(flipped["video"], expected)
    assert labels == {0, 1}


def test_flow_dataset_reads_two_channels_and_flips_x(small_cfg, tmp_path):
    write_frame_folder(str(tmp_path / "f" / "clip"), 12, 40, 48)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.csv").write_text("clip 12 0\n")
    cfg = small_cfg
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = str(lists), str(tmp_path / "f")
    cfg.DATA.FORMAT, cfg.DATA.MODALITY = "frames", "flow"
    video = build_dataset(cfg, "train", False)[0]["video"]
    # 11 pairs, step 2: slack 4, centred start 2 -> pairs 2, 4, 6, 8 with x = 100 + i, y = 60 + 2i
    assert video.shape == (2, 4, 36, 36)
    assert video[0, :, 18, 18].tolist() == [102, 104, 106, 108]  # the quantised bytes q
    assert video[1, :, 18, 18].tolist() == [64, 68, 72, 76]
    training = build_dataset(cfg, "train", True)
    xs = {int(training[(e, 0)]["video"][0, 0, 5, 5]) - 128 for e in range(8)}
    assert any(x < 0 for x in xs) and any(x > -50 for x in xs)  # x = q - 128 is negated by a flip


def test_ssv2_frames_use_segment_middles_for_validation(small_cfg, tmp_path):
    cfg = small_cfg
    cfg.TRAIN.DATASET = "ssv2"
    cfg.DATA.SSV2_LABELS_DIR = write_ssv2_labels(str(tmp_path / "labels"))
    cfg.DATA.FORMAT, cfg.DATA.PATH_PREFIX = "frames", str(tmp_path / "frames")
    write_frame_folder(str(tmp_path / "frames" / "12"), 20, 40, 30, flow=False)
    item = build_dataset(cfg, "val", training=False)[0]
    rgb = item["video"].float()
    # segments of 20 frames: (0,5), (5,10), (10,14), (14,19); middles 3, 8, 12, 17
    assert [frame_index_of(rgb[:, t].permute(1, 2, 0)) for t in range(4)] == [3, 8, 12, 17]
    assert item["label"] == 1 and item["video_id"] == "12"


BROKEN_LINES = ["missing.mp4 0", "empty.mp4 1", "not_a_video.mp4 2", "truncated.mp4 3"]


def test_bad_files_are_logged_once_and_replaced_by_good_samples(small_cfg, video_dir, tmp_path, video3d_caplog):
    cfg = _kinetics(small_cfg, video_dir, tmp_path, BROKEN_LINES + GOOD_LINES)
    cfg.DATA.MAX_CONSECUTIVE_FAILURES = 50
    dataset = build_dataset(cfg, "train", True)
    items = [dataset[(epoch, index)] for epoch in range(2) for index in range(4)]
    assert all(item["index"] >= 4 for item in items)  # every broken video replaced by a good one
    assert all(item["replaced"] for item in items)
    assert not any(dataset[(0, index)]["replaced"] for index in range(4, 4 + len(GOOD_LINES)))
    assert dataset.num_failures >= 8
    warnings = [r.getMessage() for r in video3d_caplog.records if r.levelno == logging.WARNING]
    for line in BROKEN_LINES:
        path = os.path.join(video_dir, line.split()[0])
        assert sum(path in message for message in warnings) == 1
    assert any("No such file" in message for message in warnings)
    again = build_dataset(cfg, "train", True)
    assert [again[(1, 2)]["index"], again[(1, 2)]["video_id"]] == [items[6]["index"], items[6]["video_id"]]


def test_too_many_failures_in_a_row_stop_with_clear_error(small_cfg, video_dir, tmp_path):
    cfg = _kinetics(small_cfg, video_dir, tmp_path, BROKEN_LINES)
    cfg.DATA.MAX_CONSECUTIVE_FAILURES = 3
    with pytest.raises(DataError, match="3 samples in a row.*MAX_CONSECUTIVE_FAILURES"):
        build_dataset(cfg, "train", True)[0]


def test_frame_list_count_beyond_folder_is_a_failed_sample(small_cfg, tmp_path, video3d_caplog):
    write_frame_folder(str(tmp_path / "f" / "short"), 6, 32, 40, flow=False)
    write_frame_folder(str(tmp_path / "f" / "good"), 10, 32, 40, flow=False)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.csv").write_text("short 40 0\ngood 10 1\n")
    cfg = small_cfg
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX, cfg.DATA.FORMAT = str(lists), str(tmp_path / "f"), "frames"
    item = build_dataset(cfg, "train", False)[0]
    assert item["video_id"] == "good"
    assert any("missing frame file" in r.getMessage() for r in video3d_caplog.records)


@pytest.mark.parametrize("kind", ["randaug", "augmix"])
def test_pytorchvideo_augmentation_is_deterministic_per_sample(small_cfg, video_dir, tmp_path, kind):
    cfg = _kinetics(small_cfg, video_dir, tmp_path, GOOD_LINES)
    plain = build_dataset(cfg.clone(), "train", True)
    cfg.AUG.ENABLE, cfg.AUG.TYPE = True, kind
    first, second = build_dataset(cfg, "train", True), build_dataset(cfg, "train", True)
    augmented = [first[(epoch, 0)]["video"] for epoch in range(3)]
    assert all(torch.equal(a, second[(epoch, 0)]["video"]) for epoch, a in enumerate(augmented))
    assert augmented[0].shape == plain[(0, 0)]["video"].shape
    assert any(not torch.equal(a, plain[(epoch, 0)]["video"]) for epoch, a in enumerate(augmented))


def test_augmentation_of_flow_is_a_config_error(small_cfg, tmp_path):
    from video3d.errors import ConfigError

    (tmp_path / "train.csv").write_text("clip 12 0\n")
    small_cfg.DATA.PATH_TO_DATA_DIR = str(tmp_path)
    small_cfg.DATA.FORMAT, small_cfg.DATA.MODALITY, small_cfg.AUG.ENABLE = "frames", "flow", True
    with pytest.raises(ConfigError, match="AUG.ENABLE"):
        build_dataset(small_cfg, "train", True)
