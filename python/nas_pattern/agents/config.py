"""The settings of the agents, grouped by who reads them: every agent (AgentConfig), the objective
every agent rewards (Objective), the REINFORCE agent (ReinforceConfig), the evolution agent
(EvolutionConfig), random search (RandomConfig), TPE (TPEConfig). One AgentConfig holds the rest, so one value flows
from the CLI to any agent."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from nas_pattern.networks.base import Metrics, positive_int

Baseline = Literal["ema", "critic", "none"]
Reward = Literal["accuracy", "accuracy-size"]
REWARDS = ("accuracy", "accuracy-size")


@dataclass(frozen=True)
class Objective:
    """What the search maximises for a child: its accuracy, or the size-aware form of it."""

    reward: Reward = "accuracy"  # "accuracy", or "accuracy-size" (see __call__)
    target_params: int | None = None  # accuracy-size: the parameter count above which size costs reward
    # accuracy-size: the exponent w applied above the target (MnasNet's soft form)
    size_weight: float = -0.07

    def __post_init__(self) -> None:
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if self.reward == "accuracy-size" and (self.target_params is None or self.target_params < 1):
            raise ValueError(f"the accuracy-size reward needs a target parameter count >= 1, got {self.target_params}")
        if self.reward == "accuracy" and self.target_params is not None:
            raise ValueError("a target parameter count is for the accuracy-size reward; the accuracy reward "
                             "ignores size")
        if not (math.isfinite(self.size_weight) and self.size_weight < 0):
            raise ValueError(f"size weight must be a negative number (MnasNet uses -0.07), got {self.size_weight}")

    # --8<-- [start:objective]
    def __call__(self, metrics: Metrics) -> float:
        """What the search maximises for a child with these metrics (the reward before any baseline).

        accuracy:       its validation accuracy.
        accuracy-size:  accuracy * (params / target_params) ** w, with w = size_weight (-0.07) when
                        params > target_params and w = 0 otherwise: MnasNet's soft constraint (Tan et
                        al., 2019). At or under the target only accuracy counts; twice the target costs
                        about 5% of the accuracy, ten times about 15%.
        """
        if self.reward == "accuracy-size" and self.target_params is not None and metrics.params > self.target_params:
            return metrics.accuracy * (metrics.params / self.target_params) ** self.size_weight
        return metrics.accuracy
    # --8<-- [end:objective]


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyperparameters of the RLAgent (REINFORCE, its baseline, its policy network)."""

    learning_rate: float = 0.03  # Adam step size of the policy network (bench tune; benchmarks/explore.txt)
    entropy_weight: float = 1e-3  # bonus per nat of policy entropy; keeps the policy exploring
    # "ema" moving average; "critic" (actor-critic): that average plus a learned correction per decision; "none"
    baseline: Baseline = "ema"
    baseline_decay: float = 0.9  # weight of the old value in the moving-average baseline
    critic_weight: float = 0.5  # weight of the critic's squared error in the loss (actor-critic)
    reward_clip: float | None = None  # clip each advantage to [-c, c]; None = no clipping
    epsilon: float = 0.0  # probability of a uniformly random choice per decision (exploration)
    grad_clip: float = 1.0  # maximum L2 norm of the policy network's gradient per update
    hidden_size: int = 64  # LSTM width of the policy network
    # softmax temperature of the policy's heads; > 1 explores more (2 until replay: benchmarks/large.txt)
    temperature: float = 1.0
    # Draw only architectures this agent has not drawn before (sampling without replacement), so a
    # policy that has converged goes on to its most probable unseen neighbours instead of ending
    # the search on repeats (see RLAgent.policy).
    without_replacement: bool = True
    # Learning from its history, not only from the latest m samples: every update also learns from
    # the `replay` samples rewarded before them (importance-weighted replay: their advantage against
    # today's baseline, each weighted by min(1, pi_now / pi_then)); 0 = off (benchmarks/large.txt).
    replay: int = 32

    def __post_init__(self) -> None:
        if self.baseline not in ("ema", "critic", "none"):
            raise ValueError(f"baseline must be ema, critic or none, got {self.baseline!r}")
        if not 0.0 <= self.epsilon < 1.0:
            raise ValueError(f"epsilon must be in [0, 1), got {self.epsilon}")
        if not 0.0 <= self.baseline_decay < 1.0:
            raise ValueError(f"baseline decay must be in [0, 1), got {self.baseline_decay}")
        if self.reward_clip is not None and self.reward_clip <= 0:
            raise ValueError(f"reward clip must be positive, got {self.reward_clip}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not self.learning_rate > 0:  # 0 learns nothing; below it, the policy unlearns its rewards
            raise ValueError(f"learning rate must be > 0, got {self.learning_rate}")
        if not self.grad_clip > 0:
            raise ValueError(f"grad clip must be > 0, got {self.grad_clip}")
        for name in ("entropy_weight", "critic_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")
        if not positive_int(self.hidden_size):
            raise ValueError(f"hidden size must be a whole number >= 1, got {self.hidden_size!r}")
        if isinstance(self.replay, bool) or not isinstance(self.replay, int) or self.replay < 0:
            raise ValueError(f"replay must be a whole number of samples >= 0 (0 = off), got {self.replay!r}")


@dataclass(frozen=True)
class EvolutionConfig:
    """Hyperparameters of the EvolutionAgent (regularized evolution)."""

    population_size: int = 20  # architectures alive at once (the oldest dies first)
    tournament_size: int = 5  # architectures sampled to pick each parent
    # Give only architectures not given before (Agent.unseen): a mutation that gives one already
    # trained puts it back into the population with its score and is made again, so a settled
    # population goes on to new neighbours instead of spending the budget on repeats (NNI's
    # regularized evolution deduplicates by default).
    without_replacement: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.tournament_size <= self.population_size:
            raise ValueError(f"tournament size must be between 1 and the population size "
                             f"({self.population_size}), got {self.tournament_size}")


@dataclass(frozen=True)
class RandomConfig:
    """Settings of the RandomAgent (random search)."""

    # Draw uniformly among the architectures not drawn yet (Agent.unseen), so every child of the
    # budget is a different one; False draws with replacement.
    without_replacement: bool = True


@dataclass(frozen=True)
class TPEConfig:
    """Settings of the TPEAgent (Optuna's TPE sampler)."""

    # Give only architectures not given before (Agent.unseen): a trial that proposes one trained
    # before is told its score, as the cache's answer was, and the sampler is asked again, so its
    # model learns as it did from the repeats and no child of the budget is spent on one.
    without_replacement: bool = True


@dataclass(frozen=True)
class AgentConfig:
    """What every agent is built with: the settings all share, and each strategy's own."""

    children_per_update: int = 4  # m: architectures sampled per policy update
    seed: int = 0  # seeds the agent's sampling and its initial weights
    objective: Objective = field(default_factory=Objective)  # what every agent rewards
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)  # read by RLAgent
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)  # read by EvolutionAgent
    random: RandomConfig = field(default_factory=RandomConfig)  # read by RandomAgent
    tpe: TPEConfig = field(default_factory=TPEConfig)  # read by TPEAgent

    def __post_init__(self) -> None:
        if self.children_per_update < 1:
            raise ValueError(f"children per update must be >= 1, got {self.children_per_update}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentConfig:
        """As dataclasses.asdict() wrote it; also the flat form of config.json before the settings
        were grouped (one key per setting)."""
        # A run recorded before an agent sampled without replacement sampled with replacement
        # (REINFORCE's first versions; the other agents before 2026-12-06). One
        # recorded before replay did not replay, at the temperature of its time.
        before = {"without_replacement": False, "replay": 0, "temperature": 2.0}
        if "objective" in data:
            def group(kind: type, settings: dict[str, Any]) -> Any:  # one it lacks: as before it existed
                return kind(**{**{f.name: before[f.name] for f in fields(kind) if f.name in before}, **settings})
            return cls(children_per_update=data["children_per_update"], seed=data["seed"],
                       objective=Objective(**data["objective"]), reinforce=group(ReinforceConfig, data["reinforce"]),
                       evolution=group(EvolutionConfig, data["evolution"]),
                       random=group(RandomConfig, data.get("random", {})), tpe=group(TPEConfig, data.get("tpe", {})))
        data = {**before, **data}
        def part(kind: type) -> Any:
            return kind(**{f.name: data[f.name] for f in fields(kind) if f.name in data})
        return cls(children_per_update=data["children_per_update"], seed=data["seed"], objective=part(Objective),
                   reinforce=part(ReinforceConfig), evolution=part(EvolutionConfig), random=part(RandomConfig),
                   tpe=part(TPEConfig))
