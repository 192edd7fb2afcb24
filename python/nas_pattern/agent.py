"""RLAgent: samples architectures from the controller RNN and improves it with REINFORCE.

`Agent` is the role the search loop talks to; `RandomAgent`, the simplest one, sits beside
the reinforcement-learning one for comparison.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Any, Literal

import torch

from nas_pattern.controller_rnn import ControllerRNN
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace

Baseline = Literal["ema", "critic", "none"]


@dataclass(frozen=True)
class AgentConfig:
    """Hyperparameters of the agent; every search uses one."""

    children_per_update: int = 4  # m: architectures sampled per policy update
    learning_rate: float = 0.01  # Adam step size of the controller
    entropy_weight: float = 1e-3  # bonus per nat of policy entropy; keeps the policy exploring
    baseline: Baseline = "ema"  # "ema" moving average, "critic" learned value (actor-critic), "none"
    baseline_decay: float = 0.9  # weight of the old value in the moving-average baseline
    critic_weight: float = 0.5  # weight of the critic's squared error in the loss (actor-critic)
    reward_clip: float | None = None  # clip each advantage to [-c, c]; None = no clipping
    epsilon: float = 0.0  # probability of a uniformly random choice per decision (exploration)
    grad_clip: float = 1.0  # maximum L2 norm of the controller's gradient per update
    hidden_size: int = 64  # LSTM width of the controller
    seed: int = 0  # seeds the sampling generator and the controller's initial weights

    def __post_init__(self) -> None:
        if self.children_per_update < 1:
            raise ValueError(f"children per update must be >= 1, got {self.children_per_update}")
        if self.baseline not in ("ema", "critic", "none"):
            raise ValueError(f"baseline must be ema, critic or none, got {self.baseline!r}")
        if not 0.0 <= self.epsilon < 1.0:
            raise ValueError(f"epsilon must be in [0, 1), got {self.epsilon}")
        if not 0.0 <= self.baseline_decay < 1.0:
            raise ValueError(f"baseline decay must be in [0, 1), got {self.baseline_decay}")
        if self.reward_clip is not None and self.reward_clip <= 0:
            raise ValueError(f"reward clip must be positive, got {self.reward_clip}")


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
        """The baseline: the accuracy the agent expects of its next sample (NaN while it has no estimate)."""

    @abc.abstractmethod
    def update_policy(self) -> dict[str, float]:
        """Learn from the rewarded samples since the last call; return statistics, with at
        least `entropy`: the policy's mean entropy per decision, normalised to [0, 1]."""

    @abc.abstractmethod
    def probability(self, architecture: Architecture) -> float:
        """How likely the policy is to sample `architecture` now."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the agent is (for checkpoints)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Return to a state taken by state_dict()."""


