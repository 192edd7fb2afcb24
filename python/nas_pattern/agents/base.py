"""Agent: the role the search loop talks to, and what every strategy shares.

One strategy per module beside this one, the way Optuna keeps its samplers: `reinforce` (the
pattern's RLAgent), `random_search`, `evolution`, `tpe`. Each docstring below says when the loop
(NASController) calls the method.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace

NO_SAMPLE = "reward() called without a sample from policy() waiting for it"  # every agent's refusal


class Agent(abc.ABC):
    """The search loop calls `policy()` once per child, `reward(metrics)` once the child is
    evaluated (rewards pair with samples in the order they were drawn), and `update_policy()`
    after every `config.children_per_update` rewards."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        self.space = space
        self.config = config or AgentConfig()

    @abc.abstractmethod
    def policy(self) -> Architecture:
        """Sample the next architecture to evaluate."""

    @abc.abstractmethod
    def reward(self, metrics: Metrics) -> float:
        """Record the oldest unrewarded sample's metrics; return the reward it earns (advantage)."""

    @abc.abstractmethod
    def value_function(self) -> float:
        """The baseline: the score (config.objective) the agent expects of its next sample (NaN while it
        has no estimate)."""

    @abc.abstractmethod
    def update_policy(self) -> dict[str, float]:
        """Learn from the rewarded samples since the last call; return statistics, with at
        least `entropy`: the policy's mean entropy per decision, normalised to [0, 1]."""

    def probability(self, architecture: Architecture) -> float:
        """How likely the next policy() is to sample `architecture` (tests and the guide call it; the
        loop never does). Optional: an agent that cannot say raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} cannot say how likely it is to sample an architecture")

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the agent is (for checkpoints)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Return to a state taken by state_dict()."""


def diversity(space: SearchSpace, samples: Sequence[Sequence[int]]) -> float:
    """Mean over decisions of the normalised entropy of the choices in `samples` (1 = all choices
    equally common, 0 = every sample agrees); 1.0 for no samples. The `entropy` that EvolutionAgent
    and TPEAgent report, so the controller's convergence rule reads them like the RL agents."""
    if not samples:
        return 1.0
    total = 0.0
    for t, n in enumerate(space.num_choices):
        if n == 1:
            continue
        counts = [0] * n
        for sample in samples:
            counts[sample[t]] += 1
        total += -sum(c / len(samples) * math.log(c / len(samples)) for c in counts if c) / math.log(n)
    steps = sum(n > 1 for n in space.num_choices)
    return total / steps if steps else 1.0


