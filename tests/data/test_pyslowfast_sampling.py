"""TEST.CLIP_SAMPLING pyslowfast: PySlowFast's test clip indices and crop boxes, exactly.

The reference below restates PySlowFast's procedure (slowfast/datasets/decoder.py:
get_start_end_idx, pyav_decode, pyav_decode_stream, temporal_sampling; transform.py:
uniform_crop) step by step on a list of frame timestamps, as it runs on a decoded video.
"""

import math

import av
import pytest
import torch
from test_multiview import _dataset

from tests.data.conftest import frame_index_of, write_video
from video3d.data import sampling, transforms


def _get_start_end_idx(video_size, clip_size, clip_idx, num_clips):
    delta = max(video_size - clip_size, 0)
    start_idx = delta * clip_idx / num_clips
    return start_idx, start_idx + clip_size - 1


def _reference_clip(frame_pts, duration, fps, sampling_rate, num_frames, target_fps, clip_idx, num_clips):
    """Indices (into frame_pts) of the frames PySlowFast's decode() returns for one test clip."""
    frames_length = len(frame_pts)
    clip_size = sampling_rate * num_frames / target_fps * fps
    if duration is None:
        decoded = list(range(frames_length))
        start, end = _get_start_end_idx(len(decoded), clip_size, clip_idx, num_clips)
    else:
        start, end = _get_start_end_idx(frames_length, clip_size, clip_idx, num_clips)
        timebase = duration / frames_length
        start_pts, end_pts = int(start * timebase), int(end * timebase)
        decoded, beyond = [], 0
        for k, pts in enumerate(frame_pts):
            if pts < start_pts:
                continue
            decoded.append(k)
            if pts > end_pts:
                beyond += 1
                if beyond >= 0:
                    break
        start, end = _get_start_end_idx(len(decoded), clip_size, 0, 1)
    index = torch.clamp(torch.linspace(start, end, num_frames), 0, len(decoded) - 1).long()
    return [decoded[i] for i in index.tolist()]


def _uniform_crop_offsets(height, width, size, spatial_idx):
    y_offset, x_offset = int(math.ceil((height - size) / 2)), int(math.ceil((width - size) / 2))
    if height > width:
        y_offset = {0: 0, 2: height - size}.get(spatial_idx, y_offset)
    else:
        x_offset = {0: 0, 2: width - size}.get(spatial_idx, x_offset)
    return y_offset, x_offset


CASES = [  # frames, fps, pts per frame, sampling rate, clip frames, clips
    (300, 30.0, 512, 2, 8, 10), (250, 25.0, 512, 8, 8, 10), (300, 30000 / 1001, 1001, 4, 16, 10),
    (120, 30000 / 1001, 1001, 2, 32, 10), (40, 30.0, 3003, 8, 8, 10), (301, 30.0, 1, 4, 16, 7),
    (90, 30.0, 100, 2, 4, 3), (10, 30.0, 512, 8, 8, 5), (300, 29.97, None, 2, 8, 10), (75, 25.0, None, 8, 8, 4),
]


@pytest.mark.parametrize(("frames", "fps", "per_frame", "rate", "length", "clips"), CASES)
def test_clip_indices_equal_pyslowfast_formula(frames, fps, per_frame, rate, length, clips):
    pts = [k * (per_frame or 1) for k in range(frames)]
    duration = None if per_frame is None else frames * per_frame
    expected = [_reference_clip(pts, duration, fps, rate, length, 30, i, clips) for i in range(clips)]
    assert sampling.pyslowfast_test_clip_indices(frames, fps, length, rate, 30, clips, per_frame) == expected


def test_pyslowfast_clips_differ_from_spread_on_a_300_frame_video():
    """8 x 8 clips, 10 views, 300 frames at 30 fps (time base 1/15360): the spread rule's last
    clip ends on the last frame (starts at 299 - 7 x 8 = 243); PySlowFast's starts at
    (300 - 64) x 9 / 10 = 212.4, i.e. at the first frame presented after it, 213."""
    ours = sampling.multiview_clip_indices(300, 8, 8.0, 10)
    theirs = sampling.pyslowfast_test_clip_indices(300, 30.0, 8, 8, 30, 10, 512)
    assert (ours[-1][0], ours[-1][-1], theirs[-1][0]) == (243, 299, 213)
    assert ours[0][0] == theirs[0][0] == 0


@pytest.mark.parametrize(("height", "width", "size"), [(256, 341, 256), (341, 256, 256), (36, 48, 36), (37, 53, 30),
                                                       (53, 37, 30), (40, 40, 33), (256, 455, 224)])
@pytest.mark.parametrize("crops", [1, 3])
def test_crop_boxes_equal_uniform_crop(height, width, size, crops):
    indices = [1] if crops == 1 else [0, 1, 2]
    expected = [_uniform_crop_offsets(height, width, size, i) for i in indices]
    assert transforms.pyslowfast_crop_boxes(height, width, size, crops) == expected


def test_test_views_use_pyslowfast_frames_on_a_real_decode(small_cfg, tmp_path):
    folder = tmp_path / "v"
    path = write_video(str(folder / "clip.mp4"), 90, 48, 64, fps=30, gop=10)
    with av.open(path) as container:
        stream = container.streams.video[0]
        pts = [frame.pts for frame in container.decode(video=0)]
        duration, fps = stream.duration, float(stream.average_rate)
    small_cfg.TEST.CLIP_SAMPLING = "pyslowfast"
    dataset = _dataset(small_cfg, str(folder), tmp_path, ["clip.mp4 0"], crops=1, clips=4)
    views = dataset[0]["views"].float()
    got = [[frame_index_of(views[v, :, t].permute(1, 2, 0)) for t in range(4)] for v in range(4)]
    assert got == [_reference_clip(pts, duration, fps, 2, 4, 30, i, 4) for i in range(4)]
    assert got != sampling.multiview_clip_indices(90, 4, 2.0, 4)
