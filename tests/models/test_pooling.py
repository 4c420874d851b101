"""The channels-last max-pool equals nn.MaxPool3d exactly, forward and backward."""

import pytest
import torch
from torch import nn

from video3d.models.pooling import ChannelsLastMaxPool3d


@pytest.mark.parametrize(("kernel", "stride", "padding"), [((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                                                           ((3, 3, 3), (2, 2, 2), (1, 1, 1))])
@pytest.mark.parametrize("channels_last", [False, True])
def test_channels_last_max_pool_matches_max_pool3d(kernel, stride, padding, channels_last):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 9, 9)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    fast_in, plain_in = x.clone().requires_grad_(), x.clone().requires_grad_()
    fast = ChannelsLastMaxPool3d(kernel, stride, padding)(fast_in)
    plain = nn.MaxPool3d(kernel, stride, padding)(plain_in)
    assert torch.equal(fast, plain)
    assert fast.is_contiguous(memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format)
    weights = torch.randn_like(plain)
    (fast * weights).sum().backward()
    (plain * weights).sum().backward()
    assert torch.equal(fast_in.grad, plain_in.grad)
