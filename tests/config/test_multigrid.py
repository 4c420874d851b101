"""The multigrid schedule (PySlowFast's arithmetic) and its config checks."""

from __future__ import annotations

import math
import os

import pytest

from video3d.config import load_config
from video3d.config import multigrid as mg
from video3d.engine.optim import lr_at_epoch
from video3d.errors import ConfigError

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "configs", "demo", "synthmotion_iresnet3d_ffc.yaml")
LONG = ["MULTIGRID.LONG_CYCLE", "True"]
SHORT = ["MULTIGRID.SHORT_CYCLE", "True"]


def test_long_cycle_schedule_of_the_kinetics_recipe():
    # 16x224, steps [0, 30, 60, 80] of 90 epochs, both cycles, EPOCH_FACTOR 1.5: 135 epochs in all.
    phases = mg.long_cycle_schedule([0, 30, 60, 80], 90, 16, 224, [[0.25, 0.7071], [0.5, 0.7071], [0.5, 1], [1, 1]],
                                    True, [0.5, 0.7071], 224, 1.5)
    assert [(p.batch_factor, p.num_frames, p.crop) for p in phases[:4]] == [(8, 4, 158), (4, 8, 158), (2, 8, 224),
                                                                             (1, 16, 224)]
    assert [p.end_epoch for p in phases] == [22, 34, 43, 48, 71, 82, 91, 96, 111, 119, 125, 128, 135]
    assert [p.step_index for p in phases] == [0] * 4 + [1] * 4 + [2] * 4 + [3]
    steps, lrs, max_epoch = mg.rescaled_solver(phases, [1.0, 0.1, 0.01, 0.001])
    assert max_epoch == 135
    assert steps == [0, 22, 34, 43, 48, 71, 82, 91, 96, 111, 119, 125, 128, 131]
    assert lrs == pytest.approx([8, 4, 2, 1, 0.8, 0.4, 0.2, 0.1, 0.08, 0.04, 0.02, 0.01, 0.01, 0.001])


def test_batch_exponent_keeps_the_epochs_and_grows_the_batch_less():
    args = ([0, 30, 60, 80], 90, 16, 224, [[0.25, 0.7071], [0.5, 0.7071], [0.5, 1], [1, 1]], True, [0.5, 0.7071], 224, 1.5)
    pyslowfast = mg.long_cycle_schedule(*args)
    for exponent, batches in ((0.5, [3, 2, 1, 1]), (0.0, [1, 1, 1, 1])):
        phases = mg.long_cycle_schedule(*args, batch_exponent=exponent)
        assert [p.end_epoch for p in phases] == [p.end_epoch for p in pyslowfast]  # same time per shape
        assert [p.batch_factor for p in phases[:4]] == batches
    assert [mg.batch_growth(8.0, e) for e in (1.0, 0.5, 0.0)] == [8, 3, 1]
    cfg = load_config(DEMO, [*SHORT, "MULTIGRID.BATCH_EXPONENT", "0"])
    assert [(b, s.crop) for b, s in mg.short_cycle_shapes(cfg, 8, 8, 56)] == [(8, 28), (8, 40), (8, 56)]


def test_lr_batch_exponent_softens_the_linear_rule():
    phases = [mg.LongCyclePhase(0, 4, 2, 28, 3), mg.LongCyclePhase(0, 1, 8, 56, 5), mg.LongCyclePhase(1, 1, 8, 56, 8)]
    assert mg.rescaled_solver(phases, [1.0, 0.1])[1] == pytest.approx([4, 1, 1, 0.1])  # PySlowFast: x batch factor
    assert mg.rescaled_solver(phases, [1.0, 0.1], 0.5)[1] == pytest.approx([2, 1, 1, 0.1])
    assert mg.rescaled_solver(phases, [1.0, 0.1], 0.0)[1] == pytest.approx([1, 1, 1, 0.1])
    cfg = load_config(None, [*LONG, "SOLVER.MAX_EPOCH", "20", "SOLVER.STEPS", "[0, 10, 16]", "SOLVER.LRS",
                             "[1, 0.1, 0.01]", "MULTIGRID.LR_BATCH_EXPONENT", "0.5"])
    schedule = mg.MultigridSchedule.from_cfg(cfg)
    assert schedule.lrs[0] == pytest.approx(schedule.phase_at(0).batch_factor ** 0.5)


