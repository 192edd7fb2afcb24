"""Extending the pattern: a search space with a new decision, a custom Network that understands it,
a search whose reward trades accuracy against size, on images held in memory.

Run it: python docs/examples/custom_network.py [episodes]   (the docs include its marked regions; CI runs it)
"""

from __future__ import annotations

import sys
from typing import ClassVar

from torch import nn

from nas_pattern import (
    AgentConfig,
    Dataset,
    Decision,
    NASController,
    Objective,
    RLAgent,
    SearchConfig,
    SearchSpace,
)
from nas_pattern.data import FASHION_MNIST_DIR, read_idx
from nas_pattern.networks.base import DecisionRules, TorchNetwork, positive_int

# --8<-- [start:space]
# A new decision is a new row of the table: the policy network grows one softmax head for it.
MLP_SPACE = SearchSpace(
    decisions=(
        Decision("hidden_units", (32, 64, 128)),
        Decision("activation", ("relu", "tanh", "gelu")),  # the new decision
    ),
    max_layers=2,
    layer_format="dense {hidden_units} {activation}",
)
# --8<-- [end:space]


# --8<-- [start:network]
class MLP(TorchNetwork):
    """A child network of fully connected layers: the image is flattened, one Linear per layer."""

    decisions: ClassVar[DecisionRules] = {  # checked against the space before the search starts
        "hidden_units": (positive_int, "a positive integer"),
        "activation": (lambda value: value in ("relu", "tanh", "gelu"), "one of relu, tanh, gelu"),
    }
    activations: ClassVar[dict[str, type[nn.Module]]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}

    def make_module(self) -> nn.Module:
        channels, height, width = self.input_shape
        width_in = channels * height * width
        blocks: list[nn.Module] = [nn.Flatten()]
        for i in range(len(self.architecture)):
            layer = self.architecture[i]
            blocks += [nn.Linear(width_in, int(layer["hidden_units"])), self.activations[str(layer["activation"])]()]
            width_in = int(layer["hidden_units"])
        return nn.Sequential(*blocks, nn.Linear(width_in, self.num_classes))
# --8<-- [end:network]


# --8<-- [start:reward]
# Every agent rewards AgentConfig.objective(metrics): the accuracy by default; with reward="accuracy-size",
# accuracy x (params / target) ** -0.07 above the target (MnasNet's soft constraint), so of two equally
# accurate children the smaller earns more, and the search's best is the one with the highest objective.
SIZE_AWARE = AgentConfig(children_per_update=2, seed=0,
                         objective=Objective(reward="accuracy-size", target_params=50_000))
# --8<-- [end:reward]


if __name__ == "__main__":
    # --8<-- [start:data]
    # Images of one's own, held in memory: raw pixels 0-255 and their labels (here Fashion-MNIST's test images).
    pixels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")  # (10000, 28, 28) uint8
    labels = read_idx(FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte")  # (10000,)
    data = Dataset.from_images(pixels[:8000], labels[:8000], pixels[8000:], labels[8000:], name="my-products")
    # --8<-- [end:data]
    # --8<-- [start:search]
    agent = RLAgent(MLP_SPACE, SIZE_AWARE)
    episodes = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    controller = NASController(agent, data, network=MLP, config=SearchConfig(episodes=episodes, train_limit=1000))
    for episode in controller.search().episodes:
        assert episode.metrics is not None
        print(f"{episode.architecture.describe():<32} val {episode.accuracy:.4f}  params {episode.metrics.params:>7,}"
              f"  objective {SIZE_AWARE.objective(episode.metrics):.4f}  reward {episode.reward:+.4f}")
    # --8<-- [end:search]
