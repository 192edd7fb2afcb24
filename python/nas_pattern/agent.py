"""RLAgent: samples architectures from the controller RNN and improves it with REINFORCE.

`Agent` is the role the search loop talks to. Beside the reinforcement-learning one sit the
alternatives it is measured against (`python -m nas_pattern.bench strategies`): `RandomAgent`,
`EvolutionAgent` (regularized evolution) and `TPEAgent` (Optuna's TPE sampler).
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import math
import pickle
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from nas_pattern.controller_rnn import ControllerRNN
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace

Baseline = Literal["ema", "critic", "none"]
Reward = Literal["accuracy", "accuracy-size"]
REWARDS = ("accuracy", "accuracy-size")
NO_SAMPLE = "reward() called without a sample from policy() waiting for it"  # every agent's refusal


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
    temperature: float = 2.0  # softmax temperature of the controller's heads; > 1 explores more (bench tune)
    population_size: int = 20  # EvolutionAgent: architectures alive at once (the oldest dies first)
    tournament_size: int = 5  # EvolutionAgent: architectures sampled to pick each parent
    seed: int = 0  # seeds the sampling generator and the controller's initial weights
    reward: Reward = "accuracy"  # what the search maximises: see objective()
    target_params: int | None = None  # accuracy-size: the parameter count above which size costs reward
    size_weight: float = -0.07  # accuracy-size: the exponent w applied above the target (MnasNet's soft form)

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
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 1 <= self.tournament_size <= self.population_size:
            raise ValueError(f"tournament size must be between 1 and the population size "
                             f"({self.population_size}), got {self.tournament_size}")

    # --8<-- [start:objective]
    def objective(self, metrics: Metrics) -> float:
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

    @abc.abstractmethod
    def probability(self, architecture: Architecture) -> float:
        """How likely the policy is to sample `architecture` now (NaN if the agent cannot say)."""

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
                                            critic=self.config.baseline == "critic",
                                            temperature=self.config.temperature)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.config.learning_rate)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.baseline: float | None = None  # moving average of the score; None until the first reward
        self.pending: list[Sample] = []  # sampled since the last update, in order
        self.updates = 0

    def policy(self) -> Architecture:
        with torch.no_grad():
            rollout = self.controller(1, generator=self.generator, epsilon=self.config.epsilon)
        actions = rollout.actions[0].tolist()
        self.pending.append(Sample(actions))
        return self.space.decode(actions)

    # --8<-- [start:rl_reward]
    def reward(self, metrics: Metrics) -> float:
        sample = next((s for s in self.pending if s.score is None), None)
        if sample is None:
            raise RuntimeError(NO_SAMPLE)
        sample.score = score = self.config.objective(metrics)  # the accuracy (size-weighted if asked)
        if self.config.baseline == "ema" and self.baseline is None:
            self.baseline = score  # the first reward starts the average: its advantage is 0
        sample.advantage = _clip(score - self.value_function(), self.config.reward_clip)
        if self.config.baseline == "ema":
            decay = self.config.baseline_decay
            self.baseline = decay * self.value_function() + (1 - decay) * score
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

    # --8<-- [end:rl_reward]
    # --8<-- [start:update_policy]
    def update_policy(self) -> dict[str, float]:
        """One REINFORCE step:  loss = -mean_b[ w_b * sum_t log pi(a_bt) * A_bt ] - beta * H + c * critic error."""
        batch = [s for s in self.pending if s.score is not None]
        if not batch:
            return {}
        actions = torch.tensor([s.actions for s in batch])  # (B, T)
        score = torch.tensor([s.score for s in batch]).unsqueeze(1)  # (B, 1): the reward, at the end
        rollout = self.controller(len(batch), actions=actions, epsilon=self.config.epsilon)
        loss = torch.zeros(())
        if rollout.values is not None:  # actor-critic: a baseline per decision, V(choices so far)
            advantage = (score - rollout.values).detach()  # (B, T)
            if self.config.reward_clip is not None:
                advantage = advantage.clamp(-self.config.reward_clip, self.config.reward_clip)
            loss = loss + self.config.critic_weight * (score - rollout.values).pow(2).mean()
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
            log_probs = self.controller(len(encodings), actions=actions).log_probs  # (B, T)
        return sum(float(log_probs[b, :len(e)].sum().exp()) for b, e in enumerate(encodings))

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
        # Checkpoints written before the size-aware reward called the score "accuracy".
        self.pending = [Sample(**{"score" if k == "accuracy" else k: v for k, v in s.items()})
                        for s in state["pending"]]
        self.updates = state["updates"]


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


# --8<-- [start:evolution]
class EvolutionAgent(Agent):
    """Regularized evolution (Real et al., 2019): a population of the last `population_size`
    evaluated architectures. Until it is full, samples are uniform; then each sample is a mutation
    of a tournament's winner (the best of `tournament_size` members drawn without replacement),
    changing one decision to another of its choices. The oldest member dies, whatever its accuracy."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.rng = random.Random(self.config.seed)
        self.population: deque[tuple[list[int], float]] = deque(maxlen=self.config.population_size)
        self.pending: deque[list[int]] = deque()  # sampled, waiting for their rewards, in order
        self.mutable = [t for t, n in enumerate(space.num_choices) if n > 1]  # steps a mutation can change
        self.exact = not (space.variable_depth or space.skip_connections)  # one way to sample each architecture

    def policy(self) -> Architecture:
        if len(self.population) + len(self.pending) < self.config.population_size or not self.mutable:
            actions = [self.rng.randrange(n) for n in self.space.num_choices]
        else:
            sample = sorted(self.rng.sample(range(len(self.population)), self.config.tournament_size))
            parent = max(sample, key=lambda i: self.population[i][1])  # the oldest of equals
            actions = list(self.population[parent][0])
            used = self.space.used_steps(actions)  # a change beyond them would give the parent again
            step = self.rng.choice([t for t in self.mutable if t < used])
            others = [c for c in range(self.space.num_choices[step]) if c != actions[step]]
            actions[step] = self.rng.choice(others)
        self.pending.append(actions)
        return self.space.decode(actions)

    def reward(self, metrics: Metrics) -> float:
        if not self.pending:
            raise RuntimeError(NO_SAMPLE)
        score = self.config.objective(metrics)
        self.population.append((self.pending.popleft(), score))
        return score

