"""SharedWeights: children evaluated with the weights of one supernet that all of them share and
keep training (ENAS's evaluation, Pham et al., 2018), instead of each trained from scratch.

Shared training runs minibatches of the training split, each through an architecture drawn by a
given function (the current policy, or uniformly at random); scoring a child is one evaluation
pass of its slice of the weights on validation images, no training. Both run on the device the
data is on, under the precision a child of the same kind would train in.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from nas_pattern.data import Split
from nas_pattern.networks.base import Metrics
from nas_pattern.networks.supernet import Supernet
from nas_pattern.search_space import Architecture
from nas_pattern.trainer import ChildDiverged, TrainConfig, generator, seeded, use_bf16


@dataclass(frozen=True)
class SharingConfig:
    """How the shared weights are trained and how a child is scored with them."""

    steps: int = 10  # minibatches of shared training before each policy update's children are drawn
    val_images: int = 250  # validation images each child is scored on (the first ones: the same for all)
    batch_size: int = 32  # training images per minibatch, each minibatch on one architecture
    learning_rate: float = 1e-3  # AdamW step size of the shared weights
    weight_decay: float = 0.0
    eval_batch_size: int = 1000  # images per forward pass when scoring (at most: TrainConfig.eval_pass_bytes)
    # The derivation: the best `rescore` distinct architectures by the score they got in the search
    # are scored again with the final shared weights on the whole validation split (scores from early
    # rounds were made with weights trained less); the best `derive` of those are trained from scratch
    # at the search's budget, and the best of them on validation is the search's best.
    rescore: int = 10
    derive: int = 5

    def __post_init__(self) -> None:
        if self.derive < 1 or self.rescore < self.derive:
            raise ValueError(f"the derivation retrains at least 1 architecture of the ones it scores again, got "
                             f"{self.derive} of {self.rescore}")
        if self.steps < 0 or self.val_images < 1:
            raise ValueError(f"shared steps must be >= 0 and validation images >= 1, got {self.steps} and "
                             f"{self.val_images}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"batch sizes must be >= 1, got {self.batch_size} and {self.eval_batch_size}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"the shared weights' learning rate must be > 0, got {self.learning_rate}")
        if not self.weight_decay >= 0:
            raise ValueError(f"the shared weights' weight decay must be >= 0, got {self.weight_decay}")


class SharedWeights:
    """A supernet, its optimizer and the order it reads the training split in."""

    def __init__(self, supernet: Supernet, config: SharingConfig | None = None,
                 train_config: TrainConfig | None = None, device: torch.device | str = "cpu", seed: int = 0):
        self.config = config or SharingConfig()
        self.train_config = train_config or TrainConfig()
        self.device = torch.device(device)
        self.supernet = supernet.to(self.device)
        self.optimizer = torch.optim.AdamW(self.supernet.parameters(), lr=self.config.learning_rate,
                                           weight_decay=self.config.weight_decay)
        self.generator = generator(seed)  # the batch order
        self.seed = seed
        self.steps = 0  # minibatches trained so far
        self._order: torch.Tensor | None = None  # this pass's permutation of the training split
        self._position = 0  # where in it the next minibatch starts
        probe = supernet.skeleton(supernet.space.decode([0] * len(supernet.space.num_choices)))
        self._bf16 = use_bf16(probe, self.train_config, self.device)

    # --8<-- [start:train]
    def train(self, data: Split, steps: int, draw: Callable[[], Architecture]) -> float:
        """Train the shared weights for `steps` minibatches of `data` (continuing the pass where the
        last call left it), each through the architecture `draw()` returns; the mean loss."""
        self.supernet.train()
        total = torch.zeros((), device=self.device)
        n = len(data)
        with seeded(self.seed * 7919 + self.steps, self.device):  # dropout masks
            for _ in range(steps):
                if self._order is None or self._position >= n:
                    self._order, self._position = torch.randperm(n, generator=self.generator), 0
                batch = self._order[self._position:self._position + self.config.batch_size].to(self.device)
                self._position += self.config.batch_size
                architecture = draw()
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self._bf16):
                    loss = F.cross_entropy(self.supernet(data.x[batch].float(), architecture), data.y[batch])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total += loss.detach()
                self.steps += 1
        mean = total.item() / max(steps, 1)
        if not math.isfinite(mean):
            raise ChildDiverged(f"the shared weights' training loss became {mean}")
        return mean
    # --8<-- [end:train]

    def score(self, architecture: Architecture, data: Split) -> Metrics:
        """The child's metrics on `data` with the shared weights (no training): its slice of them in
        a stand-alone child, evaluated as every child is (trainer.evaluate); train_seconds is the
        time this took."""
        start = time.perf_counter()
        config = dataclasses.replace(self.train_config, eval_batch_size=self.config.eval_batch_size)
        child = self.supernet.child(architecture, train_config=config, device=self.device)
        return dataclasses.replace(child.evaluate(data), train_seconds=time.perf_counter() - start)

    def state_dict(self) -> dict[str, Any]:
        """The supernet, its optimizer and the batch order, as a checkpoint keeps them: a copy, so
        that training after it is taken does not change it (a checkpoint written later, on SIGTERM,
        holds the state it was taken in)."""
        state = {"supernet": self.supernet.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "generator": self.generator.get_state(), "steps": self.steps, "position": self._position,
                 "order": self._order}
        return copy.deepcopy(state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.steps, self._position, self._order = int(state["steps"]), int(state["position"]), state["order"]
