"""An optimizer state saved by another run (a PySlowFast `.pyth`, a video3d checkpoint given as
TRAIN.CHECKPOINT_FILE_PATH) onto this run's optimizer, by parameter name.

A saved state numbers its tensors by position in the saving run's parameter groups. Both
PySlowFast and video3d group by the same rule (video3d.engine.optim.param_group_names) in the
module order of their state dicts, so the file's weights, in its own order, name each saved
position; the momentum buffers are then placed on this run's positions by name. When the
groups differ (another ZERO_WD_1D_PARAM, a new head, another optimizer) the state does not fit
and the caller restarts the optimizer with one line saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from fvcore.common.config import CfgNode

from video3d.engine.optim import config_param_group_names

# A group option each optimizer always saves: a saved group without it came from another optimizer.
_OPTIMIZER_MARKS = ("momentum", "betas")


def remap_optimizer_state(saved: Mapping, source_order: Sequence[str], groups: list[tuple[float, list[str]]],
                          params: Mapping[str, torch.Tensor], defaults: Mapping) -> dict | str:
    """`saved` (an optimizer state_dict) renumbered for this run's `groups` ((weight decay,
    parameter names) per group, in this run's order), or a phrase saying why it does not fit.

    `source_order`: the saving run's parameter names (video3d names) in its state-dict order;
    `params`: this run's parameters by name; `defaults`: this optimizer's `defaults`.
    """
    saved_groups = saved.get("param_groups") if isinstance(saved, Mapping) else None
    if not saved_groups:
        return "no optimizer state in the file"
    if len(saved_groups) != len(groups):
        return f"{len(saved_groups)} parameter groups in the file, {len(groups)} in this run"
    for mark in _OPTIMIZER_MARKS:
        if mark in defaults and any(mark not in group for group in saved_groups):
            return f"saved by another optimizer (no {mark!r}; SOLVER.OPTIMIZING_METHOD)"
    group_of = {name: index for index, (_, names) in enumerate(groups) for name in names}
    position = {name: i for i, name in enumerate(name for _, names in groups for name in names)}
    saved_state = saved.get("state", {})
    state: dict[int, dict] = {}
    new_groups = []
    for index, (saved_group, (_, names)) in enumerate(zip(saved_groups, groups, strict=True)):
        ordered = [name for name in source_order if group_of.get(name) == index]
        ids = list(saved_group.get("params", []))
        if not (len(ids) == len(ordered) == len(names)):
            return f"group {index} holds {len(ids)} tensors in the file, {len(names)} in this run"
        for saved_id, name in zip(ids, ordered, strict=True):
            entry = saved_state.get(saved_id)
            if entry is None:
                continue
            for key, value in entry.items():
                if isinstance(value, torch.Tensor) and value.ndim and value.shape != params[name].shape:
                    return f"{name}: saved {key} of shape {list(value.shape)}, the parameter is {list(params[name].shape)}"
            state[position[name]] = dict(entry)
        new_groups.append({**saved_group, "params": [position[name] for name in names]})
    return {"state": state, "param_groups": new_groups}


def legacy_group_names(model: torch.nn.Module, zero_wd_1d: bool) -> list[list[str]]:
    """video3d's parameter groups in checkpoints written before it took PySlowFast's rule
    (2026-12-05): parameters of more than one dimension, then (with SOLVER.ZERO_WD_1D_PARAM) the
    1-D ones, each in `model.parameters()` order."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not zero_wd_1d:
        return [[name for name, _ in named]]
    return [[name for name, p in named if p.ndim > 1], [name for name, p in named if p.ndim <= 1]]


def regroup_optimizer_state(saved: Mapping, saved_names: list[list[str]], optimizer: torch.optim.Optimizer,
                            groups: list[tuple[float, list[str]]], params: Mapping[str, torch.Tensor]) -> dict | str:
    """`saved`, whose groups hold the parameters `saved_names`, regrouped into this run's
    `groups` (by name; this run's group options), or a phrase saying why it does not fit."""
    saved_groups = saved.get("param_groups") if isinstance(saved, Mapping) else None
    if not saved_groups or [len(g.get("params", [])) for g in saved_groups] != [len(n) for n in saved_names]:
        return "its parameter groups are not video3d's earlier layout either"
    saved_state = saved.get("state", {})
    entry_of = {name: saved_state.get(i) for group, names in zip(saved_groups, saved_names, strict=True)
                for i, name in zip(group["params"], names, strict=True)}
    if set(entry_of) != {name for _, names in groups for name in names}:
        return "the saved parameters are not this model's"
    state: dict[int, dict] = {}
    position = 0
    for _, names in groups:
        for name in names:
            entry = entry_of[name]
            if entry is not None:
                for key, value in entry.items():
                    if isinstance(value, torch.Tensor) and value.ndim and value.shape != params[name].shape:
                        return f"{name}: saved {key} of shape {list(value.shape)}, the parameter is {list(params[name].shape)}"
                state[position] = dict(entry)
            position += 1
    current = optimizer.state_dict()["param_groups"]
    return {"state": state, "param_groups": [dict(group) for group in current]}


def load_resume_optimizer_state(optimizer: torch.optim.Optimizer, model: torch.nn.Module, cfg: CfgNode,
                                saved: Mapping) -> None:
    """Auto-resume: `optimizer.load_state_dict(saved)`; a checkpoint of video3d's earlier group
    layout (`legacy_group_names`) is regrouped by name, so a run started before the change
    continues exactly. Raises the load's ValueError when neither fits."""
    try:
        optimizer.load_state_dict(saved)
        return
    except ValueError as err:
        first = err
    named = dict(model.named_parameters())
    regrouped = regroup_optimizer_state(saved, legacy_group_names(model, cfg.SOLVER.ZERO_WD_1D_PARAM), optimizer,
                                        config_param_group_names(model, cfg), named)
    if isinstance(regrouped, str):
        raise first
    optimizer.load_state_dict(regrouped)
