"""Run the jobs a config asks for: train if TRAIN.ENABLE (video3d.engine), then test if
TEST.ENABLE (video3d.evaluation). It sits above both packages, which do not know each other."""

from __future__ import annotations

from fvcore.common.config import CfgNode

from video3d.engine.distributed import destroy_distributed, init_distributed, lost_peer_error
from video3d.engine.trainer import TrainComponents, seed_everything, train
from video3d.evaluation.evaluator import run_test
from video3d.utils.logging import get_logger
from video3d.utils.threads import run_threads

logger = get_logger(__name__)


def run_job(cfg: CfgNode, components: TrainComponents | None = None, init_method: str | None = None) -> dict:
    """Join the process group, seed, train and/or test, leave the group.

    `init_method` is PySlowFast's --init_method (tcp://HOST:PORT) for a launch without torchrun.
    Returns {"train": per-epoch history, "test": the evaluator's metrics} for the jobs that ran.
    """
    info = init_distributed(cfg, init_method)
    results: dict = {}
    try:
        seed_everything(cfg.RNG_SEED, info.rank)
        if cfg.TRAIN.ENABLE:
            with run_threads(cfg, "train"):
                results["train"] = train(cfg, components)
        if cfg.TEST.ENABLE:
            with run_threads(cfg, "test"):
                results["test"] = run_test(cfg)
    except RuntimeError as err:
        lost = lost_peer_error(err, info.rank, info.world_size)
        if lost is None:
            raise
        raise lost from None
    finally:
        destroy_distributed()
    return results
