"""Classify video files with the multi-view test protocol (what tools/predict.py prints): one
model, or an RGB and a flow model fused like tools/fuse_scores.py from one decode per video."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.data import MultiViewDataset, VideoRecord, multiview_dataset
from video3d.data.online_flow import flow_runs_on_gpu
from video3d.data.transforms import Normalizer
from video3d.data.two_stream import TwoStreamDataset
from video3d.data.worker_errors import UnwrappingDataLoader
from video3d.errors import ConfigError
from video3d.evaluation.evaluator import (
    evaluate_videos,
    forward_views,
    views_per_forward,
)
from video3d.evaluation.metrics import rank_classes
from video3d.evaluation.results import fuse_probs, stored_probs
from video3d.evaluation.scoring import aggregate_views, video_prediction
from video3d.flow.recipe import FlowRecipe
from video3d.utils.precision import with_inference_precision

UNKNOWN_LABEL = -1


@dataclass
class Prediction:
    """The best classes of one file as (class index, score) pairs, or why it failed."""

    path: str
    top: list[tuple[int, float]] = field(default_factory=list)
    error: str | None = None

    def as_json(self, names: list[str] | None) -> dict:
        """The entry `predict.py --json` prints for this file (and `video3d-serve` answers,
        docs/SERVE.md): path, error (None when classified) and the top classes with scores."""
        return {"path": self.path, "error": self.error,
                "top5": [{"class": k, "name": names[k] if names else str(k), "score": round(s, 6)}
                         for k, s in self.top]}


def _records(paths: Sequence[str]) -> list[VideoRecord]:
    return [VideoRecord(os.path.basename(os.path.normpath(p)) or p, p, UNKNOWN_LABEL) for p in paths]


def files_dataset(cfg: CfgNode, paths: Sequence[str]) -> MultiViewDataset:
    """Multi-view test items of arbitrary files, sampled as TEST.DATASET samples its videos."""
    return multiview_dataset(cfg, _records(paths), cfg.TEST.DATASET)


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)  # exported models (onnxruntime) have none: CPU
    return parameter.device if parameter is not None else torch.device("cpu")


def _top(probs: torch.Tensor, pred: int, top_k: int) -> list[tuple[int, float]]:
    ranked = rank_classes(probs[None], torch.tensor([pred]), top_k)[0].tolist()
    return [(k, float(probs[k])) for k in ranked]


def predict_files(cfg: CfgNode, model: nn.Module, paths: Sequence[str], top_k: int = 5) -> list[Prediction]:
    """One `Prediction` per path, in order; a file that cannot be decoded gets its reason."""
    model.eval()
    device = _model_device(model)
    results = evaluate_videos(model, files_dataset(cfg, paths), list(range(len(paths))), cfg, device,
                              Normalizer.from_cfg(cfg))
    predictions = []
    for result in sorted(results, key=lambda r: r.index):
        path = paths[result.index]
        # the data layer's reasons start with the path, which the caller prints anyway
        error = None if result.error is None else result.error.removeprefix(f"{result.path}: ")
        prediction = Prediction(path, error=error)
        if result.error is None:
            prediction.top = _top(result.probs, result.pred, top_k)
        predictions.append(prediction)
    return predictions


def check_two_stream(rgb_cfg: CfgNode, flow_cfg: CfgNode, rgb_name: str, flow_name: str) -> None:
    """ConfigError (one line naming the file at fault) unless `rgb_cfg` is an RGB model's config and
    `flow_cfg` a flow model's with the same classes; then both read video files (DATA.FORMAT video)."""
    if flow_cfg.DATA.MODALITY != "flow":
        raise ConfigError(f"--flow-cfg {flow_name} is a DATA.MODALITY {flow_cfg.DATA.MODALITY} model's config; "
                          "give the flow model's config")
    if rgb_cfg.DATA.MODALITY != "rgb":
        raise ConfigError(f"--cfg {rgb_name} is a DATA.MODALITY {rgb_cfg.DATA.MODALITY} model's config; "
                          "give the RGB model with --cfg and the flow model with --flow-cfg")
    if rgb_cfg.MODEL.NUM_CLASSES != flow_cfg.MODEL.NUM_CLASSES:
        raise ConfigError(f"--cfg {rgb_name} has {rgb_cfg.MODEL.NUM_CLASSES} classes (MODEL.NUM_CLASSES) but "
                          f"--flow-cfg {flow_name} has {flow_cfg.MODEL.NUM_CLASSES}: the streams cannot be fused")
    rgb_cfg.DATA.FORMAT = flow_cfg.DATA.FORMAT = "video"


def _stream_scores(model: nn.Module, item: dict, views_key: str, cfg: CfgNode) -> list[float]:
    """One stream's view-aggregated scores of a video, as a results file stores them."""
    stream_item = {**item, "views": item[views_key]}
    chunk = views_per_forward(cfg.TEST.BATCH_SIZE, 1)
    _, logits = next(forward_views(model, [stream_item], chunk, _model_device(model), cfg.MODEL.CHANNELS_LAST,
                                   Normalizer.from_cfg(cfg).views))
    scores, _ = video_prediction(aggregate_views(logits, cfg.DATA.ENSEMBLE_METHOD), cfg.FFC.TEST_ENSEMBLE)
    return stored_probs(scores)


def predict_two_stream(rgb_cfg: CfgNode, rgb_model: nn.Module, flow_cfg: CfgNode, flow_model: nn.Module,
                       paths: Sequence[str], flow_weight: float = 1.0, top_k: int = 5) -> list[Prediction]:
    """One `Prediction` per path from the RGB and flow models fused as tools/fuse_scores.py fuses
    their results files (weights 1 and `flow_weight`, `fuse_probs` of the stored scores, arg-max).

    Each video is decoded once for both streams (`TwoStreamDataset`); its flow is computed online
    with the flow model's recipe. Each stream keeps its own config's views and aggregation."""
    records = _records(paths)
    dataset = TwoStreamDataset(multiview_dataset(rgb_cfg, records, rgb_cfg.TEST.DATASET),
                               multiview_dataset(flow_cfg, records, flow_cfg.TEST.DATASET),
                               FlowRecipe.from_cfg(flow_cfg))
    workers = 0 if flow_runs_on_gpu(flow_cfg) else rgb_cfg.DATA_LOADER.NUM_WORKERS
    loader = UnwrappingDataLoader(dataset, batch_size=None, num_workers=workers)
    rgb_model = with_inference_precision(rgb_model.eval(), rgb_cfg)  # each stream's TEST.MIXED_PRECISION
    flow_model = with_inference_precision(flow_model.eval(), flow_cfg)
    predictions = []
    with torch.inference_mode():
        for item in loader:
            path = paths[int(item["index"])]
            if item["views"] is None:
                predictions.append(Prediction(path, error=str(item["error"]).removeprefix(f"{path}: ")))
                continue
            scores = [_stream_scores(rgb_model, item, "views", rgb_cfg),
                      _stream_scores(flow_model, item, "flow_views", flow_cfg)]
            fused = fuse_probs(scores, [1.0, flow_weight])
            predictions.append(Prediction(path, _top(fused, int(fused.argmax()), top_k)))
    return predictions
