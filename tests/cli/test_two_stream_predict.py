"""tools/predict.py --flow-cfg / --flow-checkpoint / --flow-weight: an RGB and a flow model fused
from one decode per video, with the numbers tools/fuse_scores.py gives for their test results."""

import json
from pathlib import Path

import pytest
import torch

from data_prep.synthetic import generate
from video3d.cli import fuse_scores, predict, run_net
from video3d.config import load_config
from video3d.data.lists import read_class_names
from video3d.models import build_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")
SHARED = ["DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "DATA.TEST_CROP_SIZE", "32",
          "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32", "TEST.NUM_ENSEMBLE_VIEWS", "2",
          "DATA_LOADER.NUM_WORKERS", "0", "SYNTHMOTION.ENABLE", "False"]


# One thread; the logger level predict.main() sets is reset by tests/conftest.py.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two 8-frame SynthMotion videos, an RGB and a flow model (TV-L1, bound 2, 3 crops) of the demo."""
    root = tmp_path_factory.mktemp("two_stream_cli")
    generate(str(root), num_train=0, num_val=2, size=32, frames=8)
    flow_cfg = root / "flow.yaml"
    flow_cfg.write_text(f"_BASE_: {DEMO}\nDATA:\n  MODALITY: flow\n  FORMAT: frames\n  FLOW_BOUND: 2.0\n")
    other = root / "flow_10_classes.yaml"
    other.write_text(f"_BASE_: {flow_cfg}\nMODEL:\n  NUM_CLASSES: 10\n")
    weights = {}
    for name, cfg_file in (("rgb", DEMO), ("flow", str(flow_cfg))):
        torch.manual_seed({"rgb": 0, "flow": 1}[name])
        weights[name] = root / f"{name}.pyth"
        # As trained checkpoints do: the names travel with the weights, whatever the current folder.
        torch.save({"model_state": build_model(load_config(cfg_file, SHARED)).state_dict(),
                    "class_names": read_class_names(str(root / "classnames.txt"))}, weights[name])
    videos = sorted(str(p) for p in (root / "videos").rglob("*.mp4"))
    return root, str(flow_cfg), str(other), {k: str(v) for k, v in weights.items()}, videos


def _test_results(root, cfg_file, checkpoint, out, *extra):
    assert run_net.main(["--cfg", cfg_file, *SHARED, *extra, "TRAIN.ENABLE", "False", "TEST.ENABLE", "True",
                         "DATA.PATH_TO_DATA_DIR", str(root), "DATA.PATH_PREFIX", str(root),
                         "DATA.CLASS_NAMES_FILE", str(root / "classnames.txt"),
                         "TEST.CHECKPOINT_FILE_PATH", checkpoint, "OUTPUT_DIR", str(out)]) == 0
    return str(out / "results.json")


def test_fused_scores_equal_fuse_scores_of_the_two_single_stream_test_results(models, tmp_path, capsys):
    root, flow_cfg, _, weights, videos = models
    rgb = _test_results(root, DEMO, weights["rgb"], tmp_path / "rgb")
    flow = _test_results(root, flow_cfg, weights["flow"], tmp_path / "flow", "DATA.FORMAT", "video")
    assert fuse_scores.main([rgb, flow, "--weights", "1", "2.5", "--out", str(tmp_path / "fused.json")]) == 0
    fused = {Path(v["video_id"]).stem: v for v in json.loads((tmp_path / "fused.json").read_text())["videos"]}
    capsys.readouterr()
    assert predict.main(["--cfg", DEMO, "--checkpoint", weights["rgb"], "--flow-cfg", flow_cfg,
                         "--flow-checkpoint", weights["flow"], "--flow-weight", "2.5", "--json", *videos, *SHARED]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["path"] for e in entries] == videos
    for entry in entries:
        expected = fused[Path(entry["path"]).stem]
        assert entry["error"] is None and entry["top5"][0]["class"] == expected["pred"]
        assert {e["class"]: e["score"] for e in entry["top5"]} == {
            e["class"]: expected["probs"][e["class"]] for e in entry["top5"]}  # the same numbers
        rgb_only = json.loads(Path(rgb).read_text())["videos"]
        assert expected["probs"] != next(v["probs"] for v in rgb_only if v["video_id"] == expected["video_id"])


@pytest.mark.parametrize("case, message", [
    ("no flow checkpoint", "--flow-cfg needs --flow-checkpoint"),
    ("no flow cfg", "--flow-checkpoint needs --flow-cfg"),
    ("class count", "has 8 classes (MODEL.NUM_CLASSES) but --flow-cfg"),
    ("rgb as flow", "is a DATA.MODALITY rgb model's config; give the flow model's config"),
    ("flow as rgb", "is a DATA.MODALITY flow model's config; give the RGB model with --cfg"),
    ("negative weight", "--flow-weight must be a finite number >= 0, got -1.0"),
])
def test_bad_two_stream_input_is_one_line_and_exit_2(models, case, message, capsys):
    root, flow_cfg, other, weights, videos = models
    rgb, flow = ["--cfg", DEMO, "--checkpoint", weights["rgb"]], ["--flow-cfg", flow_cfg, "--flow-checkpoint", weights["flow"]]
    argv = {
        "no flow checkpoint": [*rgb, "--flow-cfg", flow_cfg],
        "no flow cfg": [*rgb, "--flow-checkpoint", weights["flow"]],
        "class count": [*rgb, "--flow-cfg", other, "--flow-checkpoint", weights["flow"]],
        "rgb as flow": [*rgb, "--flow-cfg", DEMO, "--flow-checkpoint", weights["rgb"]],
        "flow as rgb": ["--cfg", flow_cfg, "--checkpoint", weights["flow"], *flow],
        "negative weight": [*rgb, *flow, "--flow-weight", "-1"],
    }[case]
    assert predict.main([*argv, videos[0], *SHARED]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
