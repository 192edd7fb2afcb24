"""RandomAgent: uniform sampling, no learning; the smallest Agent, and the baseline every
strategy must beat."""

from __future__ import annotations

import math
import random
from typing import Any

from nas_pattern.agents.base import Agent, Sample
from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace


class RandomAgent(Agent):
    """Uniform sampling, no learning: the baseline every search strategy must beat. Uniform among
    the architectures not drawn yet (`config.random.without_replacement`, on by default)."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.rng = random.Random(self.config.seed)
        self.total, self.count = 0.0, 0  # the scores rewarded so far: their sum and their number

    def policy(self) -> Sample:
        if self.config.random.without_replacement:
            return self.give(self.unseen(self._draw, self.rng))
        return self.give(self._draw())

    def _draw(self) -> list[int]:
        return [self.rng.randrange(n) for n in self.space.num_choices]

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.take(sample, metrics)
        self.total += score
        self.count += 1
        return score  # the score itself: it learns nothing, so there is no baseline to subtract

    def value_function(self) -> float:
        # What a uniform draw is expected to score: the mean so far (NaN before the first reward)
        return self.total / self.count if self.count else math.nan

    def update_policy(self) -> dict[str, float]:
        self.close()
        return {"entropy": 1.0}

    def probability(self, architecture: Architecture) -> float:
        uniform = self._uniform(architecture)
        if not self.config.random.without_replacement or len(self.drawn) >= self.space.size:
            return uniform
        if architecture in self.drawn:
            return 0.0
        return uniform / (1 - sum(self._uniform(a) for a in self.drawn))  # uniform among the rest

    def _uniform(self, architecture: Architecture) -> float:
        """How likely a uniform draw of every decision is to give `architecture` (summed over its
        encodings: the steps after an encoding's used ones do not matter)."""
        return sum(1.0 / math.prod(self.space.num_choices[:len(e)]) for e in self.space.encodings(architecture))

    def choice_probabilities(self) -> list[list[float]]:
        return [[1.0 / n] * n for n in self.space.num_choices]  # uniform, and it stays so

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate(), "total": self.total, "count": self.count, **self.samples_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])
        # a checkpoint from before the mean was kept has none: it starts again from the next reward
        self.total, self.count = float(state.get("total", 0.0)), int(state.get("count", 0))
        self.load_samples_state(state)  # checkpoints before the handles counted the open ones as "waiting"