def test_cosine_under_the_long_cycle_scales_each_phase():
    cfg = load_config(None, [*LONG, "SOLVER.MAX_EPOCH", "20", "SOLVER.STEPS", "[0, 10, 16]", "SOLVER.LR_POLICY",
                             "cosine", "SOLVER.WARMUP_EPOCHS", "0", "SOLVER.BASE_LR", "0.1",
                             "MULTIGRID.LR_BATCH_EXPONENT", "0.5"])
    schedule = mg.MultigridSchedule.from_cfg(cfg)
    assert schedule.max_epoch == schedule.phases[-1].end_epoch == 30 and cfg.SOLVER.MAX_EPOCH == 20
    assert list(schedule.steps) == [0, 10, 16]  # they only mark the long cycles
    for epoch in (0.5, 12.25, 29.5):
        factor = schedule.phase_at(int(epoch)).batch_factor ** 0.5
        assert schedule.lr_factor(epoch) == pytest.approx(factor)
        expected = 0.1 * factor * (math.cos(math.pi * epoch / 30) + 1) / 2
        assert lr_at_epoch(cfg, epoch, schedule) == pytest.approx(expected)
        assert lr_at_epoch(cfg, epoch) == pytest.approx(expected)  # the schedule built from cfg: the same
    assert schedule.phase_at(0).batch_factor > 1 and schedule.phase_at(29).batch_factor == 1
    plain = load_config(None, ["SOLVER.LR_POLICY", "cosine", "SOLVER.MAX_EPOCH", "20"])
    assert mg.MultigridSchedule.from_cfg(plain).lr_factor(3.0) == 1.0


def test_phase_of_an_epoch():
    phases = [mg.LongCyclePhase(0, 4, 2, 28, 3), mg.LongCyclePhase(0, 1, 8, 56, 5)]
    assert [mg.phase_at(phases, e).crop for e in range(6)] == [28, 28, 28, 56, 56, 56]


def test_cycle_batches_are_exact_and_resume_mid_cycle():
    assert mg.cycle_batches(20, [4, 2, 1]) == [(0, 4, 0), (4, 2, 1), (6, 1, 2), (7, 4, 0), (11, 2, 1), (13, 1, 2),
                                              (14, 4, 0), (18, 2, 1)]
    assert mg.cycle_batches(20, [4, 2, 1], skip_batches=4) == mg.cycle_batches(20, [4, 2, 1])[4:]


def test_short_cycle_shapes_scale_batch_crop_jitter_and_keep_the_time_span():
    cfg = load_config(DEMO, SHORT)  # 8 frames at stride 2, crop 56, jitter [64, 80]
    pattern = mg.short_cycle_shapes(cfg, 8, 4, 56)
    assert [(b, s.crop) for b, s in pattern] == [(32, 28), (16, 40), (8, 56)]
    assert pattern[0][1] == mg.ClipShape(4, 4, 28, 32, 40)  # half the frames at twice the stride
    assert pattern[2][1] == mg.ClipShape(4, 4, 56, 64, 80)


