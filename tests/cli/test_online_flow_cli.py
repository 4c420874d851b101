"""A flow model tested (tools/run_net.py, 30 views) and used (tools/predict.py) on raw video
files: DATA.FORMAT video + DATA.MODALITY flow computes the flow online, no extraction step."""

import json
from pathlib import Path

import pytest
import torch

from data_prep.synthetic import generate
from video3d.cli import predict, run_net
from video3d.config import load_config
from video3d.data.lists import read_class_names
from video3d.models import build_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")
# TV-L1 (the default DATA.FLOW_ALGO), eager, on 32x32 frames; 10 clips x 3 crops.
FLOW = ["DATA.FORMAT", "video", "DATA.MODALITY", "flow", "DATA.FLOW_BOUND", "2.0",
        "DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "DATA.TEST_CROP_SIZE", "32",
        "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32", "TEST.NUM_ENSEMBLE_VIEWS", "10",
        "TEST.NUM_SPATIAL_CROPS", "3", "DATA_LOADER.NUM_WORKERS", "0", "SYNTHMOTION.ENABLE", "False"]


# One thread; the logger level predict.main() sets is reset by tests/conftest.py.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def flow_model(tmp_path_factory):
    """Two 8-frame SynthMotion videos and a tiny flow model's weights."""
    root = tmp_path_factory.mktemp("online_flow_cli")
    generate(str(root), num_train=0, num_val=2, size=32, frames=8)
    cfg = load_config(DEMO, FLOW)
    assert cfg.DATA.INPUT_CHANNEL_NUM == [2]
    torch.manual_seed(0)
    checkpoint = root / "flow.pyth"
    # As trained checkpoints do: the names travel with the weights, whatever the current folder.
    torch.save({"model_state": build_model(cfg).state_dict(),
                "class_names": read_class_names(str(root / "classnames.txt"))}, checkpoint)
    videos = sorted(str(p) for p in (root / "videos").rglob("*.mp4"))
    return root, str(checkpoint), videos


def test_30_view_test_and_predict_run_on_raw_videos_and_agree(flow_model, tmp_path, capsys):
    root, checkpoint, videos = flow_model
    out = tmp_path / "test"
    assert run_net.main(["--cfg", DEMO, *FLOW, "TRAIN.ENABLE", "False", "TEST.ENABLE", "True",
                         "DATA.PATH_TO_DATA_DIR", str(root), "DATA.PATH_PREFIX", str(root),
                         "DATA.CLASS_NAMES_FILE", str(root / "classnames.txt"),
                         "TEST.CHECKPOINT_FILE_PATH", checkpoint, "OUTPUT_DIR", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["num_views"] == 30 and results["failed"] == [] and len(results["videos"]) == 2
    capsys.readouterr()
    assert predict.main(["--cfg", DEMO, "--checkpoint", checkpoint, "--json", *videos, *FLOW]) == 0
    predicted = {Path(e["path"]).stem: e for e in json.loads(capsys.readouterr().out)}
    for video in results["videos"]:
        entry = predicted[Path(video["video_id"]).stem]
        assert entry["error"] is None
        assert entry["top5"][0]["class"] == video["pred"]
        assert entry["top5"][0]["score"] == pytest.approx(video["probs"][video["pred"]], abs=1e-5)
