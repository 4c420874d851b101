"""ViewSet: the test views of a video as frames + crop boxes, cut by the consumer; the cut must
equal the views the dataset used to cut itself, in any dtype, slice or process."""

import pickle

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from video3d.data.transforms import Normalizer
from video3d.data.view_set import ViewSet, cut_views


def _view_set(seed=0, frames=6, clips=((0, 2, 4), (1, 3, 5)), boxes=((0, 0), (2, 3), (4, 6))):
    generator = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (frames, 3, 9, 12), generator=generator, dtype=torch.uint8)
    return ViewSet(data, torch.tensor(clips), torch.tensor(boxes), 5)


def _reference(views: ViewSet) -> torch.Tensor:
    """The views cut the obvious way: view v = clip v // crops, crop v % crops."""
    out = []
    for v in range(len(views.clips) * len(views.boxes)):
        clip, crop = divmod(v, len(views.boxes))
        top, left = views.boxes[crop].tolist()
        frames = views.frames[views.clips[clip]][:, :, top:top + views.size, left:left + views.size]
        out.append(frames.permute(1, 0, 2, 3))
    return torch.stack(out)


def test_the_cut_is_clip_major_and_equals_the_reference():
    views = _view_set()
    assert len(views) == 6 and views.shape == (6, 3, 3, 5, 5) and views.dtype == torch.uint8
    assert torch.equal(views.cut(), _reference(views))
    assert torch.equal(views.float(), _reference(views).float())


def test_a_channels_last_source_cuts_the_same():
    views = _view_set()
    channels_last = ViewSet(views.frames.contiguous(memory_format=torch.channels_last), views.clips, views.boxes, 5)
    assert torch.equal(channels_last.cut(), views.cut())


def test_slices_are_views_of_the_views_and_indexing_gives_tensors():
    views, reference = _view_set(), _reference(_view_set())
    part = views[2:5]
    assert isinstance(part, ViewSet) and len(part) == 3 and torch.equal(part.cut(), reference[2:5])
    assert torch.equal(part[1:].cut(), reference[3:5]) and len(part[3:]) == 0
    assert torch.equal(views[0], reference[0]) and torch.equal(views[-1], reference[-1])
    assert torch.equal(views[:, 0, :, 0, 0], reference[:, 0, :, 0, 0])
    with pytest.raises(IndexError):
        views[6]
    with pytest.raises(ValueError, match="step 1"):
        views[::2]


def test_cut_into_a_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="out has shape"):
        _view_set().cut(out=torch.empty(2, 3, 3, 5, 5))
    with pytest.raises(ValueError, match="outside"):
        ViewSet(torch.zeros(1, 3, 5, 5, dtype=torch.uint8), torch.zeros(1, 1, dtype=torch.int64),
                torch.zeros(1, 2, dtype=torch.int64), 5, start=0, stop=2)


def test_cut_views_joins_view_sets_and_tensors_of_several_videos():
    a, b = _view_set(0), _view_set(1)
    tensor = _reference(_view_set(2))[:2]
    joined = cut_views([a[4:], tensor, b[:3]], torch.device("cpu"), torch.float32)
    expected = torch.cat([_reference(a)[4:], tensor, _reference(b)[:3]]).float()
    assert joined.dtype == torch.float32 and torch.equal(joined, expected)
    assert cut_views([tensor], torch.device("cpu")).dtype == torch.uint8


def test_the_normaliser_gives_the_same_input_from_a_view_set_as_from_its_tensor():
    normalizer = Normalizer((100.0, 110.0, 120.0), (50.0, 60.0, 70.0))
    views = _view_set()
    torch.testing.assert_close(normalizer.views(views), normalizer.views(views.cut()), rtol=0, atol=0)


class _OneViewSet(Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, index):
        return {"views": _view_set(index)}


def test_a_view_set_crosses_pickling_and_a_loader_worker_intact():
    views = _view_set()
    assert torch.equal(pickle.loads(pickle.dumps(views)).cut(), views.cut())
    item = next(iter(DataLoader(_OneViewSet(), batch_size=None, num_workers=1)))
    assert isinstance(item["views"], ViewSet) and torch.equal(item["views"].cut(), views.cut())