class RLAgent(Agent):
    """REINFORCE (Williams, 1992) over the controller RNN's decisions, with a baseline."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.controller = ControllerRNN(space.num_choices, self.config.hidden_size,
                                            critic=self.config.baseline == "critic")
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.config.learning_rate)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.baseline: float | None = None  # moving average of accuracy; None until the first reward
        self.pending: list[Sample] = []  # sampled since the last update, in order
        self.updates = 0

    def policy(self) -> Architecture:
        with torch.no_grad():
            rollout = self.controller(1, generator=self.generator, epsilon=self.config.epsilon)
        actions = rollout.actions[0].tolist()
        self.pending.append(Sample(actions))
        return self.space.decode(actions)

    def reward(self, metrics: Metrics) -> float:
        sample = next((s for s in self.pending if s.accuracy is None), None)
        if sample is None:
            raise RuntimeError("reward() called without a sample from policy() waiting for it")
        sample.accuracy = metrics.accuracy
        if self.config.baseline == "ema" and self.baseline is None:
            self.baseline = metrics.accuracy  # the first reward starts the average: its advantage is 0
        sample.advantage = _clip(metrics.accuracy - self.value_function(), self.config.reward_clip)
        if self.config.baseline == "ema":
            decay = self.config.baseline_decay
            self.baseline = decay * self.value_function() + (1 - decay) * metrics.accuracy
        return sample.advantage

    def value_function(self) -> float:
        if self.config.baseline == "critic":
            any_actions = torch.zeros(1, len(self.space.num_choices), dtype=torch.long)
            with torch.no_grad():
                values = self.controller(1, actions=any_actions).values
            assert values is not None
            return float(values[0, 0])  # before the first decision, which no action has influenced yet
        if self.config.baseline == "ema":
            return math.nan if self.baseline is None else self.baseline  # NaN: no estimate yet
        return 0.0

    def update_policy(self) -> dict[str, float]:
        """One REINFORCE step:  loss = -mean_b[ w_b * sum_t log pi(a_bt) * A_bt ] - beta * H + c * critic error."""
        batch = [s for s in self.pending if s.accuracy is not None]
        if not batch:
            return {}
        actions = torch.tensor([s.actions for s in batch])  # (B, T)
        accuracy = torch.tensor([s.accuracy for s in batch]).unsqueeze(1)  # (B, 1): the reward, at the end
        rollout = self.controller(len(batch), actions=actions, epsilon=self.config.epsilon)
        loss = torch.zeros(())
        if rollout.values is not None:  # actor-critic: a baseline per decision, V(choices so far)
            advantage = (accuracy - rollout.values).detach()  # (B, T)
            if self.config.reward_clip is not None:
                advantage = advantage.clamp(-self.config.reward_clip, self.config.reward_clip)
            loss = loss + self.config.critic_weight * (accuracy - rollout.values).pow(2).mean()
        else:  # the advantage reward() computed against the baseline of its time
            advantage = torch.tensor([s.advantage for s in batch]).unsqueeze(1)  # (B, 1)
        # Exploration draws actions from mu = (1 - eps) * pi + eps * uniform, not from pi. The
        # REINFORCE estimate is unbiased only for actions drawn from pi, so each sample is
        # weighted by pi(a) / mu(a) (importance sampling); with eps = 0 the weight is 1.
        weight = (rollout.log_probs.sum(1) - rollout.behaviour_log_probs.sum(1)).exp().detach()  # (B,)
        policy_loss = -(weight * (rollout.log_probs * advantage).sum(1)).mean()
        entropy = rollout.entropies.sum(1).mean()
        loss = loss + policy_loss - self.config.entropy_weight * entropy
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.controller.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.pending = [s for s in self.pending if s.accuracy is None]
        self.updates += 1
        return {"loss": float(loss.detach()), "entropy": _normalised_entropy(rollout.entropies, self.space),
                "mean_accuracy": float(accuracy.mean())}

    def probability(self, architecture: Architecture) -> float:
        actions = torch.tensor([self.space.encode(architecture)])
        with torch.no_grad():
            return float(self.controller(1, actions=actions).log_probs.sum().exp())

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy({
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "baseline": self.baseline,
            "pending": [dataclasses.asdict(s) for s in self.pending],
            "updates": self.updates,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        self.pending = [Sample(**s) for s in state["pending"]]
        self.updates = state["updates"]


class RandomAgent(Agent):
    """Uniform sampling, no learning: the baseline every search strategy must beat."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.rng = random.Random(self.config.seed)

    def policy(self) -> Architecture:
        return self.space.decode([self.rng.randrange(n) for n in self.space.num_choices])

    def reward(self, metrics: Metrics) -> float:
        return metrics.accuracy

    def value_function(self) -> float:
        return 0.0

    def update_policy(self) -> dict[str, float]:
        return {"entropy": 1.0}

    def probability(self, architecture: Architecture) -> float:
        return 1.0 / self.space.size

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])


@dataclass
class Sample:
    """An architecture the RLAgent drew, waiting for its reward and the next update."""

    actions: list[int]  # choice indices, one per decision
    accuracy: float | None = None  # set by reward()
    advantage: float = 0.0  # accuracy minus the baseline when it was rewarded (clipped)


def _clip(advantage: float, limit: float | None) -> float:
    return advantage if limit is None else max(-limit, min(limit, advantage))


def _normalised_entropy(entropies: torch.Tensor, space: SearchSpace) -> float:
    """Mean over decisions of entropy / log(choices): 1 = uniform, 0 = deterministic."""
    scale = torch.tensor([math.log(n) if n > 1 else 1.0 for n in space.num_choices])  # (T,)
    return float((entropies.detach() / scale).mean())
