"""tools/convert_weights.py and the automatic mapping of PySlowFast / PyTorchVideo files given as
TRAIN.CHECKPOINT_FILE_PATH or TEST.CHECKPOINT_FILE_PATH: every tensor lands, or one line says
which did not."""

import re
import sys
from pathlib import Path

import pytest
import torch
from pytorchvideo.models.resnet import create_resnet

from video3d.cli import convert_weights
from video3d.config import load_config
from video3d.engine import checkpoint as ckpt
from video3d.engine.trainer import Trainer
from video3d.models import build_model, load_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))  # the trainer's toy data layer
from engine_toys import toy_components  # noqa: E402

# A small Slow-like network (PyTorchVideo's create_resnet defaults, 8 stem channels) as video3d keys.
SLOW_LIKE = ("MODEL:\n  NUM_CLASSES: 5\nRESNET:\n  TEMPORAL_CONV: a\n  STEM_TEMPORAL_KERNEL: 3\n"
             "  TEMPORAL_KERNELS: [1, 1, 3, 3]\n  TEMPORAL_STRIDES: [1, 1, 1, 1]\n  STEM_WIDTH: 8\n"
             "  WIDTH_PER_GROUP: 8\nNUM_GPUS: 0\n")


def pyslowfast_names(state: dict) -> dict:
    """video3d names -> PySlowFast's (slowfast/models: s1.pathway0_stem, s{k}.pathway0_res{i}
    with branch1 / branch1_bn / branch2.{a,b,c}[_bn], head.projection)."""
    out = {}
    for name, tensor in state.items():
        name = re.sub(r"^stem\.conv1\.", "s1.pathway0_stem.conv.", name)
        name = re.sub(r"^stem\.bn1\.", "s1.pathway0_stem.bn.", name)
        name = re.sub(r"^head\.fc\.", "head.projection.", name)
        if match := re.match(r"layer(\d)\.(\d+)\.(.+)", name):
            stage, block, rest = match.groups()
            rest = rest.replace("downsample.0.", "branch1.").replace("downsample.1.", "branch1_bn.")
            rest = re.sub(r"conv([123])\.", lambda m: f"branch2.{'abc'[int(m.group(1)) - 1]}.", rest)
            rest = re.sub(r"bn([123])\.", lambda m: f"branch2.{'abc'[int(m.group(1)) - 1]}_bn.", rest)
            name = f"s{int(stage) + 1}.pathway0_res{block}.{rest}"
        out[name] = tensor
    return out


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "slow_like.yaml"
    path.write_text(SLOW_LIKE)
    return str(path)


@pytest.fixture
def source_model(cfg_file):
    torch.manual_seed(3)
    model = build_model(load_config(cfg_file))
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5)
    return model


def _same_weights(model, reference) -> bool:
    return all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values(),
                                                  strict=True))


def test_pyslowfast_checkpoint_converts_with_every_tensor_landing(tmp_path, cfg_file, source_model, capsys):
    source = tmp_path / "SLOW_8x8.pyth"
    torch.save({"model_state": pyslowfast_names(source_model.state_dict()), "optimizer_state": {}, "epoch": 196,
                "cfg": "MODEL:\n  ARCH: slow\n"}, source)
    out = tmp_path / "converted.pyth"
    assert convert_weights.main(["--from", "pyslowfast", str(source), str(out), "--cfg", cfg_file]) == 0
    count = len(source_model.state_dict())
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{source} (pyslowfast): {count} tensors, ")
    model = build_model(load_config(cfg_file))
    ckpt.load_model_weights(model, str(out))
    assert _same_weights(model, source_model)


def test_pytorchvideo_state_dict_converts_and_gives_the_same_outputs(tmp_path, cfg_file):
    theirs = create_resnet(model_depth=50, model_num_class=5, stem_dim_out=8, dropout_rate=0.0,
                           head_pool_kernel_size=(4, 1, 1)).eval()
    source = tmp_path / "ptv.pyth"
    torch.save(theirs.state_dict(), source)
    out = tmp_path / "converted.pyth"
    assert convert_weights.main(["--from", "pytorchvideo", str(source), str(out), "--cfg", cfg_file]) == 0
    ours = build_model(load_config(cfg_file)).eval()
    ckpt.load_model_weights(ours, str(out))
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(clip), theirs(clip), atol=1e-5)


def test_wrong_format_and_unmapped_tensors_are_one_line(tmp_path, cfg_file, source_model, capsys):
    source = tmp_path / "psf.pyth"
    psf = pyslowfast_names(source_model.state_dict())
    torch.save({"model_state": psf}, source)
    out = str(tmp_path / "out.pyth")
    assert convert_weights.main(["--from", "pytorchvideo", str(source), out, "--cfg", cfg_file]) == 2
    assert "does not hold pytorchvideo weights (names look like pyslowfast" in capsys.readouterr().err
    torch.save({"model_state": {**psf, "s2.pathway1_res0.branch2.a.weight": torch.zeros(1)}}, source)
    assert convert_weights.main(["--from", "pyslowfast", str(source), out, "--cfg", cfg_file]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 of " in err[0] and "two-pathway SlowFast" in err[0]
    torch.save({"model_state": psf}, source)
    assert convert_weights.main(["--from", "pyslowfast", str(source), out, "--cfg", cfg_file,
                                 "MODEL.NUM_CLASSES", "7"]) == 2
    assert "head.fc.weight has shape [5, 256], the model needs [7, 256]" in capsys.readouterr().err


def test_checkpoint_file_paths_map_foreign_files_by_themselves(tmp_path, cfg_file, source_model):
    source = tmp_path / "psf.pyth"
    torch.save({"model_state": pyslowfast_names(source_model.state_dict()), "epoch": 3}, source)
    model = build_model(load_config(cfg_file))
    ckpt.load_model_weights(model, str(source))  # the TEST.CHECKPOINT_FILE_PATH path
    assert _same_weights(model, source_model)

    components = toy_components()
    components.build_model, components.load_pretrained = build_model, load_pretrained
    cfg = load_config(cfg_file, ["OUTPUT_DIR", str(tmp_path / "run"), "TRAIN.CHECKPOINT_FILE_PATH", str(source),
                                 "MODEL.NUM_CLASSES", "9"])
    trainer = Trainer(cfg, components)
    assert torch.equal(trainer.model.layer4[0].conv1.weight, source_model.layer4[0].conv1.weight)
    assert not torch.equal(trainer.model.head.fc.bias[:5], source_model.head.fc.bias)  # a new head: fine-tuning


def test_pyslowfast_ptv_checkpoints_with_the_model_prefix_convert_in_both_paths(tmp_path, cfg_file):
    # PySlowFast's configs/*/pytorchvideo/ models (PTVResNet) keep the network as self.model.
    theirs = create_resnet(model_depth=50, model_num_class=5, stem_dim_out=8, dropout_rate=0.0,
                           head_pool_kernel_size=(4, 1, 1)).eval()
    source = tmp_path / "ptv_slow.pyth"
    torch.save({"model_state": {f"model.{k}": v for k, v in theirs.state_dict().items()}, "epoch": 3}, source)
    out = tmp_path / "converted.pyth"
    assert convert_weights.main(["--from", "pytorchvideo", str(source), str(out), "--cfg", cfg_file]) == 0
    clip = torch.randn(1, 3, 4, 32, 32)
    for load in (str(out), str(source)):  # the converted file, and the .pyth itself as a checkpoint path
        ours = build_model(load_config(cfg_file)).eval()
        ckpt.load_model_weights(ours, load)
        with torch.no_grad():
            assert torch.allclose(ours(clip), theirs(clip), atol=1e-5)
