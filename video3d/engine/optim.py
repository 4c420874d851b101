"""Optimiser and learning-rate schedule.

The LR is a pure function of the fractional epoch (epoch + iteration / iterations per
epoch), so a resumed run sets exactly the LR an uninterrupted run would have set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.choices import Choices
from video3d.config.multigrid import MultigridSchedule


def lr_scale(batch_size: int, base_batch_size: int) -> float:
    """Linear scaling rule (Goyal et al. 2017): the LR grows with the global batch."""
    return batch_size / base_batch_size


def steps_with_relative_lrs(epoch: float, steps: Sequence[float], lrs: Sequence[float]) -> float:
    """Factor of the last step that has started (`steps` ascending, `steps[0]` = 0). Factors
    past the last step are unused, as in PySlowFast (its SSv2 recipe lists six for three steps)."""
    factor = lrs[0]
    for start, value in zip(steps, lrs[: len(steps)], strict=True):
        if epoch >= start:
            factor = value
    return factor


def cosine(epoch: float, max_epoch: float, base: float, end: float) -> float:
    """Half a cosine from `base` at epoch 0 to `end` at `max_epoch`."""
    return end + (base - end) * (math.cos(math.pi * epoch / max_epoch) + 1.0) * 0.5


def _steps_policy(epoch: float, *, base_lr: float, steps: Sequence[float], lrs: Sequence[float], **_) -> float:
    return base_lr * steps_with_relative_lrs(epoch, steps, lrs)


def _cosine_policy(epoch: float, *, base_lr: float, max_epoch: float, cosine_end_lr: float, **_) -> float:
    return cosine(epoch, max_epoch, base_lr, cosine_end_lr)


# policy(epoch, *, base_lr, max_epoch, steps, lrs, cosine_end_lr) -> LR before warm-up.
LR_POLICIES = Choices("SOLVER.LR_POLICY", {"steps_with_relative_lrs": _steps_policy, "cosine": _cosine_policy})


def learning_rate(
    epoch: float,
    *,
    policy: str,
    base_lr: float,
    max_epoch: float,
    steps: Sequence[float] = (0,),
    lrs: Sequence[float] = (1.0,),
    cosine_end_lr: float = 0.0,
    warmup_epochs: float = 0.0,
    warmup_start_lr: float = 0.0,
) -> float:
    """LR at fractional `epoch`: the policy, after a linear warm-up from `warmup_start_lr`
    to the policy's value at `warmup_epochs` (PySlowFast's rule)."""

    schedule = LR_POLICIES[policy]

    def policy_lr(at: float) -> float:
        return schedule(at, base_lr=base_lr, max_epoch=max_epoch, steps=steps, lrs=lrs, cosine_end_lr=cosine_end_lr)

    if epoch < warmup_epochs:
        end = policy_lr(warmup_epochs)
        return warmup_start_lr + (end - warmup_start_lr) * epoch / warmup_epochs
    return policy_lr(epoch)


# cfg -> factor on every SOLVER LR: none keeps SOLVER.BASE_LR as the LR used (PySlowFast's
# meaning), linear scales it by TRAIN.BATCH_SIZE / SOLVER.BASE_BATCH_SIZE.
LR_SCALINGS = Choices("SOLVER.LR_SCALING", {
    "none": lambda cfg: 1.0,
    "linear": lambda cfg: lr_scale(cfg.TRAIN.BATCH_SIZE, cfg.SOLVER.BASE_BATCH_SIZE),
})


def config_lr_scale(cfg: CfgNode) -> float:
    """1 (SOLVER.BASE_LR is the LR used, PySlowFast's meaning) unless SOLVER.LR_SCALING is
    linear: then TRAIN.BATCH_SIZE / SOLVER.BASE_BATCH_SIZE; times NUM_SHARDS with
    SOLVER.BASE_LR_SCALE_NUM_SHARDS (PySlowFast scales BASE_LR, WARMUP_START_LR and COSINE_END_LR)."""
    shards = cfg.NUM_SHARDS if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS else 1
    return LR_SCALINGS[cfg.SOLVER.LR_SCALING](cfg) * shards


def describe_lr(cfg: CfgNode) -> str:
    """One phrase saying where the effective base LR comes from, for the start-of-run log."""
    lr = cfg.SOLVER.BASE_LR * config_lr_scale(cfg)
    shards = (f" x NUM_SHARDS {cfg.NUM_SHARDS} (SOLVER.BASE_LR_SCALE_NUM_SHARDS)"
              if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS else "")
    if cfg.SOLVER.LR_SCALING == "linear":
        return (f"effective base LR {lr:.6g} = SOLVER.BASE_LR {cfg.SOLVER.BASE_LR:g} x TRAIN.BATCH_SIZE "
                f"{cfg.TRAIN.BATCH_SIZE} / SOLVER.BASE_BATCH_SIZE {cfg.SOLVER.BASE_BATCH_SIZE} "
                f"(SOLVER.LR_SCALING linear){shards}")
    if shards:
        return f"effective base LR {lr:.6g} = SOLVER.BASE_LR {cfg.SOLVER.BASE_LR:g}{shards}"
    return f"effective base LR {lr:.6g} = SOLVER.BASE_LR (SOLVER.LR_SCALING none)"


def lr_at_epoch(cfg: CfgNode, epoch: float, schedule: MultigridSchedule | None = None) -> float:
    """The run's LR at fractional `epoch`, the one place it is computed: the solver of
    `schedule` (built from `cfg` when not given; multigrid's rescaled steps and epoch count),
    every SOLVER LR times `config_lr_scale` and the schedule's factor at that epoch."""
    schedule = schedule or MultigridSchedule.from_cfg(cfg)
    scale = config_lr_scale(cfg) * schedule.lr_factor(epoch)
    return learning_rate(
        epoch,
        policy=cfg.SOLVER.LR_POLICY,
        base_lr=cfg.SOLVER.BASE_LR * scale,
        max_epoch=schedule.max_epoch,
        steps=list(schedule.steps),
        lrs=list(schedule.lrs),
        cosine_end_lr=cfg.SOLVER.COSINE_END_LR * scale,
        warmup_epochs=cfg.SOLVER.WARMUP_EPOCHS,
        warmup_start_lr=cfg.SOLVER.WARMUP_START_LR * scale,
    )


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's LR."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def param_group_names(model: nn.Module, *, weight_decay: float, zero_wd_1d: bool,
                      bn_weight_decay: float = 0.0) -> list[tuple[float, list[str]]]:
    """`(weight decay, parameter names)` per group, by PySlowFast's `construct_optimizer` rule
    (SOLVER.LAYER_DECAY 1): BatchNorm parameters at `bn_weight_decay` (BN.WEIGHT_DECAY), then
    the other parameters at `weight_decay`, then (when `zero_wd_1d`) the other 1-D parameters
    and biases at 0; module order within a group, empty groups dropped. The same layout as
    PySlowFast's lets its optimizer state load here (video3d.engine.optimizer_state)."""
    bn, decay, zero = [], [], []
    for module_name, module in model.named_modules():
        is_bn = isinstance(module, nn.modules.batchnorm._NormBase)
        for leaf, param in module.named_parameters(recurse=False):
            name = f"{module_name}.{leaf}".strip(".")
            if not param.requires_grad:
                continue
            if is_bn:
                bn.append(name)
            elif zero_wd_1d and (param.ndim == 1 or name.endswith(".bias")):
                zero.append(name)
            else:
                decay.append(name)
    groups = [(bn_weight_decay, bn), (weight_decay, decay), (0.0, zero)]
    return [(wd, names) for wd, names in groups if names]


def config_param_group_names(model: nn.Module, cfg: CfgNode) -> list[tuple[float, list[str]]]:
    """`param_group_names` with the config's SOLVER.WEIGHT_DECAY, ZERO_WD_1D_PARAM and BN.WEIGHT_DECAY."""
    return param_group_names(model, weight_decay=cfg.SOLVER.WEIGHT_DECAY, zero_wd_1d=cfg.SOLVER.ZERO_WD_1D_PARAM,
                             bn_weight_decay=cfg.BN.WEIGHT_DECAY)


def param_groups(model: nn.Module, cfg: CfgNode) -> list[dict]:
    """The optimiser's parameter groups (`config_param_group_names`, as tensors)."""
    params = dict(model.named_parameters())
    return [{"params": [params[name] for name in names], "weight_decay": wd}
            for wd, names in config_param_group_names(model, cfg)]


def _sgd(groups: list[dict], lr: float, cfg: CfgNode) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.SOLVER.MOMENTUM, nesterov=cfg.SOLVER.NESTEROV)


def _adamw(groups: list[dict], lr: float, cfg: CfgNode) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=lr)


# (param groups, initial LR, cfg) -> optimiser.
OPTIMIZERS = Choices("SOLVER.OPTIMIZING_METHOD", {"sgd": _sgd, "adamw": _adamw})


def build_optimizer(model: nn.Module, cfg: CfgNode) -> torch.optim.Optimizer:
    """SGD (momentum, optional Nesterov) or AdamW over `param_groups`; the LR is set per step
    by the schedule."""
    groups = param_groups(model, cfg)
    return OPTIMIZERS[cfg.SOLVER.OPTIMIZING_METHOD](groups, lr_at_epoch(cfg, 0.0), cfg)
