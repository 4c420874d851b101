"""Classify video files with the multi-view test protocol (what tools/predict.py prints)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.data import MultiViewDataset, VideoRecord, multiview_dataset
from video3d.data.transforms import Normalizer
from video3d.engine.evaluator import evaluate_videos
from video3d.engine.metrics import rank_classes

UNKNOWN_LABEL = -1


@dataclass
class Prediction:
    """The best classes of one file as (class index, score) pairs, or why it failed."""

    path: str
    top: list[tuple[int, float]] = field(default_factory=list)
    error: str | None = None


def files_dataset(cfg: CfgNode, paths: Sequence[str]) -> MultiViewDataset:
    """Multi-view test items of arbitrary files, sampled as TEST.DATASET samples its videos."""
    records = [VideoRecord(os.path.basename(os.path.normpath(p)) or p, p, UNKNOWN_LABEL) for p in paths]
    return multiview_dataset(cfg, records, cfg.TEST.DATASET)


def predict_files(cfg: CfgNode, model: nn.Module, paths: Sequence[str], top_k: int = 5) -> list[Prediction]:
    """One `Prediction` per path, in order; a file that cannot be decoded gets its reason."""
    model.eval()
    parameter = next(model.parameters(), None)  # exported models (onnxruntime) have none: CPU
    device = parameter.device if parameter is not None else torch.device("cpu")
    results = evaluate_videos(model, files_dataset(cfg, paths), list(range(len(paths))), cfg, device,
                              Normalizer.from_cfg(cfg))
    predictions = []
    for result in sorted(results, key=lambda r: r.index):
        path = paths[result.index]
        # the data layer's reasons start with the path, which the caller prints anyway
        error = None if result.error is None else result.error.removeprefix(f"{result.path}: ")
        prediction = Prediction(path, error=error)
        if result.error is None:
            ranked = rank_classes(result.probs[None], torch.tensor([result.pred]), top_k)[0].tolist()
            prediction.top = [(k, float(result.probs[k])) for k in ranked]
        predictions.append(prediction)
    return predictions
