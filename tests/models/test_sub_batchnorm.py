"""SubBatchNorm3d: per-group statistics in training, BatchNorm3d everywhere else."""

from __future__ import annotations

import torch
from torch import nn

from video3d.models.sub_batchnorm import SubBatchNorm3d, use_sub_batch_norm


def _pair(channels: int = 3):
    torch.manual_seed(0)
    plain = nn.BatchNorm3d(channels)
    plain.weight.data.uniform_(0.5, 1.5)
    plain.bias.data.uniform_(-0.5, 0.5)
    grouped = nn.BatchNorm3d(channels)
    grouped.load_state_dict(plain.state_dict())
    return plain, grouped


def test_each_group_is_normalised_with_its_own_statistics():
    plain, grouped = _pair()
    assert use_sub_batch_norm(nn.Sequential(grouped), 2) == 1 and isinstance(grouped, SubBatchNorm3d)
    x = torch.randn(6, 3, 2, 4, 4) * torch.arange(1, 7.0)[:, None, None, None, None]
    out = grouped(x)
    for group in range(3):  # groups are samples i with i % 3 == group
        members = torch.tensor([group, group + 3])
        expected = nn.functional.batch_norm(x[members], None, None, plain.weight, plain.bias, True, 0.0, plain.eps)
        torch.testing.assert_close(out[members], expected)


def test_running_statistics_follow_the_whole_batch_like_batchnorm():
    plain, grouped = _pair()
    use_sub_batch_norm(nn.Sequential(grouped), 2)
    x = torch.randn(8, 3, 2, 4, 4) + 3
    plain(x)
    grouped(x)
    torch.testing.assert_close(grouped.running_mean, plain.running_mean)
    torch.testing.assert_close(grouped.running_var, plain.running_var)
    assert int(grouped.num_batches_tracked) == 1


def test_small_batches_eval_mode_and_state_dict_are_plain_batchnorm():
    plain, grouped = _pair()
    use_sub_batch_norm(nn.Sequential(grouped), 4)
    x = torch.randn(4, 3, 2, 4, 4)
    torch.testing.assert_close(grouped(x), plain(x))
    plain.eval()
    grouped.eval()
    torch.testing.assert_close(grouped(x), plain(x))
    assert list(grouped.state_dict()) == list(plain.state_dict())


def test_gradients_flow_to_the_shared_parameters():
    _, grouped = _pair()
    weight = grouped.weight
    use_sub_batch_norm(nn.Sequential(grouped), 2)
    assert grouped.weight is weight  # an optimiser built before the conversion stays valid
    grouped(torch.randn(4, 3, 1, 2, 2)).square().sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
