"""The one model a server holds: loaded once, its forwards taken one at a time, its answers in
the shapes of `predict.py --json` and the demo's windows.jsonl (docs/SERVE.md)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.evaluation.results import load_class_names
from video3d.inference.predictor import predict_files
from video3d.inference.runners import expected_input, load_runner, model_file_kind


class SerialRunner(nn.Module):
    """`runner` behind a lock: requests and jobs interleave forward by forward, never share one
    (two forwards at once only fight over the same cores and memory)."""

    def __init__(self, runner: nn.Module):
        super().__init__()
        self.runner = runner
        self._lock = threading.Lock()

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        with self._lock:
            return self.runner(clips)


def file_sha256(path: str) -> str:
    """`"sha256:<hex>"` of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


@dataclass
class ServedModel:
    """A config, its model (checkpoint, ONNX or TorchScript file) and its class names."""

    cfg: CfgNode
    runner: SerialRunner
    names: list[str] | None
    checkpoint: str
    checksum: str

    @classmethod
    def load(cls, cfg: CfgNode, checkpoint: str) -> ServedModel:
        runner = SerialRunner(load_runner(cfg, checkpoint)).eval()
        names = load_class_names(cfg.DATA.CLASS_NAMES_FILE, cfg.MODEL.NUM_CLASSES)
        return cls(cfg, runner, names, checkpoint, file_sha256(checkpoint))

    def info(self) -> dict:
        """What GET /v1/model answers."""
        cfg = self.cfg
        classes = self.names or [str(k) for k in range(cfg.MODEL.NUM_CLASSES)]
        return {"classes": classes, "num_classes": int(cfg.MODEL.NUM_CLASSES),
                "architecture": {"model_name": cfg.MODEL.MODEL_NAME, "arch": cfg.MODEL.ARCH,
                                 "depth": int(cfg.RESNET.DEPTH), "head": cfg.MODEL.HEAD,
                                 "modality": cfg.DATA.MODALITY},
                "input_shape": expected_input(cfg),
                "checkpoint": {"file": os.path.basename(self.checkpoint), "kind": model_file_kind(self.checkpoint),
                               "checksum": self.checksum}}

    def predict(self, path: str, shown_name: str) -> tuple[dict, float]:
        """The `predict.py --json` entry of one file (its path shown as `shown_name`) and the
        seconds `predict_files` took."""
        began = time.perf_counter()
        (prediction,) = predict_files(self.cfg, self.runner, [path])
        seconds = time.perf_counter() - began
        prediction.path = shown_name
        if prediction.error is not None:  # the data layer may name the temp file; show the client's
            prediction.error = prediction.error.replace(path, shown_name)
        return prediction.as_json(self.names), seconds
