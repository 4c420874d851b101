"""Loader: global batch split, resumable shuffled sampler, determinism across worker counts."""

import pytest
import torch

from video3d.data import build_loader, set_loader_epoch
from video3d.data import loader as loader_module
from video3d.data.loader import per_process_batch_size
from video3d.data.samplers import ResumableSampler
from video3d.errors import ConfigError, DataError


def test_sampler_order_depends_on_epoch_only():
    sampler = ResumableSampler(10, shuffle=True, seed=3)
    sampler.set_epoch(2)
    first = list(sampler)
    assert sorted(i for _, i in first) == list(range(10)) and {e for e, _ in first} == {2}
    assert list(ResumableSampler(10, shuffle=True, seed=3).__iter__()) != first
    sampler.set_epoch(2)
    assert list(sampler) == first


def test_sampler_skip_resumes_mid_epoch():
    sampler = ResumableSampler(10, shuffle=True, seed=0)
    sampler.set_epoch(4)
    full = list(sampler)
    sampler.set_epoch(4, skip=6)
    assert list(sampler) == full[6:] and len(sampler) == 4


def test_sampler_deals_padded_order_to_ranks():
    ranks = [ResumableSampler(7, shuffle=False, num_replicas=2, rank=r) for r in (0, 1)]
    assert [[i for _, i in s] for s in ranks] == [[0, 2, 4, 6], [1, 3, 5, 0]]
    assert [len(s) for s in ranks] == [4, 4]


def test_global_batch_divides_over_processes():
    assert per_process_batch_size(64, 4, accum_steps=2) == 8
    assert per_process_batch_size(64, 8) == 8
    with pytest.raises(ConfigError, match="TRAIN.BATCH_SIZE 7"):
        per_process_batch_size(7, 2)


def _epoch(loader, epoch, skip=0):
    set_loader_epoch(loader, epoch, skip)
    return [(b["video"], b["label"], b["index"], b["video_id"]) for b in loader]


def test_batches_identical_with_any_worker_count(loader_cfg):
    loader_cfg.DATA_LOADER.NUM_WORKERS = 0
    serial = _epoch(build_loader(loader_cfg, "train", True), 1)
    loader_cfg.DATA_LOADER.NUM_WORKERS = 2
    parallel = _epoch(build_loader(loader_cfg, "train", True), 1)
    assert len(serial) == 3 and len(parallel) == 3
    for (video_a, label_a, index_a, ids_a), (video_b, label_b, index_b, ids_b) in zip(serial, parallel, strict=True):
        assert torch.equal(video_a, video_b) and torch.equal(label_a, label_b) and torch.equal(index_a, index_b)
        assert ids_a == ids_b
    assert serial[0][0].shape == (2, 3, 4, 32, 32)


def test_resume_skips_done_batches_and_reproduces_the_rest(loader_cfg):
    loader = build_loader(loader_cfg, "train", True)
    full = _epoch(loader, 2)
    resumed = _epoch(build_loader(loader_cfg, "train", True), 2, skip=1)
    assert len(resumed) == len(full) - 1
    for (video_a, *_), (video_b, *_) in zip(full[1:], resumed, strict=True):
        assert torch.equal(video_a, video_b)


def test_validation_loader_keeps_order_and_last_partial_batch(loader_cfg):
    loader_cfg.TRAIN.BATCH_SIZE = 4
    batches = _epoch(build_loader(loader_cfg, "train", False), 0)
    assert [b[2].tolist() for b in batches][1][-1] == 5 and len(batches) == 2
    assert batches[0][2].tolist() == [0, 1, 2, 3]


def test_each_process_loads_its_share_of_the_global_batch(loader_cfg, monkeypatch):
    monkeypatch.setattr(loader_module, "get_world_size", lambda: 2)
    monkeypatch.setattr(loader_module, "get_rank", lambda: 1)
    loader_cfg.TRAIN.BATCH_SIZE = 4
    loader = build_loader(loader_cfg, "train", True)
    assert loader.batch_size == 2 and loader.sampler.rank == 1 and loader.sampler.num_replicas == 2
    assert not loader.pin_memory or torch.cuda.is_available()


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_a_data_error_in_a_worker_is_raised_as_its_own_one_line(loader_cfg, tmp_path, workers):
    """Every sample fails (a wrong DATA.PATH_PREFIX): the DataError reads the same with any
    worker count, not "Caught DataError in DataLoader worker process 0" and its traceback."""
    loader_cfg.DATA.PATH_PREFIX = str(tmp_path / "wrong prefix")
    loader_cfg.DATA_LOADER.NUM_WORKERS = workers
    loader = build_loader(loader_cfg, "train", training=True)
    set_loader_epoch(loader, 0)
    with pytest.raises(DataError) as info:
        next(iter(loader))
    message = str(info.value)
    assert message.startswith("5 samples in a row could not be decoded (DATA.MAX_CONSECUTIVE_FAILURES=5); last: ")
    assert str(tmp_path / "wrong prefix") in message and "\n" not in message and "Caught" not in message


def test_a_decode_error_from_a_worker_keeps_its_type_path_and_reason():
    from video3d.data.worker_errors import original_worker_error
    from video3d.errors import DecodeError

    try:
        raise DecodeError("/v/a: b.mp4", "moov atom not found")
    except DecodeError:
        from torch._utils import ExceptionWrapper

        wrapped = ExceptionWrapper(where="in DataLoader worker process 1")
    with pytest.raises(RuntimeError) as info:
        wrapped.reraise()
    original = original_worker_error(info.value)
    assert isinstance(original, DecodeError) and str(original) == "/v/a: b.mp4: moov atom not found"
    assert original_worker_error(ValueError("Caught nothing")) is None
