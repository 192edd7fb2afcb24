"""RNN: the recurrent child network, reading each image row by row (sequential Fashion-MNIST)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from nas_pattern.networks.base import DecisionRules, TorchNetwork, positive_int, probability
from nas_pattern.networks.dropout import Dropout
from nas_pattern.search_space import Decision, SearchSpace

CELLS: dict[str, Callable[..., nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

# The RNN's default space, as data: the image is read row by row; each layer picks its cell,
# width, dropout and direction.
RNN_SPACE = SearchSpace(
    decisions=(
        Decision("cell_type", ("rnn", "gru", "lstm")),
        Decision("hidden_units", (32, 64, 128)),
        Decision("dropout_rate", (0.0, 0.25, 0.5)),
        Decision("bidirectional", (False, True)),
    ),
    max_layers=1,
    layer_format="{cell_type} {hidden_units} drop{dropout_rate} bidirectional={bidirectional}",
)


class RNN(TorchNetwork):
    """Per layer: a recurrent cell (rnn, gru or lstm), one or two directions, then dropout.

    The last layer's final hidden state (both directions) feeds a linear classifier.
    """

    decisions: ClassVar[DecisionRules] = {
        "cell_type": (lambda v: v in CELLS, f"one of {sorted(CELLS)}"),
        "hidden_units": (positive_int, "a positive integer"),
        "dropout_rate": (probability, "a probability in [0, 1)"),
        "bidirectional": (lambda v: isinstance(v, bool), "true or false"),
    }
    default_space: ClassVar[SearchSpace] = RNN_SPACE

    def make_module(self) -> nn.Module:
        channels, _, width = self.input_shape
        return RowReader([self.architecture[i] for i in range(len(self.architecture))],
                         row_features=channels * width, num_classes=self.num_classes)


class RowReader(nn.Module):
    """Images as sequences: one time step per image row, all channels of the row as features."""

    def __init__(self, layers: list[dict], row_features: int, num_classes: int):
        super().__init__()
        self.recurrent = nn.ModuleList()
        self.dropout = nn.ModuleList()
        features = row_features
        for layer in layers:
            directions = 2 if layer["bidirectional"] else 1
            cell = CELLS[str(layer["cell_type"])]
            self.recurrent.append(cell(features, int(layer["hidden_units"]), batch_first=True,
                                       bidirectional=bool(layer["bidirectional"])))
            self.dropout.append(Dropout(float(layer["dropout_rate"])))
            features = int(layer["hidden_units"]) * directions
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        sequence = images.permute(0, 2, 1, 3).flatten(2)  # (B, H, C*W): row t is time step t
        for i, (cell, dropout) in enumerate(zip(self.recurrent, self.dropout, strict=True)):
            output, state = cell(sequence)  # output (B, H, dirs*hidden)
            if i < len(self.recurrent) - 1:
                sequence = dropout(output)
        # LSTM state is (h, c); h (dirs, B, hidden)
        hidden = state[0] if isinstance(state, tuple) else state
        final = hidden.transpose(0, 1).flatten(1)  # (B, dirs*hidden): last step of each direction
        return self.classifier(self.dropout[-1](final))  # (B, classes)
