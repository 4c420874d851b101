"""tools/model_info.py and video3d.models.complexity: parameters, conv+linear GMACs, input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from video3d.cli import model_info
from video3d.config import load_config
from video3d.models import build_model
from video3d.models.complexity import count_gmacs

ROOT = Path(__file__).resolve().parents[2]
MODEL_INFO = str(ROOT / "tools" / "model_info.py")
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")


def run(*args):
    return subprocess.run([sys.executable, MODEL_INFO, *args], capture_output=True, text=True, cwd=ROOT,
                          check=False)


def test_gmacs_count_conv_and_linear_only():
    model = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1, bias=False), nn.BatchNorm3d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(8, 5))
    conv = 8 * 4 * 8 * 8 * (3 * 27)  # output elements x MACs per output
    linear = 8 * 5
    assert count_gmacs(model, [3, 4, 8, 8]) * 1e9 == pytest.approx(conv + linear)


def test_json_output_reports_the_demo_model(capsys):
    assert model_info.main(["--cfg", DEMO, "--json", "MODEL.HEAD", "linear"]) == 0
    info = json.loads(capsys.readouterr().out)
    model = build_model(load_config(DEMO, ["MODEL.HEAD", "linear"]))
    assert info["params"] == sum(p.numel() for p in model.parameters())
    assert info["input"] == [3, 8, 56, 56]
    assert info["gmacs"] == pytest.approx(count_gmacs(model, [3, 8, 56, 56]), abs=1e-4)
    assert set(info) == {"params", "gmacs", "input"}


def test_bad_config_key_is_one_line_and_nonzero(capsys):
    assert model_info.main(["--cfg", DEMO, "RESNET.NO_SUCH_KEY", "1"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "RESNET.NO_SUCH_KEY" in err


@pytest.mark.slow
def test_iresnet3d_50_reports_93_14_gmacs():
    torch.set_num_threads(2)
    res = run("--cfg", str(ROOT / "configs" / "kinetics" / "iresnet3d_50.yaml"), "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["params"] == 46_999_760
    assert info["gmacs"] == pytest.approx(93.14, rel=0.01)
    assert info["input"] == [3, 16, 224, 224]
