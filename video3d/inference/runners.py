"""One way to run a model on clips, whatever file holds it: a video3d checkpoint (eager
PyTorch), an ONNX file (onnxruntime) or a TorchScript file, as written by `video3d.inference.export`.

Every runner is an `nn.Module` without parameters of its own whose forward takes float clips
`[B, C, T, S, S]` and returns raw logits `[B, K]` (linear head) or `[B, 7, K]` (FFC), on the
CPU for the exported kinds. Exported files carry a `video3d.json` note (input shape, classes,
head); a file made for another input size or class count is refused when it is loaded, with
one line naming the file and both shapes.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.errors import CheckpointError
from video3d.evaluation.evaluator import load_test_model
from video3d.utils.paths import local_copy

EXPORT_NOTE = "video3d.json"  # ONNX metadata key / TorchScript extra file holding `export_note`


def expected_input(cfg: CfgNode) -> list[int]:
    """[C, T, S, S] of one clip as the test path feeds it (DATA.INPUT_CHANNEL_NUM, DATA.NUM_FRAMES,
    DATA.TEST_CROP_SIZE)."""
    return [int(cfg.DATA.INPUT_CHANNEL_NUM[0]), int(cfg.DATA.NUM_FRAMES),
            int(cfg.DATA.TEST_CROP_SIZE), int(cfg.DATA.TEST_CROP_SIZE)]


def export_note(cfg: CfgNode, class_names: list[str] | None = None) -> dict:
    """What an exported file records about the model it holds (with its class names when known)."""
    note = {"format": "video3d-export-v1", "input_shape": expected_input(cfg),
            "num_classes": int(cfg.MODEL.NUM_CLASSES), "head": cfg.MODEL.HEAD,
            "model_name": cfg.MODEL.MODEL_NAME, "modality": cfg.DATA.MODALITY}
    if class_names:
        note["class_names"] = list(class_names)
    return note


def _check_note(path: str, note: dict | None, cfg: CfgNode) -> None:
    if note is None:
        raise CheckpointError(f"{path} was not written by tools/export.py (no {EXPORT_NOTE} note): input size unknown")
    wanted = expected_input(cfg)
    if list(note.get("input_shape", [])) != wanted:
        raise CheckpointError(
            f"{path} takes clips of shape {note.get('input_shape')} (C, T, H, W) but the config feeds {wanted} "
            "(DATA.INPUT_CHANNEL_NUM, DATA.NUM_FRAMES, DATA.TEST_CROP_SIZE); export it again with this config")
    if int(note.get("num_classes", -1)) != int(cfg.MODEL.NUM_CLASSES) or note.get("head") != cfg.MODEL.HEAD:
        raise CheckpointError(
            f"{path} has {note.get('num_classes')} classes and a {note.get('head')} head; the config says "
            f"{cfg.MODEL.NUM_CLASSES} and {cfg.MODEL.HEAD} (MODEL.NUM_CLASSES, MODEL.HEAD)")


class OnnxRunner(nn.Module):
    """An exported ONNX model on onnxruntime's CPU provider."""

    kind = "onnx"

    def __init__(self, path: str, threads: int | None = None):
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3  # onnxruntime's warnings would drown the one-line errors
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail / InvalidProtobuf types
            raise CheckpointError(f"{path} is not a readable ONNX model: {type(error).__name__}: "
                                  f"{' '.join(str(error).split())[:200]}") from error
        meta = self.session.get_modelmeta().custom_metadata_map
        self.note = json.loads(meta[EXPORT_NOTE]) if EXPORT_NOTE in meta else None
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(clips.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: array})[0])


class TorchScriptRunner(nn.Module):
    """An exported TorchScript module on the CPU."""

    kind = "torchscript"

    def __init__(self, path: str):
        super().__init__()
        files = {EXPORT_NOTE: ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
                self.module = torch.jit.load(path, map_location="cpu", _extra_files=files)
        except Exception as error:
            raise CheckpointError(f"{path} is not a readable TorchScript file: {type(error).__name__}: "
                                  f"{' '.join(str(error).split())[:200]}") from error
        self.module.eval()
        self.note = json.loads(files[EXPORT_NOTE]) if files[EXPORT_NOTE] else None

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.module(clips.cpu())


def model_file_kind(path: str) -> str:
    """"onnx", "torchscript" or "checkpoint": by the .onnx suffix, else by the zip archive's
    layout (TorchScript archives hold code/, a torch.save checkpoint only data). A URL is
    fetched (once per run) and its copy examined."""
    local = local_copy(path, CheckpointError)
    if not os.path.isfile(local):
        raise CheckpointError(f"model file not found: {path}")
    if local.lower().endswith(".onnx"):
        return "onnx"
    if zipfile.is_zipfile(local):
        with zipfile.ZipFile(local) as archive:
            if any("/code/" in name for name in archive.namelist()):
                return "torchscript"
    return "checkpoint"


def load_runner(cfg: CfgNode, path: str) -> nn.Module:
    """The model in `path` ready for inference in eval mode: checkpoint -> `build_model(cfg)`
    with its weights (on the test device); .onnx -> `OnnxRunner`; TorchScript -> `TorchScriptRunner`.
    Raises `CheckpointError` when the file does not fit the config."""
    kind = model_file_kind(path)
    if kind == "checkpoint":
        return load_test_model(cfg, path).eval()
    local = local_copy(path, CheckpointError)  # a URL: the copy model_file_kind fetched
    runner = OnnxRunner(local) if kind == "onnx" else TorchScriptRunner(local)
    _check_note(path, runner.note, cfg)
    return runner.eval()


def runner_device(model: nn.Module) -> torch.device:
    """Where `model` wants its input: its parameters' device, the CPU for exported runners."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
