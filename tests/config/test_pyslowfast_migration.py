"""More of PySlowFast's own configs (tests/config/data/pyslowfast_more, written from the public
files): its configs/Kinetics/pytorchvideo/ files load (ptv datasets as their video3d twins,
SOLVER.BASE_LR_SCALE_NUM_SHARDS read), networks video3d does not build get the one
"not built" line, and MODEL.HEAD_ACT / MODEL.MODEL_NAME say what video3d does."""

import logging
import pathlib

import pytest

from video3d.cli import model_info
from video3d.config import ConfigError, load_config
from video3d.engine.optim import describe_lr, lr_at_epoch

DATA = pathlib.Path(__file__).parent / "data" / "pyslowfast_more"
PTV_SLOW = str(DATA / "Kinetics_ptv_SLOW_8x8_R50.yaml")


def test_a_pytorchvideo_config_loads_with_its_dataset_twin_and_shard_scaling(caplog):
    with caplog.at_level(logging.WARNING, logger="video3d"):
        cfg = load_config(PTV_SLOW)
    assert (cfg.TRAIN.DATASET, cfg.TEST.DATASET, cfg.MODEL.ARCH) == ("kinetics", "kinetics", "slow")
    assert "TRAIN.DATASET ptvkinetics (= kinetics), " in caplog.text
    assert cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS is True
    assert lr_at_epoch(cfg, 0.0) == pytest.approx(0.01, abs=1e-12)  # NUM_SHARDS 1: as written
    assert lr_at_epoch(cfg, 98.0) == pytest.approx(0.05, abs=1e-12)  # half-way down the cosine from 0.1
    # PySlowFast's assert_and_infer_cfg: BASE_LR, WARMUP_START_LR and COSINE_END_LR x NUM_SHARDS.
    cfg = load_config(PTV_SLOW, ["NUM_SHARDS", "4", "SOLVER.COSINE_END_LR", "0.001"])
    assert lr_at_epoch(cfg, 0.0) == pytest.approx(0.04, abs=1e-12)
    assert lr_at_epoch(cfg, 98.0) == pytest.approx((0.4 + 0.004) / 2, abs=1e-12)
    assert lr_at_epoch(cfg, 196.0) == pytest.approx(0.004, abs=1e-12)
    assert describe_lr(cfg) == ("effective base LR 0.4 = SOLVER.BASE_LR 0.1 x NUM_SHARDS 4 "
                                "(SOLVER.BASE_LR_SCALE_NUM_SHARDS)")


@pytest.mark.parametrize("name, line", [
    ("Kinetics_ptv_CSN_32x2_R101.yaml", "MODEL.ARCH csn: CSN (channel-separated networks) is not built by video3d"),
    ("Kinetics_ptv_R2PLUS1D_16x4_R50.yaml", "MODEL.ARCH r2plus1d: R(2+1)D is not built by video3d"),
    ("Kinetics_REV_MVIT_B_16x4_CONV.yaml", "MODEL.MODEL_NAME MViT: MViT (and Rev-MViT) is not built by video3d"),
])
def test_networks_not_built_get_one_line_naming_the_architecture(name, line, capsys):
    path = str(DATA / name)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message == f"{path}: {line}; video3d builds resnet3d, slow, c2d, i3d"
    assert model_info.main(["--cfg", path]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]


def test_head_act_sigmoid_says_only_softmax_is_supported():
    with pytest.raises(ConfigError) as err:
        load_config(PTV_SLOW, ["MODEL.HEAD_ACT", "sigmoid"])
    assert "MODEL.HEAD_ACT = 'sigmoid' (only softmax is supported" in str(err.value)
    assert "did you mean" not in str(err.value)


def test_model_name_slowfast_with_a_single_pathway_arch_says_which_model_is_built(caplog):
    with caplog.at_level(logging.WARNING, logger="video3d"):
        cfg = load_config(PTV_SLOW, ["MODEL.MODEL_NAME", "SlowFast"])
    assert cfg.MODEL.ARCH == "slow"
    assert ("MODEL.MODEL_NAME SlowFast with MODEL.ARCH slow: video3d builds the single-pathway slow network "
            "(MODEL.ARCH decides; MODEL.MODEL_NAME only names the run)") in caplog.text


def test_the_test_log_names_the_list_file_and_pyslowfasts_choice():
    from video3d.evaluation.evaluator import split_list_note

    cfg = load_config(PTV_SLOW, ["DATA.PATH_TO_DATA_DIR", "lists"])
    assert cfg.TEST.SPLIT == "val"  # video3d's default: val.csv is also the validation list
    assert split_list_note(cfg) == " (lists/val.csv; PySlowFast tests test.csv: TEST.SPLIT test)"
    cfg.TEST.SPLIT = "test"
    assert split_list_note(cfg) == " (lists/test.csv)"
