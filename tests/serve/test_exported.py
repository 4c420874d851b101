"""An exported model file served as a checkpoint is: the same answers, its kind in /v1/model,
and Grad-CAM (which needs gradients) refused at start-up in one line."""

import pytest
import torch

from tests.inference.conftest import DEMO
from tests.serve.conftest import NAMES, make_client
from video3d.config import load_config
from video3d.errors import ConfigError
from video3d.inference.export import export_model
from video3d.models import build_model
from video3d.serve.app import ServeSettings, create_app
from video3d.serve.model import ServedModel

pytestmark = pytest.mark.usefixtures("one_thread")


def test_an_onnx_file_answers_like_its_checkpoint(served_files, tmp_path):
    cfg = served_files["cfg"]
    model = build_model(cfg).eval()
    model.load_state_dict(torch.load(served_files["checkpoint"], weights_only=True)["model_state"])
    path = str(tmp_path / "model.onnx")
    export_model(model, cfg, "onnx", path, class_names=NAMES)
    exported = ServedModel.load(cfg, path)
    # The exported file is float32; so is the checkpoint it is compared with (TEST.MIXED_PRECISION
    # auto is bf16 on a CPU with native bfloat16, which moves scores by ~1e-3).
    fp32 = ServedModel.load(load_config(DEMO, [*served_files["opts"], "TEST.MIXED_PRECISION", "fp32"]),
                            served_files["checkpoint"])
    answers = {}
    for name, served in (("checkpoint", fp32), ("onnx", exported)):
        with make_client(served, tmp_path / name) as client:
            assert client.get("/v1/model").json()["checkpoint"]["kind"] == name
            with open(served_files["video"], "rb") as handle:
                answers[name] = client.post("/v1/predict", files={"video": ("clip.mp4", handle, "video/mp4")}).json()[0]
    assert [t["class"] for t in answers["onnx"]["top5"]] == [t["class"] for t in answers["checkpoint"]["top5"]]
    assert [t["score"] for t in answers["onnx"]["top5"]] == pytest.approx(
        [t["score"] for t in answers["checkpoint"]["top5"]], abs=1e-4)
    with pytest.raises(ConfigError, match="--gradcam needs gradients"):
        create_app(exported, ServeSettings(work_dir=str(tmp_path / "cam"), gradcam=True))
    assert list((tmp_path / "cam").iterdir()) == []
