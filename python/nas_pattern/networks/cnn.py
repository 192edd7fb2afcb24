"""CNN: the convolutional child network, one conv block per layer of the Architecture."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from nas_pattern.networks.base import DecisionRules, TorchNetwork, positive_int, probability


class CNN(TorchNetwork):
    """Per layer: Conv2d ('same' padding) + ReLU, then max-pooling and dropout when chosen.

    A linear classifier reads the flattened last feature map. Weights start Xavier-uniform.
    """

    decisions: ClassVar[DecisionRules] = {
        "filters": (positive_int, "a positive integer (output channels)"),
        "kernel_size": (positive_int, "a positive integer (square kernel side)"),
        "pool_size": (positive_int, "a positive integer (1 = no pooling)"),
        "dropout_rate": (probability, "a probability in [0, 1)"),
    }

    def validate(self) -> list[str]:
        _, height, width = self.input_shape
        for i in range(len(self.architecture)):
            pool = int(self.architecture[i]["pool_size"])
            height, width = height // pool, width // pool
            if height < 1 or width < 1:
                return [f"layer {i} pools by {pool} and shrinks the feature map below 1x1 "
                        f"(input {self.input_shape[1]}x{self.input_shape[2]})"]
        return []

    def make_module(self) -> nn.Module:
        channels, height, width = self.input_shape
        blocks: list[nn.Module] = []
        for i in range(len(self.architecture)):
            layer = self.architecture[i]
            filters, kernel = int(layer["filters"]), int(layer["kernel_size"])
            pool, dropout = int(layer["pool_size"]), float(layer["dropout_rate"])
            blocks.append(nn.Conv2d(channels, filters, kernel, padding="same"))
            blocks.append(nn.ReLU())
            if pool > 1:
                blocks.append(nn.MaxPool2d(pool))
                height, width = height // pool, width // pool
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            channels = filters
        blocks.append(nn.Flatten())
        blocks.append(nn.Linear(channels * height * width, self.num_classes))
        model = nn.Sequential(*blocks)
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        return model
