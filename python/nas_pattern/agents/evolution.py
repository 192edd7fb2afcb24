"""EvolutionAgent: regularized evolution (Real et al., 2019), the strongest simple rival of RL."""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Any

from nas_pattern.agents.base import Agent, Sample, diversity
from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace


# --8<-- [start:evolution]
class EvolutionAgent(Agent):
    """Regularized evolution (Real et al., 2019): a population of the last `population_size`
    evaluated architectures. Until it is full, samples are uniform; then each sample is a mutation
    of a tournament's winner (the best of `tournament_size` members drawn without replacement),
    changing one decision to another of its choices. The oldest member dies, whatever its accuracy.
    With `without_replacement` (the default) a sample is an architecture not given before: a
    mutation that gives one trained before rejoins the population with its score, as a child
    answered from the controller's cache does, and the tournament and mutation are made again
    (Agent.unseen). The population evolves as it would with the repeats (each joins it at once,
    where the cache's answer joined it at the end of its round), and no child of the budget is spent
    on one."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.settings = self.config.evolution
        self.rng = random.Random(self.config.seed)
        self.population: deque[tuple[list[int], float]] = deque(maxlen=self.settings.population_size)
        # steps a mutation can change
        self.mutable = [t for t, n in enumerate(space.num_choices) if n > 1]
        # one way to sample each architecture
        self.exact = not (space.variable_depth or space.skip_connections)
        self.scores: dict[Architecture, float] = {}  # every architecture rewarded: its score

    def policy(self) -> Sample:
        if self.settings.without_replacement:
            return self.give(self.unseen(self._propose, self.rng, rejected=self._rejoin))
        return self.give(self._propose())

    def _rejoin(self, actions: list[int]) -> None:
        """A proposal of an architecture given before: back into the population with its score."""
        score = self.scores.get(self.space.decode(actions))
        if score is not None:  # (none yet if it waits for its reward in this round)
            self.population.append((actions, score))  # the newest member; the oldest dies

    def _propose(self) -> list[int]:
        if self._warming_up():
            return [self.rng.randrange(n) for n in self.space.num_choices]
        contestants = sorted(self.rng.sample(range(len(self.population)), self.settings.tournament_size))
        parent = max(contestants, key=lambda i: self.population[i][1])  # the oldest of equals
        actions = list(self.population[parent][0])
        used = self.space.used_steps(actions)  # a change beyond them would give the parent again
        step = self.rng.choice([t for t in self.mutable if t < used])
        others = [c for c in range(self.space.num_choices[step]) if c != actions[step]]
        actions[step] = self.rng.choice(others)
        return actions

    def _warming_up(self) -> bool:
        """Whether samples are still uniform: the population is not full, counting the samples out."""
        return len(self.population) + len(self.open) < self.settings.population_size or not self.mutable

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.take(sample, metrics)
        self.population.append((list(sample.actions), score))  # the newest member; the oldest dies
        self.scores[sample.architecture] = score  # the latest: one trained again after a resume has a new one
        return score

# --8<-- [end:evolution]
    def value_function(self) -> float:
        if not self.population:
            return math.nan
        return sum(accuracy for _, accuracy in self.population) / len(self.population)

    def update_policy(self) -> dict[str, float]:
        self.close()
        return {"entropy": diversity(self.space, [actions for actions, _ in self.population])}

    def probability(self, architecture: Architecture) -> float:
        # several index sequences give one architecture: the sum below would miss some
        if not self.exact:
            raise NotImplementedError("EvolutionAgent cannot say how likely an architecture is in a space with "
                                      "depth or skip connections")
        if self.settings.without_replacement:  # each repeat proposed changes the population before the next try
            raise NotImplementedError("EvolutionAgent cannot say how likely an architecture is when it samples "
                                      "without replacement (EvolutionConfig(without_replacement=False) can)")
        if self._warming_up():
            return 1.0 / self.space.size
        target = self.space.encode(architecture)
        size, k = len(self.population), self.settings.tournament_size
        # Rank r (0 = best, ties: oldest first) wins a tournament of k drawn from `size` with
        # probability C(size - 1 - r, k - 1) / C(size, k); its mutation hits `target` with
        # probability 1 / (steps * (choices - 1)) if they differ in exactly one step.
        ranked = sorted(range(size), key=lambda i: (-self.population[i][1], i))
        total = 0.0
        for rank, i in enumerate(ranked):
            differ = [t for t, (a, b) in enumerate(zip(self.population[i][0], target, strict=True)) if a != b]
            if len(differ) == 1:
                wins = math.comb(size - 1 - rank, k - 1) / math.comb(size, k)
                total += wins / (len(self.mutable) * (self.space.num_choices[differ[0]] - 1))
        return total

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate(), "population": [list(p) for p in self.population],
                "scores": [[self.space.encode(a), s] for a, s in self.scores.items()], **self.samples_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])
        self.population = deque(((list(a), float(r)) for a, r in state["population"]),
                                maxlen=self.settings.population_size)
        self.scores = {self.space.decode(a): float(s) for a, s in state.get("scores", [])}  # (none before 2026-12-06)
        self.load_samples_state(state)
        for actions in state.get("pending", []):  # a checkpoint from before the handles: its waiting samples
            self.give(actions)
