"""Dropout for the children: torch's nn.Dropout, with masks on a CPU drawn four to a random word.

torch's CPU dropout draws one value from its generator per element (bernoulli_), which made it
cost more than the convolution beside it: 20 ms of a 21 ms forward and backward on a (32, 64, 28,
28) activation, against 0.3 ms for the ReLU (2-core AMD EPYC, one thread). Here each 64-bit word
of the same generator gives four 16-bit lanes, each compared with the rate: the same mask, built
the way torch builds it (a noise tensor of the input's dtype, divided by the keep probability,
times the input), at 8 ms: a third of the cost. bench trainer trains children with each.
"""

from __future__ import annotations

import torch
from torch import nn

LANES = 65536  # values of one 16-bit lane: the rate is applied to within 1 / LANES


class Dropout(nn.Dropout):
    """nn.Dropout (same parameters, same behaviour in eval mode and on a GPU) whose CPU training
    masks come from 16-bit lanes of torch's generator: an element is zeroed with probability
    round(p * 65536) / 65536, exactly p for 0.25 and 0.5, and kept ones are scaled by 1 / (1 - that)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dropped = round(self.p * LANES)  # lanes below this threshold drop their element
        if not self.training or dropped == 0 or dropped >= LANES or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        lanes = random_lanes(x)  # int16, laid out as x is
        noise = (lanes >= dropped - LANES // 2).to(x.dtype).div_(1 - dropped / LANES)  # 0 or 1 / keep
        return x * noise


def random_lanes(x: torch.Tensor) -> torch.Tensor:
    """Uniform int16 values shaped and laid out like `x` (its strides, when it is dense; else
    contiguous), four from each full-range 64-bit word of torch's default generator."""
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-2**63, None)  # all 64 bits random
    flat = words.view(torch.int16)[:n]
    if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        return flat.as_strided(x.shape, x.stride())
    return flat.view(x.shape)
