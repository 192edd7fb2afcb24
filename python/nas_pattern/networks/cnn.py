"""CNN: the convolutional child network, one conv block per layer of the Architecture, wired as
the architecture says (a chain, or with skip connections)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nas_pattern.networks.base import DecisionRules, TorchNetwork, positive_int, probability
from nas_pattern.networks.dropout import Dropout
from nas_pattern.search_space import Decision, SearchSpace

# An even kernel_size (a space file may offer one) pads one side more than the other, which PyTorch
# does with a padded copy of the input and a warning in the middle of the search's lines; the child is
# built as chosen, and its time is in its train_seconds.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel lengths", category=UserWarning)

# The CNN's default space, as data: the four per-layer decisions of the 2017 reference
# NAS code, wide enough to hold the classic conv 5x32 pool2 | conv 5x64 pool2 network.
CNN_SPACE = SearchSpace(
    decisions=(
        Decision("filters", (8, 16, 32, 64)),
        Decision("kernel_size", (1, 3, 5)),
        Decision("pool_size", (1, 2)),
        Decision("dropout_rate", (0.0, 0.25, 0.5)),
    ),
    max_layers=2,
    layer_format="conv {kernel_size}x{filters} pool{pool_size} drop{dropout_rate}",
)


class CNN(TorchNetwork):
    """Per layer: Conv2d ('same' padding) + ReLU, then max-pooling and dropout when chosen.

    A layer reads the layers the architecture names (the previous one in a plain chain): their
    feature maps are concatenated along channels, each max-pooled first to the smallest spatial size
    among them. The classifier, a linear layer, reads the flattened concatenation of every layer
    that no later layer reads. Weights start Xavier-uniform.
    """

    decisions: ClassVar[DecisionRules] = {
        "filters": (positive_int, "a positive integer (output channels)"),
        "kernel_size": (positive_int, "a positive integer (square kernel side)"),
        "pool_size": (positive_int, "a positive integer (1 = no pooling)"),
        "dropout_rate": (probability, "a probability in [0, 1)"),
    }
    default_space: ClassVar[SearchSpace] = CNN_SPACE
    supports_skips = True

    def validate(self) -> list[str]:
        for i, (height, width) in enumerate(self._sizes()[1:]):
            if height < 1 or width < 1:
                return [f"layer {i + 1} pools by {self.architecture[i]['pool_size']} and shrinks the feature map "
                        f"below 1x1 (input {self.input_shape[1]}x{self.input_shape[2]})"]
        return []

    def _sizes(self) -> list[tuple[int, int]]:
        """(height, width) of the image, then of each layer's output: a layer pools the smallest
        of its inputs (sizes below 1 are what validate() reports)."""
        sizes = [self.input_shape[1:]]
        for i in range(len(self.architecture)):
            pool = int(self.architecture[i]["pool_size"])
            height, width = _smallest(sizes[j] for j in self.architecture.sources(i))
            sizes.append((height // pool, width // pool))
        return sizes

    def make_module(self) -> nn.Module:
        architecture = self.architecture
        channels = [self.input_shape[0]]  # the image's, then each layer's
        blocks: list[nn.Module] = []
        for i in range(len(architecture)):
            layer, sources = architecture[i], architecture.sources(i)
            filters, kernel = int(layer["filters"]), int(layer["kernel_size"])
            pool, dropout = int(layer["pool_size"]), float(layer["dropout_rate"])
            block: list[nn.Module] = [nn.Conv2d(sum(channels[j] for j in sources), filters, kernel, padding="same"),
                                      nn.ReLU()]
            if pool > 1:
                block.append(nn.MaxPool2d(pool))
            if dropout > 0:
                block.append(Dropout(dropout))
            blocks.append(nn.Sequential(*block))
            channels.append(filters)
        sizes = self._sizes()
        outputs = architecture.outputs
        height, width = _smallest(sizes[j] for j in outputs)
        head = nn.Sequential(nn.Flatten(), nn.Linear(sum(channels[j] for j in outputs) * height * width,
                                                     self.num_classes))
        model = LayerGraph(blocks, [architecture.sources(i) for i in range(len(architecture))], outputs, head)
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        return model


class LayerGraph(nn.Module):
    """Blocks wired by number: block i reads the outputs listed in inputs[i] (0 = the images), and
    the head reads the outputs listed in `outputs`, each list joined by `join`."""

    def __init__(self, blocks: list[nn.Module], inputs: list[tuple[int, ...]], outputs: tuple[int, ...],
                 head: nn.Module):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.inputs = inputs
        self.outputs = outputs
        self.head = head
        self.grad_in_layout = True  # training on a CPU: the head's gradient back in the maps' layout (GradInLayout)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = [images]  # (B, C, H, W) each
        for block, sources in zip(self.blocks, self.inputs, strict=True):
            features.append(block(join([features[j] for j in sources])))
        read = [features[j] for j in self.outputs]
        if self.training and self.grad_in_layout and images.device.type == "cpu":  # not yet measured on a GPU
            read = [GradInLayout.apply(m) for m in read]
        return self.head(join(read))  # (B, classes)


class GradInLayout(torch.autograd.Function):
    """The identity, whose gradient comes back in its input's memory layout. The head flattens
    channels-last maps in (C, H, W) order, so their gradient arrives in the other layout, and the
    max-pool, ReLU and convolution backward passes of the last block converted it again and again:
    a max-pool's backward took 4.4 ms instead of 0.5 on a (32, 64, 28, 28) map (2-core AMD EPYC; bench
    trainer times whole children with and without it: LayerGraph.grad_in_layout)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last) if ctx.channels_last else grad


def join(maps: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate feature maps along channels, max-pooling each to the smallest height and width."""
    if len(maps) == 1:
        return maps[0]
    size = _smallest(tuple(m.shape[-2:]) for m in maps)
    return torch.cat([m if tuple(m.shape[-2:]) == size else F.adaptive_max_pool2d(m, size) for m in maps], dim=1)


def _smallest(sizes: Iterable[Sequence[int]]) -> tuple[int, int]:
    """The smallest height and the smallest width among (height, width) pairs."""
    heights, widths = zip(*sizes, strict=True)
    return min(heights), min(widths)
