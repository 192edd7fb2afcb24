"""RandomAgent: uniform sampling, no learning; the smallest Agent, and the baseline every
strategy must beat."""

from __future__ import annotations

import math
import random
from typing import Any

from nas_pattern.agents.base import NO_SAMPLE, Agent
from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace


class RandomAgent(Agent):
    """Uniform sampling, no learning: the baseline every search strategy must beat."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.rng = random.Random(self.config.seed)
        self.waiting = 0  # samples drawn and not yet rewarded

    def policy(self) -> Architecture:
        self.waiting += 1
        return self.space.decode([self.rng.randrange(n) for n in self.space.num_choices])

    def reward(self, metrics: Metrics) -> float:
        if not self.waiting:
            raise RuntimeError(NO_SAMPLE)
        self.waiting -= 1
        return self.config.objective(metrics)

    def value_function(self) -> float:
        return 0.0

    def update_policy(self) -> dict[str, float]:
        return {"entropy": 1.0}

    def probability(self, architecture: Architecture) -> float:
        return sum(1.0 / math.prod(self.space.num_choices[:len(e)]) for e in self.space.encodings(architecture))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate(), "waiting": self.waiting}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])
        self.waiting = state.get("waiting", 0)  # checkpoints before it was recorded had none waiting
