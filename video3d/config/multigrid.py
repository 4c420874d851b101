"""The multigrid schedule (Wu, Girshick, He, Feichtenhofer, Kraehenbuehl, "A Multigrid Method
for Efficiently Training Video Models", CVPR 2020) from PySlowFast's MULTIGRID keys, as pure
functions; see docs/MULTIGRID.md.

Long cycle: each LR step of SOLVER.STEPS is split into phases, one per entry (t, s) of
MULTIGRID.LONG_CYCLE_FACTORS, training clips of round(t x DATA.NUM_FRAMES) frames (at a
sampling rate that keeps the clip's time span) and round(s x crop) pixels, with the batch
grown by b = round(T S^2 / (t T (s S)^2)) so a step costs about the same; a phase's share of
the step's epochs is proportional to its (mean) batch factor, the LR is multiplied by b
(linear scaling), and the total is rescaled so the run lasts MULTIGRID.EPOCH_FACTOR x
SOLVER.MAX_EPOCH epochs; the epochs after the last step train at the full shape and get the
same saving in iterations. Short cycle: consecutive mini-batches cycle through crops of
SHORT_CYCLE_FACTORS x DEFAULT_S (batch grown by the pixel ratio) and the long-cycle crop.

`MultigridSchedule` is the plan of one run, built once from the loaded config; the trainer
hands it to the LR schedule (video3d.engine.optim), the batch sampler (video3d.data.samplers)
and precise BN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from fvcore.common.config import CfgNode

from video3d.errors import ConfigError


@dataclass(frozen=True)
class ClipShape:
    """What a training clip looks like: frames, stride between them, crop, short-side range."""

    num_frames: int
    sampling_rate: int
    crop: int
    jitter_low: int
    jitter_high: int

    def key(self) -> tuple[int, int, int, int, int]:
        return (self.num_frames, self.sampling_rate, self.crop, self.jitter_low, self.jitter_high)


@dataclass(frozen=True)
class LongCyclePhase:
    """Epochs [previous end, end_epoch) of LR step `step_index` train at (batch_factor, frames, crop)."""

    step_index: int
    batch_factor: int
    num_frames: int
    crop: int
    end_epoch: int


def enabled(cfg: CfgNode) -> bool:
    return bool(cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE)


def default_crop(cfg: CfgNode) -> int:
    """MULTIGRID.DEFAULT_S, the full training crop the factors refer to (0 = DATA.TRAIN_CROP_SIZE)."""
    return int(cfg.MULTIGRID.DEFAULT_S) or int(cfg.DATA.TRAIN_CROP_SIZE)


def _batch_factor(full_size: float, frames: float, crop: float) -> int:
    return int(round(full_size / (frames * crop * crop)))


def batch_growth(cost_ratio: float, exponent: float = 1.0) -> int:
    """How many times larger a batch of clips `cost_ratio` times cheaper is:
    round(cost_ratio ** exponent), at least 1 (MULTIGRID.BATCH_EXPONENT; 1 is PySlowFast's
    equal cost per iteration, 0 keeps the batch)."""
    return max(1, int(round(cost_ratio ** exponent)))


def long_cycle_schedule(steps: list[float], max_epoch: float, num_frames: int, crop: int,
                        long_factors: list[list[float]], short_cycle: bool, short_factors: list[float],
                        default_s: int, epoch_factor: float, batch_exponent: float = 1.0) -> list[LongCyclePhase]:
    """The long-cycle phases in order (PySlowFast's arithmetic, see the module docstring). The
    epochs of each phase follow the shapes' cost ratios whatever `batch_exponent`: it only sets
    how much of that ratio the batch grows by (batch_growth)."""
    full_size = float(num_frames * crop * crop)
    mean_batch, base_shapes = [], []
    for t_factor, s_factor in long_factors:
        base_t, base_s = int(round(num_frames * t_factor)), int(round(crop * s_factor))
        shapes = [(base_t, default_s * f) for f in short_factors] if short_cycle else []
        shapes.append((base_t, base_s))
        batches = [_batch_factor(full_size, t, s) for t, s in shapes]
        mean_batch.append(sum(batches) / len(batches))
        base_shapes.append((batch_growth(full_size / (base_t * base_s * base_s), batch_exponent), base_t, base_s))
    raw: list[tuple[int, tuple[int, int, int], float]] = []
    iterations = 0.0
    for step_index in range(len(steps) - 1):
        step_epochs = steps[step_index + 1] - steps[step_index]
        for cycle, shape in enumerate(base_shapes):
            epochs = step_epochs * mean_batch[cycle] / sum(mean_batch)
            iterations += epochs / mean_batch[cycle]
            raw.append((step_index, shape, epochs))
    saving = steps[-1] / iterations  # iterations of the full-shape run per multigrid iteration
    raw.append((len(steps) - 1, base_shapes[-1], (max_epoch - steps[-1]) / saving * mean_batch[-1]))
    scale = max_epoch * epoch_factor / sum(epochs for _, _, epochs in raw)
    phases, total = [], 0.0
    for step_index, (batch, frames, size), epochs in raw:
        total += epochs * scale
        phases.append(LongCyclePhase(step_index, batch, frames, size, int(round(total))))
    return phases


def phase_at(phases: list[LongCyclePhase], epoch: int) -> LongCyclePhase:
    """The phase training epoch `epoch` (0-based) belongs to."""
    for phase in phases:
        if epoch < phase.end_epoch:
            return phase
    return phases[-1]


def lr_multiplier(batch_factor: int, exponent: float = 1.0) -> float:
    """LR factor of a phase whose batch is `batch_factor` times larger: batch_factor ** exponent
    (MULTIGRID.LR_BATCH_EXPONENT; 1 is PySlowFast's linear scaling rule, 0.5 the square-root
    rule, 0 keeps the LR)."""
    return float(batch_factor) ** exponent


def rescaled_solver(phases: list[LongCyclePhase], lrs: list[float],
                    exponent: float = 1.0) -> tuple[list[int], list[float], int]:
    """(SOLVER.STEPS, SOLVER.LRS, SOLVER.MAX_EPOCH) of the long cycle: one LR step per phase at
    LRS[step] x lr_multiplier(batch factor, exponent); the last (full-shape) phase keeps the
    previous LR for its first half, as PySlowFast does."""
    steps = [0] + [phase.end_epoch for phase in phases]
    steps[-1] = (steps[-2] + steps[-1]) // 2
    rates = [lrs[phase.step_index] * lr_multiplier(phase.batch_factor, exponent) for phase in phases]
    rates = rates[:-1] + [rates[-2], rates[-1]]
    return steps, rates, phases[-1].end_epoch


def full_shape(cfg: CfgNode) -> ClipShape:
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    return ClipShape(cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_CROP_SIZE, low, high)


def clip_shape(cfg: CfgNode, num_frames: int, crop: int) -> ClipShape:
    """A clip of `num_frames` frames spanning the full clip's time, `crop` pixels, the short
    side range scaled with the crop (PySlowFast: a smaller scale is a wider sampling grid)."""
    rate = cfg.DATA.SAMPLING_RATE * max(cfg.DATA.NUM_FRAMES // num_frames, 1)
    base = default_crop(cfg)
    low, high = (int(round(v * crop / base)) for v in cfg.DATA.TRAIN_JITTER_SCALES)
    return ClipShape(num_frames, rate, crop, max(low, crop), max(high, crop))


def short_cycle_shapes(cfg: CfgNode, batch: int, num_frames: int, crop: int) -> list[tuple[int, ClipShape]]:
    """(per-process batch, shape) of the mini-batches a short cycle visits in turn, ending with
    the long-cycle (or full) shape itself; one entry without SHORT_CYCLE."""
    entries = []
    if cfg.MULTIGRID.SHORT_CYCLE:
        base = default_crop(cfg)
        for factor in cfg.MULTIGRID.SHORT_CYCLE_FACTORS:
            grow = batch_growth((crop / (factor * base)) ** 2, cfg.MULTIGRID.BATCH_EXPONENT)
            entries.append((batch * grow, clip_shape(cfg, num_frames, int(round(factor * base)))))
    entries.append((batch, clip_shape(cfg, num_frames, crop)))
    return entries


def cycle_batches(num_samples: int, pattern: list[int], skip_batches: int = 0) -> list[tuple[int, int, int]]:
    """(first sample, size, position in the pattern) of each full batch of an epoch of
    `num_samples` samples whose batch sizes cycle through `pattern`; the first `skip_batches`
    left out. A last incomplete batch is dropped."""
    batches, start, counter = [], 0, 0
    while start + pattern[counter % len(pattern)] <= num_samples:
        size = pattern[counter % len(pattern)]
        if counter >= skip_batches:
            batches.append((start, size, counter % len(pattern)))
        start, counter = start + size, counter + 1
    return batches


def model_strides(cfg: CfgNode) -> tuple[int, int]:
    """(temporal, spatial) total stride of the network named by the RESNET keys."""
    spatial = 2 * (2 if cfg.RESNET.STEM_POOL else 1) * math.prod(cfg.RESNET.SPATIAL_STRIDES)
    return math.prod(cfg.RESNET.TEMPORAL_STRIDES), spatial


def _phases_from_cfg(cfg: CfgNode) -> list[LongCyclePhase]:
    mg = cfg.MULTIGRID
    return long_cycle_schedule(list(cfg.SOLVER.STEPS), cfg.SOLVER.MAX_EPOCH, cfg.DATA.NUM_FRAMES,
                               cfg.DATA.TRAIN_CROP_SIZE, [list(f) for f in mg.LONG_CYCLE_FACTORS],
                               bool(mg.SHORT_CYCLE), list(mg.SHORT_CYCLE_FACTORS), default_crop(cfg),
                               mg.EPOCH_FACTOR, mg.BATCH_EXPONENT)


@dataclass(frozen=True, eq=False)
class MultigridSchedule:
    """The training plan of one run, built once from the loaded config (`from_cfg`) and handed
    to the LR schedule, the batch sampler and precise BN; the config is never rewritten.

    `steps`, `lrs` and `max_epoch` are the solver the loop runs: SOLVER's own keys without
    multigrid; the long cycle's rescaled steps (one per phase, LR x the phase's batch factor)
    and epoch count under it; STEPS and MAX_EPOCH x EPOCH_FACTOR under the short cycle alone.
    `cycles` is False without multigrid (and for `without_cycles`): one full-shape phase."""

    cfg: CfgNode
    cycles: bool
    phases: tuple[LongCyclePhase, ...]
    steps: tuple[float, ...]
    lrs: tuple[float, ...]
    max_epoch: int

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> MultigridSchedule:
        solver, mg = cfg.SOLVER, cfg.MULTIGRID
        steps, lrs, max_epoch = list(solver.STEPS), list(solver.LRS), int(solver.MAX_EPOCH)
        full = [LongCyclePhase(max(len(steps) - 1, 0), 1, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, max_epoch)]
        if not enabled(cfg):
            return cls(cfg, False, tuple(full), tuple(steps), tuple(lrs), max_epoch)
        if mg.SCHEDULE:  # a config saved by an older video3d, whose trainer wrote the phases and the solver
            phases = [LongCyclePhase(*(int(v) for v in row)) for row in mg.SCHEDULE]
        elif mg.LONG_CYCLE:
            phases = _phases_from_cfg(cfg)
            if solver.LR_POLICY == "cosine":  # the steps only mark the long cycles; see lr_factor
                max_epoch = phases[-1].end_epoch
            else:
                steps, lrs, max_epoch = rescaled_solver(phases, lrs, mg.LR_BATCH_EXPONENT)
        else:
            steps = [int(s * mg.EPOCH_FACTOR) for s in steps]
            max_epoch = int(max_epoch * mg.EPOCH_FACTOR)
            phases = [LongCyclePhase(len(solver.STEPS) - 1, 1, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE,
                                     max_epoch)]
        return cls(cfg, True, tuple(phases), tuple(steps), tuple(lrs), max_epoch)

    def without_cycles(self) -> MultigridSchedule:
        """The same run at the full shape only: what precise BN's loader samples."""
        return replace(self, cycles=False)

    def phase_at(self, epoch: int) -> LongCyclePhase:
        return phase_at(list(self.phases), epoch)

    def lr_factor(self, epoch: float) -> float:
        """Factor on the LR at fractional `epoch`: the phase's lr_multiplier under the long cycle
        with SOLVER.LR_POLICY cosine (a video3d extension: the cosine runs over the whole run,
        SOLVER.STEPS only mark the long cycles), else 1 (the step policy's LRS carry it)."""
        if not (self.cycles and self.cfg.MULTIGRID.LONG_CYCLE and self.cfg.SOLVER.LR_POLICY == "cosine"):
            return 1.0
        return lr_multiplier(self.phase_at(int(math.floor(epoch))).batch_factor, self.cfg.MULTIGRID.LR_BATCH_EXPONENT)

    def epoch_batches(self, epoch: int, per_process_batch: int) -> list[tuple[int, ClipShape]]:
        """The short-cycle pattern of training epoch `epoch`: (per-process batch, shape) of the
        mini-batches it visits in turn; the long-cycle phase (if any) fixes frames, crop and
        the batch factor."""
        phase = self.phase_at(epoch)
        return short_cycle_shapes(self.cfg, per_process_batch * phase.batch_factor, phase.num_frames, phase.crop)

    def shape_changes_after(self, epoch: int) -> bool:
        """Whether the long-cycle shape changes after training epoch `epoch` (0-based)."""
        if not (self.cycles and self.cfg.MULTIGRID.LONG_CYCLE):
            return False
        return self.phase_at(epoch) != self.phase_at(epoch + 1)

    def describe(self) -> str:
        """One log line: the phases as 'epochs a-b: B x batch, T x S (LR step k)'."""
        start, parts = 0, []
        step = "long cycle" if self.cfg.SOLVER.LR_POLICY == "cosine" else "LR step"
        for phase in self.phases:
            if phase.end_epoch > start:
                parts.append(f"epochs {start + 1}-{phase.end_epoch}: {phase.batch_factor}x batch, "
                             f"{phase.num_frames}x{phase.crop} ({step} {phase.step_index})")
            start = phase.end_epoch
        cycle = " with short cycles" if self.cfg.MULTIGRID.SHORT_CYCLE else ""
        return f"multigrid{cycle}: " + "; ".join(parts)