def test_the_schedule_holds_the_rescaled_solver_and_leaves_the_config_alone():
    cfg = load_config(None, [*LONG, "SOLVER.MAX_EPOCH", "20", "SOLVER.STEPS", "[0, 10, 16]",
                             "SOLVER.LRS", "[1, 0.1, 0.01]", "DATA.TRAIN_CROP_SIZE", "64", "DATA.TRAIN_JITTER_SCALES",
                             "[64, 80]", "DATA.NUM_FRAMES", "8"])
    before = cfg.dump()
    schedule = mg.MultigridSchedule.from_cfg(cfg)
    assert schedule.max_epoch == 30 and cfg.SOLVER.MAX_EPOCH == 20
    assert schedule.steps[0] == 0 and len(schedule.lrs) == len(schedule.steps)
    assert cfg.dump() == before  # validation and test keep the full shape; nothing is rewritten
    again = mg.MultigridSchedule.from_cfg(cfg)
    assert (again.phases, again.steps, again.lrs) == (schedule.phases, schedule.steps, schedule.lrs)
    full = schedule.without_cycles()
    assert not full.cycles and full.max_epoch == 30 and not full.shape_changes_after(0)
    assert schedule.shape_changes_after(schedule.phases[0].end_epoch - 1)


def test_short_cycle_alone_stretches_the_epochs():
    cfg = load_config(None, [*SHORT, "SOLVER.MAX_EPOCH", "40", "SOLVER.LR_POLICY", "cosine"])
    assert mg.MultigridSchedule.from_cfg(cfg).max_epoch == 60


@pytest.mark.parametrize("opts, key", [
    ([*LONG, "MULTIGRID.LONG_CYCLE_FACTORS", "[[0.5, 1.0], [0.25, 0.5], [1.0, 1.0]]"], "MULTIGRID.LONG_CYCLE_FACTORS"),
    ([*LONG, "MULTIGRID.LONG_CYCLE_FACTORS", "[[0.5, 0.5]]"], "MULTIGRID.LONG_CYCLE_FACTORS"),
    ([*LONG, "MULTIGRID.LONG_CYCLE_FACTORS", "[[0.5], [1.0, 1.0]]"], "MULTIGRID.LONG_CYCLE_FACTORS"),
    ([*LONG, "SOLVER.LR_POLICY", "constant"], "SOLVER.LR_POLICY"),
    ([*LONG, "MULTIGRID.LR_BATCH_EXPONENT", "-1"], "MULTIGRID.LR_BATCH_EXPONENT"),
    ([*SHORT, "MULTIGRID.BATCH_EXPONENT", "1.5"], "MULTIGRID.BATCH_EXPONENT"),
    ([*SHORT, "MULTIGRID.SHORT_CYCLE_FACTORS", "[0.7, 0.5]"], "MULTIGRID.SHORT_CYCLE_FACTORS"),
    ([*SHORT, "MULTIGRID.SHORT_CYCLE_FACTORS", "[0.5, 1.5]"], "MULTIGRID.SHORT_CYCLE_FACTORS"),
    ([*SHORT, "MULTIGRID.EPOCH_FACTOR", "0"], "MULTIGRID.EPOCH_FACTOR"),
    ([*SHORT, "DATA.TRAIN_CROP_SIZE", "48", "DATA.TRAIN_JITTER_SCALES", "[48, 60]"], "MULTIGRID.SHORT_CYCLE_FACTORS"),
    ([*LONG, "DATA.NUM_FRAMES", "2"], "MULTIGRID.LONG_CYCLE_FACTORS"),
])
def test_bad_multigrid_settings_name_the_key_in_one_line(opts, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        load_config(None, opts)
    assert "\n" not in str(info.value)


def test_crop_too_small_for_the_model_names_the_key_and_the_stride():
    # Default ResNet: stride 2 (stem) x 2 (pool) x 8 (stages) = 32; 0.5 x 48 = 24 pixels.
    with pytest.raises(ConfigError, match=r"MULTIGRID.SHORT_CYCLE_FACTORS gives a 24-pixel .* stride 32"):
        load_config(None, [*SHORT, "DATA.TRAIN_CROP_SIZE", "48", "DATA.TRAIN_JITTER_SCALES", "[48, 60]"])


def test_the_demo_model_takes_the_smallest_crop():
    cfg = load_config(DEMO, SHORT)
    assert mg.model_strides(cfg) == (4, 16)
