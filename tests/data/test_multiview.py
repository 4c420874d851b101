"""video3d.data.multiview: one decode per video, view order, crops, failed videos as items."""

import pytest
import torch

from tests.data.conftest import frame_index_of, write_video
from video3d.data import MultiViewDataset, VideoRecord, ViewCrops, build_multiview_dataset, transforms
from video3d.data.frame_source import FrameSource
from video3d.errors import DecodeError


def _dataset(cfg, folder, tmp_path, lines, crops=3, clips=3):
    lists = tmp_path / "lists"
    lists.mkdir(exist_ok=True)
    (lists / "val.csv").write_text("".join(f"{line}\n" for line in lines))
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = str(lists), folder
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = clips, crops
    return build_multiview_dataset(cfg, "val")


def test_views_are_clip_major_and_cover_start_to_end(small_cfg, video_dir, tmp_path):
    dataset = _dataset(small_cfg, video_dir, tmp_path, ["land_30.mp4 0"])
    item = dataset[0]
    assert item["error"] is None and item["label"] == 0 and item["video_id"] == "land_30"
    views = item["views"]
    assert views.shape == (9, 3, 4, 36, 36) and views.dtype == torch.uint8
    rgb = views.float()
    clip_frames = [[frame_index_of(rgb[v, :, t].permute(1, 2, 0)) for t in range(4)] for v in range(9)]
    # 90 frames, 4 x 2: slack 83 -> starts 0, 41.5, 83
    expected = [[0, 2, 4, 6], [42, 44, 46, 48], [83, 85, 87, 89]]
    assert clip_frames == [expected[v // 3] for v in range(9)]


def test_crops_are_left_centre_right_of_the_resized_clip(small_cfg, tmp_path):
    folder = tmp_path / "v"
    write_video(str(folder / "noise.mp4"), 12, 48, 64, noise=True)
    dataset = _dataset(small_cfg, str(folder), tmp_path, ["noise.mp4 1"], clips=1)
    views = transforms.Normalizer.from_cfg(small_cfg).views(dataset[0]["views"])
    from video3d.data import open_source

    with open_source(str(folder / "noise.mp4")) as source:
        frames = source.get_frames([3, 5, 7, 9])  # 12 frames, 4 x 2: slack 5, centred start 2.5
    resized = transforms.resize_short_side(frames.permute(0, 3, 1, 2), 36)  # 36 x 48
    normalizer = transforms.Normalizer((0.45 * 255,) * 3, (0.225 * 255,) * 3)
    for view, left in zip(views, [0, 6, 12], strict=True):
        assert torch.allclose(view, normalizer.clip(resized[..., :, left : left + 36]))


def test_portrait_crops_run_top_to_bottom(small_cfg, video_dir, tmp_path):
    views = _dataset(small_cfg, video_dir, tmp_path, ["port_25.mp4 0"], clips=1)[0]["views"]
    assert views.shape == (3, 3, 4, 36, 36)
    rgb = views.float()
    top_view, bottom_view = rgb[0, 0, 0], rgb[2, 0, 0]
    # the top crop lies inside the upper (index % 60) grey, the bottom crop inside the lower one
    assert top_view[:8].mean() != pytest.approx(bottom_view[-8:].mean(), abs=2)


def test_each_video_is_decoded_in_one_call(small_cfg, video_dir, tmp_path, monkeypatch):
    calls = []
    original = FrameSource.get_frames

    def counting(self, indices):
        calls.append(list(indices))
        return original(self, indices)

    monkeypatch.setattr(FrameSource, "get_frames", counting)
    dataset = _dataset(small_cfg, video_dir, tmp_path, ["land_30.mp4 0", "odd_30.mp4 1"], clips=10)
    assert dataset[0]["views"].shape[0] == 30 and dataset[1]["views"].shape[0] == 30
    assert len(calls) == 2 and calls[0] == sorted(set(calls[0]))


def test_single_crop_and_short_video(small_cfg, video_dir, tmp_path):
    item = _dataset(small_cfg, video_dir, tmp_path, ["short_30.mp4 2"], crops=1, clips=2)[0]
    assert item["views"].shape == (2, 3, 4, 36, 36)
    assert torch.equal(item["views"][0], item["views"][1])  # 5 frames: both clips are 0, 2, 4, 4


def test_failed_video_is_an_item_with_reason_not_an_exception(small_cfg, video_dir, tmp_path):
    dataset = _dataset(small_cfg, video_dir, tmp_path, ["missing.mp4 0", "empty.mp4 1", "land_30.mp4 2"])
    failed = [dataset[0], dataset[1]]
    for item, name in zip(failed, ["missing.mp4", "empty.mp4"], strict=True):
        assert item["views"] is None and name in item["error"]
    assert dataset[2]["views"] is not None and dataset[2]["error"] is None
    assert [item["label"] for item in failed] == [0, 1]


class _Source:
    """A frame source (duck-typed) whose pixels hold the frame index; `fail` raises instead."""

    def __init__(self, fail: Exception | None = None):
        self.fail = fail
        self.num_frames, self.fps, self.height, self.width = 20, 30.0, 8, 12

    def get_frames(self, indices):
        if self.fail is not None:
            raise self.fail
        return torch.tensor(indices, dtype=torch.uint8)[:, None, None, None].expand(-1, 8, 12, 3).contiguous()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_parts_are_passed_in_explicitly_and_any_failure_becomes_a_failed_item():
    records = [VideoRecord("a", "/v/a.mp4", 3), VideoRecord("b", "/v/b.mp4", 1), VideoRecord("c", "/v/c.mp4", 2)]
    failures = {"/v/b.mp4": RuntimeError("codec crashed"), "/v/c.mp4": DecodeError("/v/c.mp4", "truncated")}
    dataset = MultiViewDataset(records, lambda record: _Source(failures.get(record.path)),
                               clip_positions=lambda frames, fps, clips: [[1, 2], [frames - 2, frames - 1]][:clips],
                               num_clips=2, crops=ViewCrops(size=8, num_crops=1))
    item = dataset[0]
    assert item["views"].shape == (2, 3, 2, 8, 8) and item["label"] == 3 and item["error"] is None
    assert item["views"][:, 0, :, 0, 0].tolist() == [[1, 2], [18, 19]]  # the positions given, in order
    assert dataset[1] == {"views": None, "label": 1, "index": 1, "video_id": "b", "error": "RuntimeError: codec crashed"}
    assert dataset[2]["error"] == "/v/c.mp4: truncated" and dataset[2]["views"] is None