def check_multigrid(cfg: CfgNode) -> None:
    """ConfigError (one line, naming the key) for factors that make no schedule or a clip
    the model cannot take."""
    if not enabled(cfg):
        return
    mg = cfg.MULTIGRID
    if mg.EPOCH_FACTOR <= 0:
        raise ConfigError(f"config key MULTIGRID.EPOCH_FACTOR must be positive, got {mg.EPOCH_FACTOR}")
    if mg.BN_BASE_SIZE < 0:
        raise ConfigError(f"config key MULTIGRID.BN_BASE_SIZE must be >= 0 (0 = whole batch), got {mg.BN_BASE_SIZE}")
    if not 0 <= mg.BATCH_EXPONENT <= 1:
        raise ConfigError(f"config key MULTIGRID.BATCH_EXPONENT must be in [0, 1] (1 = PySlowFast's batch growth, "
                          f"0 = a fixed batch), got {mg.BATCH_EXPONENT}")
    if mg.LR_BATCH_EXPONENT < 0:
        raise ConfigError(f"config key MULTIGRID.LR_BATCH_EXPONENT must be >= 0 (1 = linear scaling), "
                          f"got {mg.LR_BATCH_EXPONENT}")
    if mg.DEFAULT_S < 0:
        raise ConfigError(f"config key MULTIGRID.DEFAULT_S must be >= 0 (0 = DATA.TRAIN_CROP_SIZE), got {mg.DEFAULT_S}")
    _, spatial = model_strides(cfg)
    crops: list[tuple[str, int]] = [("MULTIGRID.DEFAULT_S", default_crop(cfg))]
    if mg.SHORT_CYCLE:
        factors = list(mg.SHORT_CYCLE_FACTORS)
        if len(factors) != 2 or not all(0 < f < 1 for f in factors) or factors[0] >= factors[1]:
            raise ConfigError(f"config key MULTIGRID.SHORT_CYCLE_FACTORS must be two increasing factors in (0, 1), "
                              f"got {factors}")
        crops += [("MULTIGRID.SHORT_CYCLE_FACTORS", int(round(f * default_crop(cfg)))) for f in factors]
    if mg.LONG_CYCLE and not mg.SCHEDULE:
        if cfg.SOLVER.LR_POLICY not in ("steps_with_relative_lrs", "cosine"):
            raise ConfigError("MULTIGRID.LONG_CYCLE rescales the LR per phase of SOLVER.STEPS: set SOLVER.LR_POLICY "
                              f"steps_with_relative_lrs (PySlowFast's rule) or cosine, got {cfg.SOLVER.LR_POLICY}")
        if len(cfg.SOLVER.STEPS) < 2 or cfg.SOLVER.STEPS[-1] >= cfg.SOLVER.MAX_EPOCH:
            raise ConfigError(f"MULTIGRID.LONG_CYCLE needs SOLVER.STEPS with at least two steps, the last before "
                              f"SOLVER.MAX_EPOCH {cfg.SOLVER.MAX_EPOCH}; got {list(cfg.SOLVER.STEPS)}")
        factors = [list(f) for f in mg.LONG_CYCLE_FACTORS]
        if not factors or any(len(f) != 2 or not 0 < f[0] <= 1 or not 0 < f[1] <= 1 for f in factors):
            raise ConfigError(f"config key MULTIGRID.LONG_CYCLE_FACTORS must be [frames, crop] factor pairs in "
                              f"(0, 1], got {factors}")
        if factors[-1] != [1, 1]:
            raise ConfigError(f"config key MULTIGRID.LONG_CYCLE_FACTORS must end with [1, 1] (the full shape, "
                              f"which the last phase trains and the test uses), got {factors}")
        costs = [t * s * s for t, s in factors]
        if costs != sorted(costs):
            raise ConfigError(f"config key MULTIGRID.LONG_CYCLE_FACTORS must go from the cheapest shape to the full "
                              f"one (t x s^2 non-decreasing), got {factors}")
        for t, s in factors:
            if int(round(cfg.DATA.NUM_FRAMES * t)) < 1:
                raise ConfigError(f"config key MULTIGRID.LONG_CYCLE_FACTORS: frames factor {t} x DATA.NUM_FRAMES "
                                  f"{cfg.DATA.NUM_FRAMES} rounds to 0 frames")
            crops.append(("MULTIGRID.LONG_CYCLE_FACTORS", int(round(cfg.DATA.TRAIN_CROP_SIZE * s))))
        phases = _phases_from_cfg(cfg)
        if cfg.SOLVER.LR_POLICY != "cosine" and len(cfg.SOLVER.LRS) < len(cfg.SOLVER.STEPS):
            raise ConfigError(f"SOLVER.LRS needs a factor for each of the {len(cfg.SOLVER.STEPS)} SOLVER.STEPS")
        if phases[-1].end_epoch < 1:
            raise ConfigError(f"config key MULTIGRID.EPOCH_FACTOR {mg.EPOCH_FACTOR} leaves no training epoch")
    for key, crop in crops:
        if crop < spatial:
            raise ConfigError(f"config key {key} gives a {crop}-pixel training crop; the model "
                              f"(RESNET.SPATIAL_STRIDES, stem) has spatial stride {spatial} and needs at least that")
