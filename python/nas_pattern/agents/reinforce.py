"""RLAgent: samples architectures from its policy network and improves it with REINFORCE."""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from nas_pattern.agents.base import NO_SAMPLE, Agent
from nas_pattern.agents.config import AgentConfig
from nas_pattern.agents.policy_network import PolicyNetwork
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import seeded


class RLAgent(Agent):
    """REINFORCE (Williams, 1992) over the policy network's decisions, with a baseline (`config.reinforce`)."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.settings = self.config.reinforce
        with seeded(self.config.seed):
            self.policy_network = PolicyNetwork(space.num_choices, self.settings.hidden_size,
                                                critic=self.settings.baseline == "critic",
                                                temperature=self.settings.temperature)
        self.optimizer = torch.optim.Adam(self.policy_network.parameters(), lr=self.settings.learning_rate)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.baseline: float | None = None  # moving average of the score; None until the first reward
        self.pending: list[Sample] = []  # sampled since the last update, in order
        self.updates = 0

    def policy(self) -> Architecture:
        with torch.no_grad():
            rollout = self.policy_network(1, generator=self.generator, epsilon=self.settings.epsilon)
        actions = rollout.actions[0].tolist()
        self.pending.append(Sample(actions))
        return self.space.decode(actions)

    # --8<-- [start:rl_reward]
    def reward(self, metrics: Metrics) -> float:
        sample = next((s for s in self.pending if s.score is None), None)
        if sample is None:
            raise RuntimeError(NO_SAMPLE)
        sample.score = score = self.config.objective(metrics)  # the accuracy (size-weighted if asked)
        if self.settings.baseline == "ema" and self.baseline is None:
            self.baseline = score  # the first reward starts the average: its advantage is 0
        sample.advantage = _clip(score - self.value_function(), self.settings.reward_clip)
        if self.settings.baseline == "ema":
            decay = self.settings.baseline_decay
            self.baseline = decay * self.value_function() + (1 - decay) * score
        return sample.advantage

    def value_function(self) -> float:
        if self.settings.baseline == "critic":
            any_actions = torch.zeros(1, len(self.space.num_choices), dtype=torch.long)
            with torch.no_grad():
                values = self.policy_network(1, actions=any_actions).values
            assert values is not None
            return float(values[0, 0])  # before the first decision, which no action has influenced yet
        if self.settings.baseline == "ema":
            return math.nan if self.baseline is None else self.baseline  # NaN: no estimate yet
        return 0.0

    # --8<-- [end:rl_reward]
    # --8<-- [start:update_policy]
    def update_policy(self) -> dict[str, float]:
        """One REINFORCE step:  loss = -mean_b[ w_b * sum_t log pi(a_bt) * A_bt ] - beta * H + c * critic error."""
        batch = [s for s in self.pending if s.score is not None]
        if not batch:
            return {}
        actions = torch.tensor([s.actions for s in batch])  # (B, T)
        score = torch.tensor([s.score for s in batch]).unsqueeze(1)  # (B, 1): the reward, at the end
        rollout = self.policy_network(len(batch), actions=actions, epsilon=self.settings.epsilon)
        loss = torch.zeros(())
        if rollout.values is not None:  # actor-critic: a baseline per decision, V(choices so far)
            advantage = (score - rollout.values).detach()  # (B, T)
            if self.settings.reward_clip is not None:
                advantage = advantage.clamp(-self.settings.reward_clip, self.settings.reward_clip)
            loss = loss + self.settings.critic_weight * (score - rollout.values).pow(2).mean()
        else:  # the advantage reward() computed against the baseline of its time
            advantage = torch.tensor([s.advantage for s in batch]).unsqueeze(1)  # (B, 1)
        # Exploration draws actions from mu = (1 - eps) * pi + eps * uniform, not from pi. The
        # REINFORCE estimate is unbiased only for actions drawn from pi, so each sample is
        # weighted by pi(a) / mu(a) (importance sampling); with eps = 0 the weight is 1.
        weight = (rollout.log_probs.sum(1) - rollout.behaviour_log_probs.sum(1)).exp().detach()  # (B,)
        policy_loss = -(weight * (rollout.log_probs * advantage).sum(1)).mean()
        entropy = rollout.entropies.sum(1).mean()
        loss = loss + policy_loss - self.settings.entropy_weight * entropy
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy_network.parameters(), self.settings.grad_clip)
        self.optimizer.step()
        self.pending = [s for s in self.pending if s.score is None]
        self.updates += 1
        return {"loss": float(loss.detach()), "entropy": _normalised_entropy(rollout.entropies, self.space),
                "mean_score": float(score.mean())}

    # --8<-- [end:update_policy]
    def probability(self, architecture: Architecture) -> float:
        # Summed over every way of sampling it; the steps after an encoding's used ones do not matter
        # (they come last, so they sum out to 1) and are left out of its product.
        encodings = self.space.encodings(architecture)
        steps = len(self.space.num_choices)
        actions = torch.tensor([e + [0] * (steps - len(e)) for e in encodings])  # (B, T)
        with torch.no_grad():
            log_probs = self.policy_network(len(encodings), actions=actions).log_probs  # (B, T)
        return sum(float(log_probs[b, :len(e)].sum().exp()) for b, e in enumerate(encodings))

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy({
            "policy_network": self.policy_network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "baseline": self.baseline,
            "pending": [dataclasses.asdict(s) for s in self.pending],
            "updates": self.updates,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # Checkpoints written before the policy network had its own name called it "controller".
        self.policy_network.load_state_dict(state["policy_network" if "policy_network" in state else "controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        # Checkpoints written before the size-aware reward called the score "accuracy".
        self.pending = [Sample(**{"score" if k == "accuracy" else k: v for k, v in s.items()})
                        for s in state["pending"]]
        self.updates = state["updates"]


@dataclass
class Sample:
    """An architecture the RLAgent drew, waiting for its reward and the next update."""

    actions: list[int]  # choice indices, one per decision
    score: float | None = None  # set by reward(): config.objective(metrics)
    advantage: float = 0.0  # the score minus the baseline when it was rewarded (clipped)


def _clip(advantage: float, limit: float | None) -> float:
    return advantage if limit is None else max(-limit, min(limit, advantage))


def _normalised_entropy(entropies: torch.Tensor, space: SearchSpace) -> float:
    """Mean over decisions of entropy / log(choices): 1 = uniform, 0 = deterministic."""
    scale = torch.tensor([math.log(n) if n > 1 else 1.0 for n in space.num_choices])  # (T,)
    return float((entropies.detach() / scale).mean())
