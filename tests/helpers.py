"""What tests share besides fixtures: a blank dataset and a synthetic Network for fast searches."""

from __future__ import annotations

from pathlib import Path

import torch

from nas_pattern import Architecture, Dataset, Metrics, Network, SearchSpace, Split


def blank_dataset() -> Dataset:
    """A dataset of zeros, for children that never look at their data."""
    split = Split(torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    return Dataset("blank", split, split, split, num_classes=10)


class MatchTarget(Network):
    """A synthetic child: its accuracy is the fraction of decisions that match a target architecture.

    Trains instantly, so an agent can be run for thousands of children in seconds.
    """

    target: Architecture  # set by make_match_target
    space: SearchSpace
    builds = 0  # how many children were built (to check the cache)

    def build(self) -> None:
        type(self).builds += 1

    def train(self, data: Split, epochs: int) -> None:
        pass

    def evaluate(self, data: Split) -> Metrics:
        mine, target = self.space.encode(self.architecture), self.space.encode(self.target)
        accuracy = sum(a == b for a, b in zip(mine, target, strict=True)) / len(target)
        return Metrics(accuracy=accuracy, loss=1 - accuracy, params=0, train_seconds=0.0)

    @property
    def layers(self) -> list[str]:
        return [str(layer) for layer in self.architecture.layers]


def make_match_target(space: SearchSpace, target: Architecture) -> type[MatchTarget]:
    """A fresh MatchTarget class aimed at `target` (a class, so the controller can build it)."""
    return type("MatchTarget", (MatchTarget,), {"target": target, "space": space, "builds": 0})


def files(run_dir: Path) -> dict[str, bytes]:
    """Every file under a run directory (its event files' folders included), by relative path:
    what "nothing was changed" compares."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
