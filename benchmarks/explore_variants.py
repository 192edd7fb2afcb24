"""The third round of benchmarks/explore.txt and the fourth (benchmarks/large.txt): REINFORCE
variants, each the RLAgent with other settings or a small subclass of it, searched on one
landscape for a range of seeds.

    .venv/bin/python benchmarks/explore_variants.py LANDSCAPE VARIANT[,VARIANT...] FIRST_SEED STOP_SEED

prints one line per variant: mean regret ± the 95% half-width at 25 / 50 / 100 / 200 distinct
architectures, and the share of searches that found the optimum at 200. Every variant starts from
the agent as it was before the fourth round (`base`: no replay, temperature 2); of all these, the
fourth round kept replay of 32 samples at temperature 1 (`replay-t1`, the defaults now). The fifth
round's variants (learning-rate decay, baseline decay, entropy weight, temperature, width) start from
those defaults; it kept nothing (benchmarks/large.txt).
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
from nas_pattern.config import EXIT_INTERRUPTED, OneLineParser
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


class RiskSeeking(RLAgent):
    """Risk-seeking policy gradient (Petersen et al., 2021) over the whole history: the baseline is
    the QUANTILE of every score so far, and only samples above it are learned from."""

    QUANTILE = 0.8

    def __init__(self, space: SearchSpace, config: AgentConfig):
        super().__init__(space, config)
        self.scores: list[float] = []

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        super().reward(sample, metrics)
        rewarded = self.rewarded[-1]
        bisect.insort(self.scores, rewarded.score)
        threshold = self.scores[min(len(self.scores) - 1, int(self.QUANTILE * len(self.scores)))]
        rewarded.advantage = max(0.0, rewarded.score - threshold)
        return rewarded.advantage


class PriorityQueue(RLAgent):
    """Priority-queue training (Abolafia et al., 2018): each update's loss also has
    -WEIGHT * mean log pi of the best K architectures rewarded so far (distinct, best first)."""

    K = 10
    WEIGHT = 0.03

    def __init__(self, space: SearchSpace, config: AgentConfig):
        super().__init__(space, config)
        self.queue: list[tuple[float, list[int]]] = []

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        advantage = super().reward(sample, metrics)
        if list(sample.actions) not in (a for _, a in self.queue):
            self.queue = sorted([*self.queue, (self.rewarded[-1].score, list(sample.actions))],
                                key=lambda q: -q[0])[:self.K]
        return advantage

    def _replay_loss(self) -> torch.Tensor:
        loss = super()._replay_loss()
        if self.queue:
            actions = torch.tensor([a for _, a in self.queue])
            loss = loss - self.WEIGHT * self.policy_network(len(actions), actions=actions).log_probs.sum(1).mean()
        return loss


class DecayingRate(RLAgent):
    """Adam's step size divided by 1 + updates / HALF: half the learning rate after HALF updates, a
    third after twice as many (a policy near its optimum jitters less)."""

    HALF = 25

    def update_policy(self) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = self.settings.learning_rate / (1 + self.updates / self.HALF)
        return super().update_policy()


def tuned(kind: type[RLAgent], **attributes: Any) -> type[RLAgent]:
    return type(kind.__name__, (kind,), attributes)


# The agent's defaults before the fourth round (no replay, temperature 2): every variant starts from them.
BEFORE = {"replay": 0, "temperature": 2.0}


def variant(kind: type[RLAgent], m: int | None = None, **reinforce: Any) -> Callable[[SearchSpace, AgentConfig], Agent]:
    def build(space: SearchSpace, config: AgentConfig) -> Agent:
        config = replace(config, reinforce=replace(config.reinforce, **{**BEFORE, **reinforce}))
        return kind(space, replace(config, children_per_update=m) if m else config)
    return build


VARIANTS = {
    "base": variant(RLAgent),  # the agent before the fourth round
    "defaults": lambda space, config: RLAgent(space, config),  # the agent's defaults now (= replay-t1)
    "norm": variant(Normalised),
    "norm-ent0.01": variant(Normalised, entropy_weight=0.01),
    "rank": variant(Rank),
    "rank-ent0.01": variant(Rank, entropy_weight=0.01),
    "ppo": variant(PPO),
    "m8": variant(RLAgent, m=8),
    "entsched": variant(EntropySchedule),
    "restart": variant(Restart),
    "pqt": variant(PriorityQueue),
    "pqt-k5": variant(tuned(PriorityQueue, K=5)),
    "pqt-k20": variant(tuned(PriorityQueue, K=20)),
    "pqt-w0.01": variant(tuned(PriorityQueue, WEIGHT=0.01)),
    "pqt-w0.1": variant(tuned(PriorityQueue, WEIGHT=0.1)),
    "pqt-w0.3": variant(tuned(PriorityQueue, WEIGHT=0.3)),
    "replay": variant(RLAgent, replay=32),
    "replay128": variant(RLAgent, replay=128),
    "risk": variant(RiskSeeking),
    "risk0.5": variant(tuned(RiskSeeking, QUANTILE=0.5)),
    "replay16": variant(RLAgent, replay=16),
    "replay-lr0.1": variant(RLAgent, replay=32, learning_rate=0.1),
    "replay-t1": variant(RLAgent, replay=32, temperature=1.0),
    "replay-t1.5": variant(RLAgent, replay=32, temperature=1.5),
    "replay-m2": variant(RLAgent, m=2, replay=32),
    "replay-pqt": variant(tuned(PriorityQueue, K=5, WEIGHT=0.01), replay=32),
    "t1": variant(RLAgent, temperature=1.0),
    "replay-m2-t1": variant(RLAgent, m=2, replay=32, temperature=1.0),
    "replay-m2-t1.5": variant(RLAgent, m=2, replay=32, temperature=1.5),
    "replay64-m2": variant(RLAgent, m=2, replay=64),
    "replay-m2-lr0.01": variant(RLAgent, m=2, replay=32, learning_rate=0.01),
    "m2": variant(RLAgent, m=2),
    # the fifth round (2026-12-07), each from the defaults of the fourth (replay 32, temperature 1)
    "decay25": variant(DecayingRate, replay=32, temperature=1.0),
    "decay10": variant(tuned(DecayingRate, HALF=10), replay=32, temperature=1.0),
    "decay50": variant(tuned(DecayingRate, HALF=50), replay=32, temperature=1.0),
    "ema0.8": variant(RLAgent, replay=32, temperature=1.0, baseline_decay=0.8),
    "ema0.95": variant(RLAgent, replay=32, temperature=1.0, baseline_decay=0.95),
    "ent0": variant(RLAgent, replay=32, temperature=1.0, entropy_weight=0.0),
    "ent0.01": variant(RLAgent, replay=32, temperature=1.0, entropy_weight=0.01),
    "hidden32": variant(RLAgent, replay=32, temperature=1.0, hidden_size=32),
    "hidden128": variant(RLAgent, replay=32, temperature=1.0, hidden_size=128),
    "lr0.05-decay25": variant(DecayingRate, replay=32, temperature=1.0, learning_rate=0.05),
    "ema0.7": variant(RLAgent, replay=32, temperature=1.0, baseline_decay=0.7),
    "ema0.5": variant(RLAgent, replay=32, temperature=1.0, baseline_decay=0.5),
    "t0.75": variant(RLAgent, replay=32, temperature=0.75),
    "t0.5": variant(RLAgent, replay=32, temperature=0.5),
    "lr0.05": variant(RLAgent, replay=32, temperature=1.0, learning_rate=0.05),
    "ema0.8-t0.75": variant(RLAgent, replay=32, temperature=0.75, baseline_decay=0.8),
    "ema0.8-ent0": variant(RLAgent, replay=32, temperature=1.0, baseline_decay=0.8, entropy_weight=0.0),
    "lr0.1": variant(RLAgent, learning_rate=0.1),
    "lr0.01": variant(RLAgent, learning_rate=0.01),
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


def command_line(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="benchmarks/explore_variants.py", description=__doc__.split("\n\n")[0])
    p.add_argument("landscape", choices=sorted(landscapes.LANDSCAPES), metavar="LANDSCAPE",
                   help=f"one of {', '.join(landscapes.LANDSCAPES)}")
    p.add_argument("variants", type=lambda text: text.split(","), metavar="VARIANT[,VARIANT...]",
                   help=f"of {', '.join(VARIANTS)}")
    p.add_argument("first_seed", type=int, metavar="FIRST_SEED")
    p.add_argument("stop_seed", type=int, metavar="STOP_SEED", help="the seeds FIRST_SEED..STOP_SEED - 1")
    args = p.parse_args(argv)
    unknown = [name for name in args.variants if name not in VARIANTS]
    if unknown or args.stop_seed <= args.first_seed:
        p.error(f"unknown variant {unknown[0]!r}" if unknown else "STOP_SEED must be above FIRST_SEED")
    try:
        main(args.landscape, args.variants, range(args.first_seed, args.stop_seed))
    except KeyboardInterrupt:  # the variants done are printed above
        print(f"\n{p.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(command_line())
