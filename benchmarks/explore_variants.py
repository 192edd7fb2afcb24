"""The third round of benchmarks/explore.txt: REINFORCE variants the issue asked for, each a small
subclass of the RLAgent, searched on one landscape for a range of seeds.

    .venv/bin/python benchmarks/explore_variants.py LANDSCAPE VARIANT[,VARIANT...] FIRST_SEED STOP_SEED

prints one line per variant: mean regret ± the 95% half-width at 25 / 50 / 100 / 200 distinct
architectures, and the share of searches that found the optimum at 200. None of these variants
was kept (see explore.txt); the engine's agent is `base`.
"""

from __future__ import annotations

import bisect
import math
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from nas_pattern.agents import AGENTS, Agent, AgentConfig, PolicyNetwork, RLAgent, Sample
from nas_pattern.bench import landscapes, study
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import SearchSpace


class Normalised(RLAgent):
    """Advantage = (score - moving average) / the moving standard deviation of that difference."""

    def __init__(self, space: SearchSpace, config: AgentConfig):
        super().__init__(space, config)
        self.variance: float | None = None

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.config.objective(metrics)
        if self.baseline is not None:
            difference = score - self.baseline
            self.variance = difference ** 2 if self.variance is None else (
                0.9 * self.variance + 0.1 * difference ** 2)
        advantage = super().reward(sample, metrics)
        rewarded = self.rewarded[-1]  # what super().reward() kept of this sample
        if self.variance:
            rewarded.advantage = advantage / math.sqrt(self.variance + 1e-12)
        return rewarded.advantage


class Rank(RLAgent):
    """Advantage = the score's centred quantile among every score so far, in [-0.5, 0.5]."""

    def __init__(self, space: SearchSpace, config: AgentConfig):
        super().__init__(space, config)
        self.scores: list[float] = []

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.config.objective(metrics)
        super().reward(sample, metrics)
        rewarded = self.rewarded[-1]  # what super().reward() kept of this sample
        below, not_above = bisect.bisect_left(self.scores, score), bisect.bisect_right(self.scores, score)
        seen = len(self.scores)
        bisect.insort(self.scores, score)
        rewarded.advantage = 0.0 if seen == 0 else (below + not_above) / (2 * seen) - 0.5
        return rewarded.advantage


class PPO(RLAgent):
    """PPO's clipped objective (clip 0.2), 4 epochs over each update's samples."""

    EPOCHS = 4
    CLIP = 0.2

    def update_policy(self) -> dict[str, float]:
        self.close()
        batch = self.rewarded
        if not batch:
            return {}
        actions = torch.tensor([s.actions for s in batch])
        advantage = torch.tensor([s.advantage for s in batch])
        with torch.no_grad():
            old = self.policy_network(len(batch), actions=actions).log_probs.sum(1)
        for _ in range(self.EPOCHS):
            rollout = self.policy_network(len(batch), actions=actions)
            ratio = (rollout.log_probs.sum(1) - old).exp()
            clipped = torch.minimum(ratio * advantage, ratio.clamp(1 - self.CLIP, 1 + self.CLIP) * advantage)
            loss = -clipped.mean() - self.settings.entropy_weight * rollout.entropies.sum(1).mean()
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy_network.parameters(), self.settings.grad_clip)
            self.optimizer.step()
        self.rewarded = []
        self.updates += 1
        return {}


class EntropySchedule(RLAgent):
    """Entropy weight 0.01 at the first update, halved every 5 updates."""

    def update_policy(self) -> dict[str, float]:
        self.settings = replace(self.settings, entropy_weight=0.01 * 0.5 ** (self.updates / 5))
        return super().update_policy()


class Restart(RLAgent):
    """A fresh policy network, optimizer and baseline once the policy's normalised entropy falls
    under 0.2 (the architectures drawn are kept: no repeats after a restart)."""

    def update_policy(self) -> dict[str, float]:
        out = super().update_policy()
        if out and out["entropy"] < 0.2:
            self.policy_network = PolicyNetwork(self.space.num_choices, self.settings.hidden_size,
                                                temperature=self.settings.temperature)
            self.optimizer = torch.optim.Adam(self.policy_network.parameters(), lr=self.settings.learning_rate)
            self.baseline = None
        return out


def variant(kind: type[RLAgent], m: int | None = None, **reinforce: Any) -> Callable[[SearchSpace, AgentConfig], Agent]:
    def build(space: SearchSpace, config: AgentConfig) -> Agent:
        config = replace(config, reinforce=replace(config.reinforce, **reinforce))
        return kind(space, replace(config, children_per_update=m) if m else config)
    return build


VARIANTS = {
    "base": variant(RLAgent),
    "norm": variant(Normalised),
    "norm-ent0.01": variant(Normalised, entropy_weight=0.01),
    "rank": variant(Rank),
    "rank-ent0.01": variant(Rank, entropy_weight=0.01),
    "ppo": variant(PPO),
    "m8": variant(RLAgent, m=8),
    "entsched": variant(EntropySchedule),
    "restart": variant(Restart),
}


def main(landscape: str, names: list[str], seeds: range) -> None:
    torch.set_num_threads(1)
    table = landscapes.load(landscape)
    optimum = table.best[1].val_accuracy
    for name in names:
        AGENTS[name] = VARIANTS[name]
        start = time.perf_counter()
        traces = [study.run_search(table, name, seed, 200) for seed in seeds]
        cells = []
        for budget in study.BUDGETS:
            mean, half = study.mean_ci([optimum - trace.at(budget)[0] for trace in traces])
            cells.append(f"{budget}: {mean:.4f}±{half:.4f}")
        found = sum(trace.at(200)[0] >= optimum for trace in traces) / len(traces)
        print(f"  {landscape:<12} {name:<16} " + "  ".join(cells)
              + f" ({found:.0%})  [{time.perf_counter() - start:.0f}s]", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), range(int(sys.argv[3]), int(sys.argv[4])))