# --8<-- [end:evolution]
    def value_function(self) -> float:
        if not self.population:
            return math.nan
        return sum(accuracy for _, accuracy in self.population) / len(self.population)

    def update_policy(self) -> dict[str, float]:
        return {"entropy": diversity(self.space, [actions for actions, _ in self.population])}

    def probability(self, architecture: Architecture) -> float:
        if not self.exact:
            return math.nan  # several index sequences give one architecture: the sum below would miss some
        target = self.space.encode(architecture)
        size, k = len(self.population), self.config.tournament_size
        if size + len(self.pending) < self.config.population_size or not self.mutable:
            return 1.0 / self.space.size
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
                "pending": [list(p) for p in self.pending]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(state["rng"])
        self.population = deque(((list(a), float(r)) for a, r in state["population"]),
                                maxlen=self.config.population_size)
        self.pending = deque(list(a) for a in state["pending"])


class TPEAgent(Agent):
    """Optuna's Tree-structured Parzen Estimator driving the search through ask/tell: one trial
    per architecture, one categorical parameter per decision (its choice index). Needs the
    optional dependency optuna (`pip install 'nas-pattern[bench]'`)."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        try:
            import optuna
        except ImportError:
            raise ValueError("the tpe agent needs optuna: pip install optuna (or 'nas-pattern[bench]')") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(direction="maximize",
                                         sampler=optuna.samplers.TPESampler(seed=self.config.seed))
        self.pending: deque[Any] = deque()  # asked trials, waiting for their rewards, in order
        self.told: list[float] = []

    def policy(self) -> Architecture:
        trial = self.study.ask()
        actions = [trial.suggest_categorical(name, list(range(n)))
                   for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)]
        self.pending.append(trial)
        return self.space.decode(actions)

    def reward(self, metrics: Metrics) -> float:
        if not self.pending:
            raise RuntimeError(NO_SAMPLE)
        score = self.config.objective(metrics)
        self.study.tell(self.pending.popleft(), score)
        self.told.append(score)
        return score

    def value_function(self) -> float:
        return sum(self.told) / len(self.told) if self.told else math.nan

    def update_policy(self) -> dict[str, float]:
        recent = [list(t.params.values()) for t in self.study.trials[-self.config.population_size:]
                  if t.state.is_finished()]
        return {"entropy": diversity(self.space, recent)}

    def probability(self, architecture: Architecture) -> float:
        return math.nan  # TPE does not expose the density it samples from

    def state_dict(self) -> dict[str, Any]:
        return {"study": pickle.dumps(self.study), "pending": [t.number for t in self.pending],
                "told": list(self.told)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.study = pickle.loads(state["study"])
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        self.pending = deque(self._optuna.trial.Trial(self.study, trials[n]._trial_id) for n in state["pending"])
        self.told = list(state["told"])


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
