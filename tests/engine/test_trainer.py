"""The train loop on a toy model and in-memory clips (injected through TrainComponents)."""

import itertools
import json
import os

import pytest
import torch
from engine_toys import ToyNet, toy_cfg, toy_components

from video3d.engine import checkpoint as ckpt
from video3d.engine.events import EventStore
from video3d.engine.hooks import CheckpointHook, Hook, LRScheduleHook, default_hooks
from video3d.engine.optim import lr_at_epoch
from video3d.engine.trainer import Trainer, TrainingDivergedError, seed_everything
from video3d.engine.validation import validate
from video3d.errors import Video3DError
from video3d.models import load_pretrained
from video3d.utils.logging import setup_logging


@pytest.fixture(autouse=True)
def one_thread(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    setup_logging(str(tmp_path), 0)
    yield
    torch.set_num_threads(threads)
    setup_logging(None, 0)


def _train(output_dir, *opts, hooks=None) -> Trainer:
    cfg = toy_cfg(str(output_dir), *opts)
    seed_everything(cfg.RNG_SEED, 0)
    trainer = Trainer(cfg, toy_components(), hooks=None if hooks is None else [*default_hooks(cfg), *hooks])
    trainer.train()
    return trainer


class RecordLR(Hook):
    def __init__(self):
        self.seen = []

    def after_step(self, trainer):
        self.seen.append((trainer.state.epoch, trainer.state.iteration, trainer.optimizer.param_groups[0]["lr"]))


def test_train_and_val_loss_decrease(tmp_path):
    history = _train(tmp_path, "SOLVER.MAX_EPOCH", "4", "SOLVER.LR_POLICY", "steps_with_relative_lrs",
                     "SOLVER.STEPS", "[0]", "SOLVER.LRS", "[1.0]", "SOLVER.BASE_LR", "0.2").history
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]


def test_lr_follows_the_schedule_at_every_iteration(tmp_path):
    recorder = RecordLR()
    trainer = _train(tmp_path, "SOLVER.WARMUP_EPOCHS", "0.5", "SOLVER.WARMUP_START_LR", "0.02", hooks=[recorder])
    assert len(recorder.seen) == 12
    for epoch, iteration, lr in recorder.seen:
        assert lr == pytest.approx(lr_at_epoch(trainer.cfg, epoch + iteration / 6), abs=1e-12)
    assert recorder.seen[0][2] == pytest.approx(0.02)


def test_checkpoints_files_and_contents(tmp_path):
    _train(tmp_path, "TRAIN.CHECKPOINT_ITERS", "4", "MODEL.MODEL_NAME", "toy_bn")
    folder = tmp_path / "checkpoints"
    assert sorted(os.listdir(folder)) == ["checkpoint_best.pyth", "checkpoint_epoch_00001.pyth",
                                          "checkpoint_epoch_00002.pyth", "checkpoint_last.pyth"]
    state = ckpt.load_checkpoint(str(folder / "checkpoint_epoch_00002.pyth"))
    assert {"model_state", "optimizer_state", "scheduler_state", "scaler_state", "epoch", "iteration",
            "rng_state", "cfg", "history"} <= set(state)
    assert (state["epoch"], state["iteration"], state["global_step"]) == (2, 0, 12)
    assert "norm.running_mean" in state["model_state"]
    assert "MAX_EPOCH: 2" in state["cfg"]
    last = ckpt.load_checkpoint(str(folder / "checkpoint_last.pyth"))
    assert (last["epoch"], last["iteration"], last["global_step"]) == (1, 6, 12)  # step 12 = end of epoch 2
    model = ToyNet(4, 0.0, batchnorm=True)
    ckpt.load_model_weights(model, str(folder / "checkpoint_best.pyth"))


