"""Sharded testing with two gloo processes on the CPU: each video is read by one rank only and
counted once in the gathered metrics."""

import json
from datetime import timedelta

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from evaluation_fakes import CountingVideos, ValueModel, tiny_test_cfg

from video3d.evaluation import evaluator

WORLD_SIZE = 2
# 7 videos: a DistributedSampler would pad rank 1 with a duplicate of video 0.
LABELS = [0, 1, 2, 3, 4, 0, 1]
VALUES = [0, 1, 2, 0, None, 0, 4]  # video 3 and 6 wrong, video 4 fails


def _rank_main(rank: int, workdir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{workdir}/rendezvous", rank=rank,
                            world_size=WORLD_SIZE, timeout=timedelta(seconds=60))
    try:
        dataset = CountingVideos(LABELS, VALUES, num_views=6)
        evaluator.build_multiview_dataset = lambda cfg, split: dataset
        summary = evaluator.run_test(tiny_test_cfg(f"{workdir}/out"), ValueModel(num_classes=5))
        with open(f"{workdir}/rank{rank}.json", "w") as handle:
            json.dump({"summary": summary, "calls": dict(dataset.calls)}, handle)
    finally:
        dist.destroy_process_group()


def test_two_ranks_read_disjoint_videos_and_count_each_once(tmp_path):
    # spawn, not fork: a forked child of a process whose OpenMP pool is running can deadlock
    mp.spawn(_rank_main, args=(str(tmp_path),), nprocs=WORLD_SIZE, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD_SIZE)]
    assert ranks[0]["calls"] == {"0": 1, "2": 1, "4": 1, "6": 1}
    assert ranks[1]["calls"] == {"1": 1, "3": 1, "5": 1}
    for rank in ranks:  # every rank returns the same gathered summary
        summary = rank["summary"]
        assert summary["num_videos"] == 6
        assert summary["top1"] == pytest.approx(100 * 4 / 6)
        assert [f["video_id"] for f in summary["failed"]] == ["vid4"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [v["video_id"] for v in saved["videos"]] == ["vid0", "vid1", "vid2", "vid3", "vid5", "vid6"]
