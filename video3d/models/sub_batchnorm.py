"""BatchNorm over a fixed number of clips (multigrid's MULTIGRID.BN_BASE_SIZE).

Multigrid grows the batch by up to 8x (long cycle) and 4x more (short cycle); the paper keeps
the clips per BatchNorm statistic fixed, because BN's regularisation depends on it (Wu et al.
2020, section 3.3). `SubBatchNorm3d` normalises each group of `group_size` clips with that
group's own statistics in training, and updates the running statistics once per batch from
the whole batch, as a plain BatchNorm3d would. Parameters, buffers and state-dict keys are
those of BatchNorm3d, so checkpoints do not change.
"""

from __future__ import annotations

import torch
from torch import nn


class SubBatchNorm3d(nn.BatchNorm3d):
    """BatchNorm3d whose training statistics are per group of `group_size` clips (0 = whole batch)."""

    group_size: int = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        size = self.group_size
        if not self.training or size <= 0 or batch <= size or batch % size:
            return super().forward(x)
        splits = batch // size
        # Sample i of the batch lands in group i % splits: a view, no copy.
        grouped = x.contiguous().view(size, x.shape[1] * splits, *x.shape[2:])
        weight = self.weight.repeat(splits) if self.affine else None
        bias = self.bias.repeat(splits) if self.affine else None
        out, group_mean, group_invstd = torch.native_batch_norm(grouped, weight, bias, None, None, True, 0.0, self.eps)
        if self.track_running_stats:
            self._update_running_stats(group_mean.detach().view(splits, -1), group_invstd.detach().view(splits, -1),
                                       x.numel() // x.shape[1])
        return out.view_as(x)

    @torch.no_grad()
    def _update_running_stats(self, group_mean: torch.Tensor, group_invstd: torch.Tensor, count: int) -> None:
        """Running statistics of the whole batch from the groups' (equal-sized) statistics, so
        the batch is not read again: mean of the means; variance = mean within-group variance
        + variance of the group means, made unbiased over the `count` values per channel.
        Computed in the running statistics' dtype (float32 under bfloat16 autocast too, like
        BatchNorm3d's)."""
        group_mean, group_invstd = group_mean.to(self.running_mean.dtype), group_invstd.to(self.running_mean.dtype)
        mean = group_mean.mean(dim=0)
        within = (group_invstd.pow(-2) - self.eps).mean(dim=0)
        biased = within + (group_mean - mean).pow(2).mean(dim=0)
        momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked + 1)
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(biased * count / max(count - 1, 1), momentum)
        self.num_batches_tracked += 1


def use_sub_batch_norm(model: nn.Module, group_size: int) -> int:
    """Turn every BatchNorm3d of `model` into a SubBatchNorm3d of `group_size` clips, in place
    and keeping the same parameter and buffer tensors (an optimiser built before stays
    valid). Returns how many were converted."""
    converted = 0
    for module in model.modules():
        if type(module) is nn.BatchNorm3d:
            module.__class__ = SubBatchNorm3d
            converted += 1
        if isinstance(module, SubBatchNorm3d):
            module.group_size = int(group_size)
    return converted