def test_logs_plots_and_tensorboard(tmp_path):
    _train(tmp_path, "TENSORBOARD.ENABLE", "True", "LOG_PERIOD", "4")
    epochs = [json.loads(line.split("json_stats: ")[1]) for line in open(tmp_path / "json_stats.log")]
    assert [(s["_type"], s["epoch"]) for s in epochs] == [("train_epoch", "1/2"), ("val_epoch", "1/2"),
                                                          ("train_epoch", "2/2"), ("val_epoch", "2/2")]
    assert epochs[1]["view"] == "val (1 centre view)" and "RAM" in epochs[0]
    log = (tmp_path / "stdout.log").read_text()
    iters = [json.loads(line.split("json_stats: ")[1]) for line in log.splitlines() if '"train_iter"' in line]
    assert [s["iter"] for s in iters] == ["4/6", "6/6"] * 2  # every LOG_PERIOD and at the epoch end
    assert {"loss", "lr", "top1_err", "top5_err", "dt", "dt_data", "dt_net", "eta", "RAM"} <= set(iters[0])
    assert "val (1 centre view), epoch 2" in log
    png = (tmp_path / "plots" / "training_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "runs"))


def test_auto_resume_skips_a_torn_checkpoint_and_continues(tmp_path):
    _train(tmp_path, "SOLVER.MAX_EPOCH", "1", "TRAIN.CHECKPOINT_ITERS", "3")
    newest = tmp_path / "checkpoints" / "checkpoint_epoch_00001.pyth"
    newest.write_bytes(newest.read_bytes()[:300])
    trainer = Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", "2"), toy_components())
    warnings = [line for line in (tmp_path / "stdout.log").read_text().splitlines() if "[WARNING]" in line]
    assert len(warnings) == 1 and "checkpoint_epoch_00001.pyth" in warnings[0]
    assert (trainer.state.start_epoch, trainer.state.start_iter) == (0, 6)  # the rolling one, at the end of epoch 1
    history = trainer.train()
    assert [row["epoch"] for row in history] == [1, 2]
    assert ckpt.load_checkpoint(str(newest))["epoch"] == 1  # rewritten whole


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    constant = ["SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0]", "SOLVER.LRS", "[1.0]",
                "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0"]
    batch_8 = ["TRAIN.BATCH_SIZE", "8", "SOLVER.BASE_BATCH_SIZE", "8"]
    small = _train(tmp_path / "a", *constant, *batch_8, "TRAIN.ACCUM_STEPS", "2")  # 2 x 4 clips
    big = _train(tmp_path / "b", *constant, *batch_8)
    assert small.state.epoch_iters == 6 and big.state.epoch_iters == 3
    assert small.state.global_step == big.state.global_step == 3
    assert "[WARNING]" not in (tmp_path / "stdout.log").read_text()  # the batch adds up
    for mine, theirs in zip(small.model.parameters(), big.model.parameters(), strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_gradient_clipping_reports_the_norm(tmp_path):
    trainer = _train(tmp_path, "TRAIN.CLIP_GRAD_NORM", "0.01", "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0")
    assert trainer.state.events.get("grad_norm") > 0.01  # the norm before clipping


def test_initial_weights_from_checkpoint_file_path(tmp_path):
    source = ToyNet(4, 0.0, batchnorm=False)
    path = str(tmp_path / "init.pyth")
    ckpt.save_checkpoint(path, {"model_state": source.state_dict(), "epoch": 5})
    cfg = toy_cfg(str(tmp_path / "run"), "TRAIN.CHECKPOINT_FILE_PATH", path, "TRAIN.CHECKPOINT_INFLATE", "True",
                  "TRAIN.CHECKPOINT_EPOCH_RESET", "True")
    trainer = Trainer(cfg, toy_components())
    assert torch.equal(trainer.model.fc.weight, source.fc.weight)
    assert trainer.state.start_epoch == 0  # TRAIN.CHECKPOINT_EPOCH_RESET


def test_precise_bn_sets_running_stats_to_the_average_over_training_batches(tmp_path):
    trainer = _train(tmp_path, "MODEL.MODEL_NAME", "toy_bn", "BN.USE_PRECISE_STATS", "True",
                     "BN.NUM_BATCHES_PRECISE", "3", "SOLVER.MAX_EPOCH", "1")
    model = trainer.model
    trainer.components.set_loader_epoch(trainer.train_loader, 0, 0)
    with torch.no_grad():
        means = [model.conv(trainer.normalize(batch["video"])).mean(dim=(0, 2, 3, 4))
                 for batch in itertools.islice(trainer.train_loader, 3)]
    assert torch.allclose(model.norm.running_mean, torch.stack(means).mean(0), atol=1e-6)


def test_a_diverging_loss_stops_with_an_error_naming_the_step(tmp_path):
    with pytest.raises(TrainingDivergedError, match="SOLVER.BASE_LR"):  # a Video3DError: one line in run_net
        _train(tmp_path, "SOLVER.BASE_LR", "1e30", "SOLVER.MAX_EPOCH", "1")


def test_initial_weights_can_keep_their_epoch_and_optimizer_state(tmp_path):
    first = _train(tmp_path / "first", "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0")
    path = str(tmp_path / "first" / "checkpoints" / "checkpoint_epoch_00001.pyth")
    cfg = toy_cfg(str(tmp_path / "second"), "TRAIN.CHECKPOINT_FILE_PATH", path, "TRAIN.CHECKPOINT_EPOCH_RESET", "False")
    second = Trainer(cfg, toy_components())
    assert second.state.start_epoch == 1
    momentum = first.optimizer.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(second.optimizer.state_dict()["state"][0]["momentum_buffer"], momentum)


class _LabelFromInput(torch.nn.Module):
    """Logits that pick class round(x[0, 0, 0, 0]) of each clip."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(x[:, 0, 0, 0, 0].round().long(), 4).float() * 10


def test_validation_leaves_out_videos_the_dataset_replaced():
    def batch(predicted, labels, replaced):
        video = torch.tensor(predicted, dtype=torch.float32)[:, None, None, None, None].expand(-1, 1, 1, 2, 2)
        return {"video": video, "label": torch.tensor(labels), "replaced": torch.tensor(replaced)}

    # The replaced slots carry another video (wrongly predicted here): counting them would
    # give 2 errors out of 6 clips instead of 0 out of 4.
    loader = [batch([0, 1, 3], [0, 1, 2], [False, False, True]),
              batch([2, 0, 3], [2, 1, 3], [False, True, False]),
              batch([1], [0], [True])]
    stats = validate(_LabelFromInput(), loader, torch.device("cpu"))
    assert stats["clips"] == 4 and stats["top1_err"] == 0.0 and "time_diff" not in stats


def test_training_curves_are_redrawn_at_most_every_interval_and_at_the_end(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from video3d.engine.hooks import PlotHook
    from video3d.utils import plots

    drawn = []
    monkeypatch.setattr(plots, "plot_training_curves", lambda history, path: drawn.append(len(history)))
    now = [0.0]
    hook = PlotHook(SimpleNamespace(OUTPUT_DIR=str(tmp_path)), min_interval=30.0, clock=lambda: now[0])
    trainer = SimpleNamespace(state=SimpleNamespace(events=EventStore()))  # the plot hook reads the event store only
    for epoch in range(6):  # epochs of 10 s: drawn after epochs 1 and 4 (30 s later)
        trainer.state.events.start_epoch_record(epoch=epoch)
        now[0] += 10.0
        hook.after_epoch(trainer)
    hook.after_train(trainer)
    assert drawn == [1, 4, 6]
    hook.after_train(trainer)  # nothing new since the last drawing
    assert drawn == [1, 4, 6]


def _toy_with_real_loader(tmp_path, state: dict, *opts: str) -> Trainer:
    path = str(tmp_path / "init.pyth")
    ckpt.save_checkpoint(path, {"model_state": state})
    components = toy_components()
    components.load_pretrained = load_pretrained
    cfg = toy_cfg(str(tmp_path / "run"), "TRAIN.CHECKPOINT_FILE_PATH", path, *opts)
    return Trainer(cfg, components)


def test_initial_weights_that_leave_backbone_tensors_unloaded_are_an_error(tmp_path):
    source = ToyNet(4, 0.0, batchnorm=False)
    foreign = {"backbone.conv.weight": source.conv.weight, "backbone.conv.bias": source.conv.bias,
               "fc.weight": source.fc.weight, "fc.bias": source.fc.bias}
    with pytest.raises(ckpt.CheckpointError) as err:
        _toy_with_real_loader(tmp_path, foreign)
    message = str(err.value)
    assert "leave 2 of 4 backbone tensors unloaded (e.g. conv.weight, conv.bias)" in message
    assert "2 tensors of the file match no model name (e.g. backbone.conv.weight" in message
    assert "TRAIN.CHECKPOINT_ALLOW_PARTIAL True" in message and "\n" not in message


def test_partial_initial_weights_load_when_the_config_allows_it(tmp_path):
    source = ToyNet(4, 0.0, batchnorm=False)
    trainer = _toy_with_real_loader(tmp_path, {"fc.weight": source.fc.weight, "fc.bias": source.fc.bias},
                                    "TRAIN.CHECKPOINT_ALLOW_PARTIAL", "True")
    assert torch.equal(trainer.model.fc.weight, source.fc.weight)
    log = (tmp_path / "stdout.log").read_text()
    assert "[WARNING]" in log and "leave 2 of 4 backbone tensors unloaded" in log


@pytest.mark.parametrize("content, kind", [
    ({"model_state": {}, "optimizer_state": {}, "epoch": 3, "cfg": "NUM_GPUS: 8"}, "a PySlowFast checkpoint"),
    ({"weight": torch.zeros(2)}, "not a video3d training checkpoint"),
])
def test_a_foreign_file_found_by_auto_resume_is_one_line(tmp_path, content, kind):
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    ckpt.save_checkpoint(str(folder / "checkpoint_epoch_00003.pyth"), content)
    with pytest.raises(ckpt.CheckpointError) as err:
        Trainer(toy_cfg(str(tmp_path / "run")), toy_components())
    message = str(err.value)
    assert message.startswith(f"auto-resume found {folder / 'checkpoint_epoch_00003.pyth'}, {kind}")
    assert "TRAIN.AUTO_RESUME False" in message and "\n" not in message


def test_a_resume_checkpoint_of_another_model_is_one_line(tmp_path):
    first = _train(tmp_path / "run", "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0")
    assert first.history
    with pytest.raises(ckpt.CheckpointError, match="does not fit this model and config"):
        Trainer(toy_cfg(str(tmp_path / "run"), "MODEL.NUM_CLASSES", "5"), toy_components())


def test_a_full_disk_at_a_checkpoint_stops_with_one_logged_line_and_resumes_from_the_previous(tmp_path, monkeypatch):
    from test_checkpoint import fill_disk

    cfg = toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", "2", "TRAIN.SAVE_BEST", "False")
    trainer = Trainer(cfg, toy_components())
    original = trainer.checkpoint_state

    def full_after_epoch_one(epoch, iteration):
        if epoch == 2:
            fill_disk(monkeypatch)
        return original(epoch, iteration)

    monkeypatch.setattr(trainer, "checkpoint_state", full_after_epoch_one)
    with pytest.raises(ckpt.CheckpointError, match="no space left on device"):
        trainer.train()
    monkeypatch.undo()
    path = os.path.join(ckpt.checkpoint_dir(cfg), "checkpoint_epoch_00002.pyth")
    errors = [line for line in (tmp_path / "stdout.log").read_text().splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and errors[0].endswith(f"cannot save checkpoint {path}: no space left on device")
    assert ckpt.latest_checkpoint(cfg).endswith("checkpoint_epoch_00001.pyth")
    assert Trainer(cfg, toy_components()).state.start_epoch == 1


class FixedValidation(Hook):
    """Stands in for the validation hook: puts given val_top1_err values into the event store."""

    def __init__(self, errors):
        self.errors = iter(errors)

    def after_epoch(self, trainer):
        error = next(self.errors)
        if error is not None:
            trainer.state.events.put_epoch(val_top1_err=error)


def test_checkpoint_hook_saves_best_only_on_a_strictly_lower_val_error_from_the_event_store(tmp_path):
    cfg = toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", "5", "TRAIN.EVAL_PERIOD", "0")
    saved = []

    class RecordBest(CheckpointHook):
        def _save(self, trainer, path, epoch, iteration):
            if path.endswith(ckpt.BEST_NAME):
                saved.append(epoch)
            super()._save(trainer, path, epoch, iteration)

    hooks = [LRScheduleHook(), FixedValidation([40.0, None, 40.0, 30.0, 35.0]), RecordBest(cfg)]
    trainer = Trainer(cfg, toy_components(), hooks=hooks)
    trainer.train()
    assert saved == [1, 4]  # epoch 2 not validated, epoch 3 only equal, epoch 5 worse
    best = ckpt.load_checkpoint(str(tmp_path / "checkpoints" / ckpt.BEST_NAME))
    assert best["epoch"] == 4 and best["best_top1_err"] == 30.0
    assert ckpt.load_checkpoint(str(tmp_path / "checkpoints" / "checkpoint_epoch_00005.pyth"))["best_top1_err"] == 30.0


def test_event_store_keeps_latest_scalars_and_epoch_records():
    events = EventStore([{"epoch": 1, "val_top1_err": 20.0}])
    assert events.epoch_record == {} and events.get("lr") is None
    events.put(lr=0.1)
    events.put(lr=0.05, grad_norm=2.0)
    record = events.start_epoch_record(epoch=2, lr=events.get("lr"))
    events.put_epoch(val_top1_err=10.0)
    assert record == {"epoch": 2, "lr": 0.05, "val_top1_err": 10.0} and events.history[-1] is record
    assert events.best("val_top1_err") == 10.0 and events.best("val_top1_err", before_current=True) == 20.0
    assert events.best("val_top5_err") is None



def test_validation_counts_each_video_once_when_the_sampler_pads_for_several_processes():
    """15 videos over 2 processes: rank 1's sampler repeats video 0 to give both 8 samples; the
    two ranks' validation counts 15 clips, not 16 (all_reduce_sum adds the ranks' totals)."""
    from torch.utils.data import DataLoader

    from video3d.data import ResumableSampler

    class Videos(torch.utils.data.Dataset):
        def __len__(self):
            return 15

        def __getitem__(self, key):
            index = key[1]
            return {"video": torch.full((1, 1, 2, 2), float(index % 3)), "label": index % 3}

    clips = [validate(_LabelFromInput(), DataLoader(Videos(), batch_size=3, sampler=ResumableSampler(
        15, False, num_replicas=2, rank=rank)), torch.device("cpu"))["clips"] for rank in (0, 1)]
    assert clips == [8, 7]


def test_a_float_training_batch_is_refused_in_one_line(tmp_path):
    trainer = Trainer(toy_cfg(str(tmp_path)), toy_components())
    with pytest.raises(Video3DError, match="training batches must be uint8 clips .* got torch.float32"):
        trainer.run_step({"video": torch.zeros(2, 3, 4, 8, 8), "label": torch.tensor([0, 1])})
