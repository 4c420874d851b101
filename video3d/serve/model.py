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

from video3d.errors import CheckpointError
from video3d.inference.class_names import model_class_names
from video3d.inference.predictor import predict_files
from video3d.inference.runners import expected_input, load_runner, model_file_kind
from video3d.utils.paths import local_copy


class SerialRunner(nn.Module):
    """`runner` behind a lock: jobs take it for each window's forward, a prediction for its whole
    video (decode included), so work interleaves but never runs side by side. Eight requests
    decoding and classifying at once cost ~50 % more CPU than one after the other (threads
    contending for the GIL, eight videos' views in memory; benchmarks/bench_serve.py)."""

    def __init__(self, runner: nn.Module):
        super().__init__()
        self.runner = runner
        self.lock = threading.RLock()  # a prediction holds it and its forwards take it again
        # "onnx" / "torchscript" for exported files, as the precision and Grad-CAM checks read it
        self.kind = getattr(runner, "kind", None)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        with self.lock:
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
        """`checkpoint` may be a URL (fetched once, as by video3d-predict); the class names are
        DATA.CLASS_NAMES_FILE's, else those stored with the model."""
        runner = load_runner(cfg, checkpoint)
        names = model_class_names(cfg, runner, checkpoint)
        checksum = file_sha256(local_copy(checkpoint, CheckpointError))
        return cls(cfg, SerialRunner(runner).eval(), names, checkpoint, checksum)

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

    def predict(self, path: str, shown_name: str) -> tuple[dict, float, float]:
        """The `predict.py --json` entry of one file (its path shown as `shown_name`), and the
        wall and CPU seconds `predict_files` took (not counting the wait for the model)."""
        with self.runner.lock:
            began, began_cpu = time.perf_counter(), time.thread_time()
            (prediction,) = predict_files(self.cfg, self.runner, [path])
            seconds, cpu_seconds = time.perf_counter() - began, time.thread_time() - began_cpu
        prediction.path = shown_name
        if prediction.error is not None:  # the data layer may name the temp file; show the client's
            prediction.error = prediction.error.replace(path, shown_name)
        return prediction.as_json(self.names), seconds, cpu_seconds
